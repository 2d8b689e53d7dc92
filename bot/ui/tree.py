"""The command tree: turns every error a command can end in into one ephemeral, localized reply."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.errors import BotError, NotAllowed, UpstreamError, render_error
from bot.i18n import Catalog
from bot.jobs.access import is_allowed
from bot.ui.who import member_of

if TYPE_CHECKING:
    from bot.ui.client import BananaBot

log = logging.getLogger(__name__)


class BananaTree(app_commands.CommandTree["BananaBot"]):
    async def interaction_check(self, interaction: discord.Interaction[BananaBot], /) -> bool:
        """ALLOWED_GUILDS, ALLOWED_CHANNELS and ALLOWED_ROLES, for every command and menu."""
        if is_allowed(interaction.client.settings, member_of(interaction)):
            return True
        # discord.py drops a refused interaction silently; the member must still get an answer.
        if interaction.type is not discord.InteractionType.autocomplete:
            await report_error(interaction, NotAllowed())
        return False

    async def on_error(
        self, interaction: discord.Interaction[BananaBot], error: app_commands.AppCommandError
    ) -> None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        await report_error(interaction, original)


def message_for(error: BaseException, interaction: discord.Interaction[BananaBot]) -> str:
    return error_text(error, interaction.client.catalog, interaction.locale.value)


def error_text(error: BaseException, catalog: Catalog, locale: str) -> str:
    """The one place an error becomes the sentence a member reads."""
    if isinstance(error, BotError):
        return render_error(error, catalog, locale)
    if isinstance(error, app_commands.CommandOnCooldown):
        retry_at = math.ceil(time.time() + error.retry_after)
        return catalog.text("error.cooldown", locale, retry_at=retry_at)
    if isinstance(error, app_commands.CheckFailure):
        return catalog.text("error.not_allowed", locale)
    if isinstance(error, app_commands.TransformerError):
        return catalog.text("error.bad_option", locale, value=error.value)
    return catalog.text("error.unexpected", locale)


async def report_error(interaction: discord.Interaction[BananaBot], error: BaseException) -> None:
    """Log an error at the right level and tell the member privately, for commands and components."""
    log_error(_describe(interaction), error)
    await reply_privately(interaction, message_for(error, interaction))


def log_error(what: str, error: BaseException) -> None:
    if isinstance(error, BotError):
        level = logging.WARNING if isinstance(error, UpstreamError) else logging.INFO
        log.log(level, "%s ended in %s: %s", what, type(error).__name__, error)
    elif not isinstance(error, app_commands.AppCommandError):
        log.error("%s failed unexpectedly", what, exc_info=error)


def _describe(interaction: discord.Interaction) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    custom_id = (interaction.data or {}).get("custom_id")
    return f"component {custom_id}" if custom_id else f"interaction {interaction.type.name}"


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
