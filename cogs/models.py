"""/models: the image models members can use here, with the owner's note on each (MODEL_NOTES)
and what each can do, in the member's words."""

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
    """What a member can do with a model, in their words: pictures in and out, shapes, sizes."""
    parts = []
    if caps.max_input_images:
        parts.append(catalog.text("ability.inputs", locale, count=caps.max_input_images))
    else:
        parts.append(catalog.text("ability.no_inputs", locale))
    if caps.grid:
        parts.append(catalog.text("ability.grid", locale))
    elif caps.max_count > 1:
        parts.append(catalog.text("ability.count", locale, count=caps.max_count))
    if caps.exact_ratios:
        parts.append(catalog.text("ability.fixed_shapes", locale))
    else:
        parts.append(catalog.text("ability.ratios", locale, count=len(caps.aspect_ratios)))
    if caps.size_is_quality:
        parts.append(catalog.text("ability.quality", locale))
    elif caps.sizes:
        parts.append(catalog.text("ability.sizes", locale, sizes="/".join(caps.sizes)))
    return " · ".join(parts)


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
            # The relay's models are known by name only: what they can do is inferred from it.
            guessed = heading == "models.discovered"
            for chunk in _chunks(self._lines(routes, locale, guessed=guessed)):
                embed.add_field(name=name, value=chunk, inline=False)
                name = "\u200b"  # continuation fields carry no heading
        await interaction.edit_original_response(embed=embed)

    def _lines(self, routes: list[ModelRoute], locale: str, *, guessed: bool) -> list[str]:
        catalog, notes = self.bot.catalog, self.bot.settings.model_notes
        lines = []
        for route in routes[:MAX_LINES]:
            caps = self.bot.images.capabilities(route.name)
            head = f"• `{route.name}`"
            if route.name in notes:
                head += f" — {notes[route.name]}"
            can = abilities(caps, catalog, locale)
            if guessed:
                can += " " + catalog.text("models.guessed", locale)
            lines.append(f"{head}\n\u2003{can}")
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
