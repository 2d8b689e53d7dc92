"""/imagine: a picture from a text prompt."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from bot.providers.base import Kind
from bot.ui.client import BananaBot
from bot.ui.flow import MAX_PROMPT, generate, model_autocomplete, ratio_autocomplete
from bot.ui.translator import text as _

SIZE_CHOICES = [Choice(name=_(f"choice.size.{s}"), value=s) for s in ("1K", "2K", "4K")]


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
    @app_commands.choices(size=SIZE_CHOICES)
    # The shapes offered follow the model picked: a list of every ratio would offer 1:8 to models
    # that refuse it.
    @app_commands.autocomplete(model=model_autocomplete, aspect_ratio=ratio_autocomplete)
    async def imagine(
        self,
        interaction: discord.Interaction[BananaBot],
        prompt: app_commands.Range[str, 1, MAX_PROMPT],
        model: str | None = None,
        aspect_ratio: str | None = None,
        size: str | None = None,
        count: app_commands.Range[int, 1, 4] = 1,
    ) -> None:
        await generate(
            interaction, Kind.IMAGINE, prompt, model=model, aspect_ratio=aspect_ratio, size=size, count=count
        )


async def setup(bot: BananaBot) -> None:
    await bot.add_cog(Imagine(bot))
