"""`python -m bot check`: the settings, Discord (bot/ui/hints.py) and the image API
(bot/relay_probe.py), side by side, each finding one line with its fix. No picture is made.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
import discord

from bot.balance import Balance, BalanceWatcher
from bot.checklist import Finding, fail, ok, warn
from bot.config import Settings
from bot.http import HttpClient, RetryPolicy
from bot.pricing import money
from bot.redact import Redactor
from bot.relay_probe import gemini_auth_findings, model_findings, model_list
from bot.settings_hints import base_url_shape
from bot.ui.client import BananaBot
from bot.ui.hints import command_findings, guild_findings

# Three Discord steps (login, commands, servers) at 4 s each beside the image API's 10 s at most
# (model list and Gemini auth at once, 5 s each, then :countTokens): a hung service still ends
# the check within about 12 s.
DISCORD_TIMEOUT = 4.0
# Each probe of the image API is tried once: a check reports, it does not wait out back-offs.
PROBE_POLICY = RetryPolicy(attempts=1, base_delay=0.1, max_delay=0.1, deadline=10)


def base_url_findings(settings: Settings, raw: Mapping[str, str]) -> list[Finding]:
    """The base URL each format uses, and the `/v1` that was dropped from it, if any."""
    findings = []
    for name in ("API_BASE_URL", *(f"{p}_BASE_URL" for p in settings.overrides)):
        value = raw.get(name, "").strip()
        if not value:
            continue
        shape = base_url_shape(name, value)
        if shape.stripped:
            findings.append(
                ok(f"{name} is {shape.base} (the trailing {shape.stripped} is dropped: the bot adds it)")
            )
        else:
            findings.append(ok(f"{name} is {shape.base}"))
    if "API_BASE_URL" not in raw or not raw["API_BASE_URL"].strip():
        findings.insert(0, ok(f"API_BASE_URL is {settings.api_base_url} (the default: Google's Gemini API)"))
    return findings


async def discord_part(settings: Settings) -> list[Finding]:
    bot = BananaBot(settings, auto_sync=False, serve=False)
    async with bot:
        try:
            async with asyncio.timeout(DISCORD_TIMEOUT):
                await bot.login(settings.discord_token)
        except discord.LoginFailure:
            return [
                fail(
                    "Discord refused DISCORD_TOKEN",
                    "copy the bot token again from the Developer Portal (Bot page)",
                )
            ]
        except (aiohttp.ClientError, OSError, TimeoutError, discord.HTTPException) as exc:
            return [
                fail(
                    f"Discord cannot be reached ({type(exc).__name__})",
                    "check the network, or DISCORD_API_URL",
                )
            ]
        app = bot.application
        name = app.name if app else str(bot.user)
        findings = [ok(f"Discord accepts the token: application {name} (id {bot.application_id})")]
        for part in (command_findings, guild_findings):
            try:
                async with asyncio.timeout(DISCORD_TIMEOUT):
                    findings += await part(bot)
            except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as exc:
                findings.append(fail(f"Discord did not answer the check ({type(exc).__name__})", "try again"))
    return findings


async def relay_part(settings: Settings) -> list[Finding]:
    async with aiohttp.ClientSession() as session:
        http = HttpClient(session, Redactor(settings.secrets), PROBE_POLICY)
        listed, auth, others, balances = await asyncio.gather(
            model_list(settings, http),
            gemini_auth_findings(settings, http),
            asyncio.gather(*(model_list(settings, http, r.name) for r in settings.extra_relays)),
            BalanceWatcher(settings, http).check(),
        )
    return [
        listed.finding,
        *(other.finding for other in others),
        *model_findings(settings, listed),
        *auth,
        *(balance_finding(settings, b) for b in balances),
    ]


def balance_finding(settings: Settings, balance: Balance) -> Finding:
    """What is left on a relay's key, where the relay says; under LOW_BALANCE a warning."""
    where = f"relay {balance.relay}"
    if balance.unlimited:
        return ok(f"{where}: the key has no quota limit")
    if balance.remaining is None:
        return ok(f"{where}: balance unknown (the relay does not report it)")
    left = f"{where}: {money(balance.remaining)} {settings.currency} left"
    if settings.low_balance and balance.remaining < settings.low_balance:
        return warn(left, f"under LOW_BALANCE ({money(settings.low_balance)}): top it up")
    return ok(left)


async def run_check(settings: Settings, raw: Mapping[str, str]) -> list[Finding]:
    """Every check but the settings' own, Discord's and the image API's side by side."""
    head = [ok("settings are valid"), *base_url_findings(settings, raw)]
    discord_side, relay_side, journal, queue = await asyncio.gather(
        discord_part(settings), relay_part(settings), journal_part(settings), queue_part(settings)
    )
    return head + discord_side + relay_side + journal + queue


async def journal_part(settings: Settings) -> list[Finding]:
    """With DATABASE_URL: whether PostgreSQL answers, and how far its schema is (nothing changed)."""
    if not settings.database_url:
        return []
    from bot.postgres import StoreUnreachable, probe, where
    from bot.storage import MIGRATIONS

    try:
        version = await probe(settings.database_url)
    except StoreUnreachable as exc:
        return [fail(str(exc), "check the host, port, user, password and database name in DATABASE_URL")]
    place = f"PostgreSQL at {where(settings.database_url)}"
    if version > len(MIGRATIONS):
        return [fail(f"DATABASE_URL: {place} holds a newer schema ({version}) than this bot knows")]
    state = "up to date" if version == len(MIGRATIONS) else "brought up to date at the next start"
    return [ok(f"DATABASE_URL: {place} answers; its schema is {state}")]


async def queue_part(settings: Settings) -> list[Finding]:
    """With QUEUE_URL: whether the queue answers (one cheap call), and that gateways and workers
    also need DATABASE_URL. Nothing is queued or changed."""
    if not settings.queue_url:
        return []
    from bot.jobqueue import probe
    from bot.postgres import StoreUnreachable, where

    findings = []
    try:
        engine = await probe(settings.queue_url)
    except StoreUnreachable as exc:
        findings.append(fail(str(exc), "check the host, port, password and database in QUEUE_URL"))
    else:
        findings.append(ok(f"QUEUE_URL: {engine} at {where(settings.queue_url)} answers"))
    if not settings.database_url:
        findings.append(
            warn(
                "QUEUE_URL is set but DATABASE_URL is not: `python -m bot gateway` and `worker` need both "
                "(the one process, `python -m bot`, does not use QUEUE_URL)",
                "set DATABASE_URL=postgresql://… for gateway and worker processes",
            )
        )
    return findings
