"""The command tree: turns every error a command can end in into one ephemeral, localized reply."""

from __future__ import annotations

import contextlib
import datetime
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.errors import BotError, UpstreamError, render_error

if TYPE_CHECKING:
    from bot.client import BananaBot

log = logging.getLogger(__name__)


class BananaTree(app_commands.CommandTree["BananaBot"]):
    async def on_error(
        self, interaction: discord.Interaction[BananaBot], error: app_commands.AppCommandError
    ) -> None:
        catalog = interaction.client.catalog
        locale = interaction.locale.value
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        command = interaction.command.qualified_name if interaction.command else "?"
        if isinstance(original, BotError):
            level = logging.WARNING if isinstance(original, UpstreamError) else logging.INFO
            log.log(level, "/%s ended in %s: %s", command, type(original).__name__, original)
            message = render_error(original, catalog, locale)
        elif isinstance(original, app_commands.CommandOnCooldown):
            when = discord.utils.utcnow() + datetime.timedelta(seconds=original.retry_after)
            message = catalog.text("error.cooldown", locale, when=discord.utils.format_dt(when, "R"))
        elif isinstance(original, app_commands.CheckFailure):
            message = catalog.text("error.not_allowed", locale)
        elif isinstance(original, app_commands.TransformerError):
            message = catalog.text("error.bad_option", locale, value=original.value)
        else:
            log.error("/%s failed unexpectedly", command, exc_info=original)
            message = catalog.text("error.unexpected", locale)
        await reply_privately(interaction, message)


async def reply_privately(interaction: discord.Interaction, message: str) -> None:
    """Answer with an ephemeral message whatever state the interaction is in; never raise."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(message, ephemeral=True)
            return
        if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
            # A public "is thinking…" placeholder would stay forever; remove it so the error
            # can be private.
            with contextlib.suppress(discord.NotFound):
                await interaction.delete_original_response()
        await interaction.followup.send(message, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("Could not tell the member about an error (%s %s)", exc.status, exc.code)
