"""One base for every button and modal: the owner's allowlists apply, and any error becomes the one
private message the member reads.

The command tree's `interaction_check` sees commands and menus only; component and modal
interactions reach the bot through these bases, so none of them can skip the ALLOWED_* lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.errors import NotAllowed
from bot.jobs.access import is_allowed
from bot.ui.tree import report_error
from bot.ui.who import member_of

if TYPE_CHECKING:
    from bot.ui.client import BananaBot


def check_allowed(interaction: discord.Interaction[BananaBot]) -> None:
    if not is_allowed(interaction.client.settings, member_of(interaction)):
        raise NotAllowed()


class GuardedButton:
    """Mix in before `discord.ui.DynamicItem[discord.ui.Button]`; implement `pressed`."""

    async def callback(self, interaction: discord.Interaction[BananaBot]) -> None:
        try:
            check_allowed(interaction)
            await self.pressed(interaction)
        except Exception as exc:
            await report_error(interaction, exc)

    async def pressed(self, interaction: discord.Interaction[BananaBot]) -> None:
        raise NotImplementedError


class GuardedModal(discord.ui.Modal):
    """A modal whose submission is checked like a command; implement `submitted`."""

    async def on_submit(self, interaction: discord.Interaction[BananaBot]) -> None:  # type: ignore[override]
        check_allowed(interaction)
        await self.submitted(interaction)

    async def submitted(self, interaction: discord.Interaction[BananaBot]) -> None:
        raise NotImplementedError

    async def on_error(self, interaction: discord.Interaction[BananaBot], error: Exception) -> None:  # type: ignore[override]
        await report_error(interaction, error)
