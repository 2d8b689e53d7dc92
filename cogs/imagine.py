"""/imagine: a picture from a text prompt."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from bot.client import BananaBot
from bot.providers.base import ALL_RATIOS
from bot.translator import text as _
from cogs.actions import action_view
from cogs.render import ProgressReporter, result_message

RATIO_CHOICES = [Choice(name=_(f"choice.ratio.{r}"), value=r) for r in ALL_RATIOS]
SIZE_CHOICES = [Choice(name=_(f"choice.size.{s}"), value=s) for s in ("1K", "2K", "4K")]
MAX_PROMPT = 4000
# Discord drops an autocomplete answer after 3 s; the relay's model list gets at most this long.
AUTOCOMPLETE_WAIT = 1.5


class Imagine(commands.Cog):
    def __init__(self, bot: BananaBot) -> None:
        self.bot = bot

    @app_commands.command(name="imagine", description=_("cmd.imagine.description"))
    @app_commands.describe(
        prompt=_("cmd.imagine.prompt"),
        model=_("cmd.imagine.model"),
        aspect_ratio=_("cmd.imagine.aspect_ratio"),
        size=_("cmd.imagine.size"),
        count=_("cmd.imagine.count"),
    )
    @app_commands.choices(aspect_ratio=RATIO_CHOICES, size=SIZE_CHOICES)
    async def imagine(
        self,
        interaction: discord.Interaction[BananaBot],
        prompt: app_commands.Range[str, 1, MAX_PROMPT],
        model: str | None = None,
        aspect_ratio: str | None = None,
        size: str | None = None,
        count: app_commands.Range[int, 1, 4] = 1,
    ) -> None:
        plan = self.bot.images.plan_imagine(prompt, model, aspect_ratio, size, count)
        await interaction.response.defer(thinking=True)
        delivery = await self.bot.images.run(
            plan,
            max_file_bytes=interaction.filesize_limit,
            progress=ProgressReporter(interaction, self.bot.catalog),
        )
        await interaction.edit_original_response(
            **result_message(delivery, self.bot.catalog, interaction.locale.value, interaction.user),
            view=await action_view(self.bot, delivery),
        )

    @imagine.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction[BananaBot], current: str
    ) -> list[Choice[str]]:
        routes = await self.bot.images.directory.suggestions(current, wait=AUTOCOMPLETE_WAIT)
        return [Choice(name=r.name, value=r.name) for r in routes[:25]]


async def setup(bot: BananaBot) -> None:
    await bot.add_cog(Imagine(bot))
