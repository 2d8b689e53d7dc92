"""The follow-up buttons under results: registered so Discord's presses reach them after a restart."""

from __future__ import annotations

from bot.ui.buttons import ActionButton
from bot.ui.client import BananaBot


async def setup(bot: BananaBot) -> None:
    bot.add_dynamic_items(ActionButton)
