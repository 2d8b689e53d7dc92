"""What the bot tells its owner about Discord, at start-up and in `check`: the registered
commands against this version's tree, the servers the bot is in, a refused sync. Each finding is one
line with its fix (bot/checklist.py); start-up logs the ones that are not fine and never stops.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import discord

from bot.checklist import Finding, Mark, fail, invite_url, ok, warn
from bot.relay_probe import model_list

if TYPE_CHECKING:
    from bot.ui.client import BananaBot

log = logging.getLogger(__name__)

SYNC_FIX = "run python -m bot sync"
MISSING_ACCESS = 50001


def sync_error(exc: discord.HTTPException, guild_id: int | None, application_id: int | None) -> str:
    """One line for a refused sync: the cause and the fix (50001: the bot cannot see that server)."""
    where = f"server {guild_id}" if guild_id else "all servers"
    if exc.code == MISSING_ACCESS and guild_id:
        link = invite_url(application_id) if application_id else "the invite link in README.md"
        return (
            f"Could not sync to {where}: Discord answered Missing Access (50001): the bot is not in that "
            f"server, or was invited without the applications.commands scope: invite it with {link}"
        )
    return f"Could not sync to {where}: Discord answered {exc.status} (code {exc.code}): {exc.text}"


# --- the commands ---------------------------------------------------------------------------------


def _option_shape(option: Mapping[str, Any]) -> tuple[Any, ...]:
    return (
        option.get("name"),
        option.get("type"),
        option.get("description", ""),
        bool(option.get("required", False)),
        bool(option.get("autocomplete", False)),
        tuple(str(c.get("value")) for c in option.get("choices") or ()),
        tuple(_option_shape(o) for o in option.get("options") or ()),
    )


def command_shape(command: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a member sees of a command (name, kind, text, options), as both sides write it.

    Localizations are left out: Discord lists them only when asked.
    """
    return (
        command.get("name"),
        command.get("type", 1),
        command.get("description", ""),
        tuple(_option_shape(o) for o in command.get("options") or ()),
    )


async def tree_payload(bot: BananaBot) -> list[dict[str, Any]]:
    """The commands as `sync` would send them."""
    translator = bot.tree.translator
    commands = bot.tree.get_commands()
    if translator is None:
        return [c.to_dict(bot.tree) for c in commands]
    return [await c.get_translated_payload(bot.tree, translator) for c in commands]


def _difference(local: list[dict[str, Any]], remote: list[dict[str, Any]]) -> str:
    mine = {c["name"]: command_shape(c) for c in local}
    theirs = {c["name"]: command_shape(c) for c in remote}
    parts = []
    if missing := [n for n in mine if n not in theirs]:
        parts.append("missing " + ", ".join(missing))
    if changed := [n for n in mine if n in theirs and mine[n] != theirs[n]]:
        parts.append("changed " + ", ".join(changed))
    if extra := [n for n in theirs if n not in mine]:
        parts.append("not in this version " + ", ".join(extra))
    return "; ".join(parts)


async def command_findings(bot: BananaBot) -> list[Finding]:
    app_id = bot.application_id
    assert app_id is not None, "logged in"
    local = await tree_payload(bot)
    registered = await bot.http.get_global_commands(app_id)
    if not _difference(local, registered):
        return [ok(f"the {len(local)} slash commands are registered globally")]
    dev = bot.settings.dev_guild_id
    if dev:
        try:
            in_guild = await bot.http.get_guild_commands(app_id, dev)
        except discord.Forbidden as exc:
            if exc.code == MISSING_ACCESS:
                return [
                    fail(
                        f"DEV_GUILD_ID {dev}: the bot cannot see that server (Missing Access)",
                        f"invite the bot there with {invite_url(app_id)}, or correct DEV_GUILD_ID",
                    )
                ]
            raise
        if not _difference(local, in_guild):
            return [ok(f"the {len(local)} slash commands are registered in DEV_GUILD_ID {dev}")]
        if in_guild and not registered:
            return [
                fail(f"the commands in DEV_GUILD_ID {dev} differ: {_difference(local, in_guild)}", SYNC_FIX)
            ]
    if not registered:
        return [fail("no slash commands are registered, so members see none", SYNC_FIX)]
    return [
        fail(f"the registered commands differ from this version: {_difference(local, registered)}", SYNC_FIX)
    ]


async def guild_findings(bot: BananaBot) -> list[Finding]:
    app_id = bot.application_id
    guilds = [g async for g in bot.fetch_guilds(limit=200)]
    if not guilds:
        return [warn("the bot is in no server yet", f"invite it with {invite_url(app_id or 0)}")]
    names = ", ".join(g.name for g in guilds[:5]) + (" …" if len(guilds) > 5 else "")
    return [ok(f"the bot is in {len(guilds)} server{'s' if len(guilds) != 1 else ''}: {names}")]


# --- start-up -------------------------------------------------------------------------------------


async def startup_hints(bot: BananaBot) -> None:
    """The cheap checks, logged as warnings once the bot is up; they never stop it."""
    findings: list[Finding] = []
    for part in (command_findings, guild_findings):
        try:
            findings += await part(bot)
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
            log.info("A start-up check could not run (%s)", type(exc).__name__)
    listed = await model_list(bot.settings, bot.images.http)
    if listed.key_refused:
        findings.append(listed.finding)
    for finding in findings:
        if finding.mark is not Mark.OK:
            log.warning("%s", finding.line())
