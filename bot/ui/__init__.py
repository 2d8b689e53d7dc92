"""The Discord side: the client, the command tree, the sink that shows jobs, and the messages, buttons
and modals members see. The core (everything else under `bot/`) never imports from here."""
