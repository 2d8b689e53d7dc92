"""/models: the image models members can use here, with each one's format and abilities."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import Catalog
from bot.providers.base import Capabilities
from bot.routing import ModelRoute
from bot.ui.client import BananaBot
from bot.ui.render import BANANA_YELLOW
from bot.ui.translator import text as _

# Waiting this long for the relay's list is fine: the answer is deferred and private.
LIST_WAIT = 5.0
MAX_LINES = 30
FIELD_LIMIT = 1024


def abilities(caps: Capabilities, catalog: Catalog, locale: str) -> str:
    parts = [catalog.text("ability.text", locale)]
    if caps.max_input_images:
        parts.append(catalog.text("ability.inputs", locale, count=caps.max_input_images))
    else:
        parts.append(catalog.text("ability.no_inputs", locale))
    if caps.grid:
        parts.append(catalog.text("ability.grid", locale))
    elif caps.max_count > 1:
        parts.append(catalog.text("ability.count", locale, count=caps.max_count))
    if caps.sizes:
        parts.append(catalog.text("ability.sizes", locale, sizes="/".join(caps.sizes)))
    parts.append(catalog.text("ability.ratios", locale, count=len(caps.aspect_ratios)))
    return ", ".join(parts)


class Models(commands.Cog):
    def __init__(self, bot: BananaBot) -> None:
        self.bot = bot

    @app_commands.command(name="models", description=_("cmd.models.description"))
    async def models(self, interaction: discord.Interaction[BananaBot]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        directory = self.bot.images.directory
        await directory.suggestions("", wait=LIST_WAIT)
        catalog, locale = self.bot.catalog, interaction.locale.value
        embed = discord.Embed(
            title=catalog.text("models.title", locale),
            description=catalog.text("models.default", locale, model=self.bot.settings.default_model),
            colour=BANANA_YELLOW,
        )
        for heading, routes in (
            ("models.configured", directory.configured()),
            ("models.discovered", directory.discovered()),
        ):
            name = catalog.text(heading, locale)
            for chunk in _chunks(self._lines(routes, locale)):
                embed.add_field(name=name, value=chunk, inline=False)
                name = "\u200b"  # continuation fields carry no heading
        await interaction.edit_original_response(embed=embed)

    def _lines(self, routes: list[ModelRoute], locale: str) -> list[str]:
        catalog = self.bot.catalog
        lines = []
        for route in routes[:MAX_LINES]:
            caps = self.bot.images.capabilities(route.name)
            line = catalog.text(
                "models.line",
                locale,
                model=f"`{route.name}`",
                format=route.format,
                abilities=abilities(caps, catalog, locale),
            )
            lines.append(f"• {line}")
        if len(routes) > MAX_LINES:
            lines.append(catalog.text("models.more", locale, count=len(routes) - MAX_LINES))
        return lines


def _chunks(lines: list[str]) -> list[str]:
    """Join lines into embed field values of at most 1024 characters each."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = line[:FIELD_LIMIT]
        if current and len(current) + 1 + len(line) > FIELD_LIMIT:
            chunks.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


async def setup(bot: BananaBot) -> None:
    await bot.add_cog(Models(bot))
