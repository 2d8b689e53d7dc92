"""/history: the member's recent pictures, newest first, with jump links (private, paged)."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import NotAllowedToLook
from bot.ui.client import BananaBot
from bot.ui.history import HistoryButton, history_message
from bot.ui.translator import text as _
from bot.ui.who import member_of


class History(commands.Cog):
    def __init__(self, bot: BananaBot) -> None:
        self.bot = bot

    @app_commands.command(name="history", description=_("cmd.history.description"))
    @app_commands.describe(member=_("cmd.history.member"))
    async def history(
        self, interaction: discord.Interaction[BananaBot], member: discord.User | None = None
    ) -> None:
        viewer = member_of(interaction)
        whose = member.id if member is not None else viewer.user_id
        if whose != viewer.user_id and not viewer.is_moderator:
            raise NotAllowedToLook(f"history of {whose}")
        embed, view = await history_message(self.bot, interaction.locale.value, whose, 0)
        await interaction.response.send_message(embed=embed, view=view, ephemeral=True)


async def setup(bot: BananaBot) -> None:
    bot.add_dynamic_items(HistoryButton)
    await bot.add_cog(History(bot))
