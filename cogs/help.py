"""/help: one private page on what the bot does here and how, in the member's language."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import Catalog
from bot.jobs.access import is_exempt
from bot.ui.client import BananaBot
from bot.ui.render import BANANA_YELLOW
from bot.ui.translator import text as _
from bot.ui.who import member_of

# The slash commands the page explains, each by its own description (translated with it).
COMMANDS = ("imagine", "edit", "blend", "models", "usage", "status", "history")
FIELD_LIMIT = 1024


class Help(commands.Cog):
    def __init__(self, bot: BananaBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description=_("cmd.help.description"))
    async def help(self, interaction: discord.Interaction[BananaBot]) -> None:
        embed = help_embed(
            self.bot, interaction.locale.value, is_exempt(self.bot.settings, member_of(interaction))
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)


def help_embed(bot: BananaBot, locale: str, exempt: bool) -> discord.Embed:
    catalog, name = bot.catalog, bot.user.display_name if bot.user else "bananabot"
    embed = discord.Embed(title=catalog.text("help.title", locale, name=name), colour=BANANA_YELLOW)
    commands_text = "\n".join(f"`/{c}` — {catalog.text(f'cmd.{c}.description', locale)}" for c in COMMANDS)
    menus = catalog.text(
        "help.menus_value",
        locale,
        edit=catalog.text("menu.edit", locale),
        blend=catalog.text("menu.blend", locale),
    )
    for heading, value in (
        ("help.commands", commands_text),
        ("help.buttons", _buttons(catalog, locale)),
        ("help.menus", menus),
        ("help.mentions", catalog.text("help.mentions_value", locale, name=name)),
        ("help.server", _allowed(bot, catalog, locale, exempt)),
    ):
        embed.add_field(name=catalog.text(heading, locale), value=value[:FIELD_LIMIT], inline=False)
    return embed


def _buttons(catalog: Catalog, locale: str) -> str:
    labels = {
        key: catalog.text(f"button.{key}", locale)
        for key in ("reroll", "vary", "vary_strong", "edit", "upscale", "zoom", "delete")
    }
    return catalog.text("help.buttons_value", locale, **labels)


def _allowed(bot: BananaBot, catalog: Catalog, locale: str, exempt: bool) -> str:
    settings = bot.settings
    lines = [
        catalog.text(
            "help.models", locale, models=bot.images.directory.listing(), default=settings.default_model
        )
    ]
    if exempt:
        lines.append(catalog.text("usage.exempt", locale))
    else:
        if settings.user_daily_limit:
            lines.append(catalog.text("help.user_limit", locale, limit=settings.user_daily_limit))
        if settings.guild_daily_limit:
            lines.append(catalog.text("help.guild_limit", locale, limit=settings.guild_daily_limit))
        if not (settings.user_daily_limit or settings.guild_daily_limit):
            lines.append(catalog.text("help.no_limit", locale))
        if settings.user_cooldown:
            lines.append(catalog.text("usage.cooldown", locale, seconds=f"{settings.user_cooldown:g}"))
    return "\n".join(lines)


async def setup(bot: BananaBot) -> None:
    await bot.add_cog(Help(bot))
