"""discord.py extensions: the slash commands and their UI. Thin: parse, defer, call the core, render."""
