"""The buttons under results (the bot's own and a task API's): registered so that presses reach them
after a restart."""

from __future__ import annotations

from bot.ui.buttons import ActionButton
from bot.ui.client import BananaBot
from bot.ui.result_buttons import ResultButton


async def setup(bot: BananaBot) -> None:
    bot.add_dynamic_items(ActionButton, ResultButton)
