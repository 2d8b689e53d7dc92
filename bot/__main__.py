"""`python -m bot` runs the bot; `sync` registers its commands, `check` tests the setup, and
`imagine`, `edit` and `models` use the image API from the command line, without Discord;
`migrate-store --to postgresql://…` copies the SQLite journal into PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import discord
from dotenv import dotenv_values

from bot.checklist import fail, warn
from bot.cli import CLI_COMMANDS, add_cli_commands, run_cli
from bot.config import SETTINGS, ConfigError, Settings
from bot.postgres import StoreUnreachable
from bot.redact import Redactor, setup_logging
from bot.scaleout import Role, split_problem
from bot.settings_hints import RELAY_SETTING, env_file_keys, unknown_keys
from bot.storage import data_dir_problem
from bot.ui.client import BananaBot, use_discord_endpoints
from bot.ui.hints import sync_error
from bot.ui.setup_check import run_check

log = logging.getLogger("bot")

EXIT_CONFIG = 2
EXIT_UNREACHABLE = 1
ENV_FILE = Path(".env")
TOKEN_REFUSED = "DISCORD_TOKEN was refused by Discord: copy the bot token again from the Developer Portal"  # noqa: S105
ONE_PROCESS_QUEUE = (
    "QUEUE_URL is used only by `python -m bot gateway` and `python -m bot worker`: "
    "this one process runs its jobs itself and leaves the queue alone"
)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="bananabot, an image bot for Discord")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="connect to Discord and serve commands (the default)")
    sub.add_parser(
        "gateway",
        help="scaling out: answer Discord and hand the jobs to workers (DATABASE_URL and QUEUE_URL)",
    )
    sub.add_parser("worker", help="scaling out: run the jobs gateways hand over (DATABASE_URL and QUEUE_URL)")
    sync = sub.add_parser("sync", help="register the slash commands with Discord, then exit")
    sync.add_argument("--guild", type=int, metavar="ID", help="only this server (instant), not globally")
    sync.add_argument(
        "--clear",
        action="store_true",
        help="remove the commands instead (with --guild: that server's copies)",
    )
    sync.add_argument("--yes", action="store_true", help="confirm --clear without --guild (every server)")
    sub.add_parser("check", help="check the settings, Discord and the image API (no picture is made)")
    add_cli_commands(sub)
    move = sub.add_parser(
        "migrate-store", help="copy the SQLite journal in DATA_DIR into PostgreSQL (run with the bot stopped)"
    )
    move.add_argument("--to", required=True, metavar="URL", help="postgresql://user:password@host:port/db")
    return parser.parse_args(argv)


def _load_settings(command: str | None) -> Settings:
    # `sync` talks to Discord only, the command line to the image API only.
    # `migrate-store` needs only DATA_DIR.
    settings = Settings.from_env(
        needs_token=command not in (*CLI_COMMANDS, "migrate-store"),
        needs_api=command not in ("sync", "migrate-store"),
    )
    if command in CLI_COMMANDS:
        return settings
    problems: list[str] = []
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        problems.append(f"DATA_DIR '{settings.data_dir}' cannot be created: {exc.strerror}")
    else:
        problem = data_dir_problem(settings.data_dir)
        if problem:
            problems.append(problem)
    if problems:
        raise ConfigError(problems)
    return settings


async def _run(settings: Settings, role: Role = Role.ALL) -> int:
    bot = BananaBot(settings, role=role)
    loop = asyncio.get_running_loop()
    stopping: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda s=sig: _request_stop(bot, s, stopping))
    async with bot:
        try:
            await bot.start(settings.discord_token)
        except discord.LoginFailure:
            print(TOKEN_REFUSED, file=sys.stderr)
            return EXIT_CONFIG
        except StoreUnreachable as exc:
            print(exc, file=sys.stderr)
            return EXIT_UNREACHABLE
        except (aiohttp.ClientError, discord.HTTPException, OSError) as exc:
            if not stopping:
                # Start-up talks to Discord only; a stop signal in the middle cuts that off on purpose.
                print(f"Could not reach Discord: {exc.__class__.__name__}: {exc}", file=sys.stderr)
                return EXIT_UNREACHABLE
        except Exception:
            # A stop signal while the gateway connection opens closes its session under it, and
            # aiohttp may then fail the open with an AssertionError rather than a ClientError.
            if not stopping:
                raise
    log.info("Stopped")
    return 0


async def _work(settings: Settings) -> int:
    """A worker: logged in over REST only (no gateway connection), running jobs until a signal."""
    bot = BananaBot(settings, role=Role.WORKER, auto_sync=False)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(
            sig, lambda s=sig: (log.info("Received %s, shutting down", s.name), stop.set())
        )
    async with bot:
        try:
            await bot.login(settings.discord_token)
        except discord.LoginFailure:
            print(TOKEN_REFUSED, file=sys.stderr)
            return EXIT_CONFIG
        except StoreUnreachable as exc:
            print(exc, file=sys.stderr)
            return EXIT_UNREACHABLE
        except (aiohttp.ClientError, discord.HTTPException, OSError) as exc:
            print(f"Could not reach Discord: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        log.info("Worker ready")
        await stop.wait()
    log.info("Stopped")
    return 0


def _request_stop(bot: BananaBot, sig: signal.Signals, stopping: list[signal.Signals]) -> None:
    log.info("Received %s, shutting down", sig.name)
    stopping.append(sig)
    asyncio.get_running_loop().create_task(bot.close())


async def _sync(settings: Settings, guild_id: int | None, clear: bool) -> int:
    bot = BananaBot(settings, auto_sync=False, serve=False)
    async with bot:
        try:
            await bot.login(settings.discord_token)
        except discord.LoginFailure:
            print(TOKEN_REFUSED, file=sys.stderr)
            return EXIT_CONFIG
        except (aiohttp.ClientError, OSError) as exc:
            print(f"Could not reach Discord: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        guild = discord.Object(guild_id) if guild_id else None
        if clear:
            bot.tree.clear_commands(guild=guild)
        elif guild is not None:
            bot.tree.copy_global_to(guild=guild)
        try:
            synced = await bot.tree.sync(guild=guild)
        except discord.HTTPException as exc:
            print(sync_error(exc, guild_id, bot.application_id), file=sys.stderr)
            return EXIT_UNREACHABLE
    where = f"server {guild_id}" if guild_id else "all servers (global)"
    names = ", ".join(f"/{c.name}" if c.type is discord.AppCommandType.chat_input else c.name for c in synced)
    print(f"Synced {len(synced)} commands to {where}: {names or 'none'}")
    return 0


def _raw_values() -> dict[str, str]:
    """The settings as written (the environment over `.env`), for what `check` reports about them."""
    written = dotenv_values(ENV_FILE) if ENV_FILE.is_file() else {}
    return {**{k: v for k, v in written.items() if v is not None}, **os.environ}


def _env_warnings() -> list[str]:
    keys = env_file_keys(ENV_FILE)
    return unknown_keys([k for k in keys if not RELAY_SETTING.match(k)], [s.name for s in SETTINGS])


async def _check(settings: Settings) -> int:
    started = time.monotonic()
    findings = [warn(w) for w in _env_warnings()] + await run_check(settings, _raw_values())
    for finding in findings:
        print(finding.line())
    failed = sum(f.failed for f in findings)
    seconds = time.monotonic() - started
    if failed:
        print(f"{failed} of {len(findings)} checks failed ({seconds:.2f} s)")
        return EXIT_UNREACHABLE
    print(f"All {len(findings)} checks passed ({seconds:.2f} s)")
    return 0


async def _migrate_store(settings: Settings, url: str) -> int:
    from bot.migrate_store import MigrationRefused, migrate_store

    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        print("--to must be a postgresql:// URL: postgresql://user:password@host:port/db", file=sys.stderr)
        return EXIT_CONFIG
    try:
        copied = await migrate_store(settings.data_dir, url)
    except StoreUnreachable as exc:
        print(exc, file=sys.stderr)
        return EXIT_UNREACHABLE
    except MigrationRefused as exc:
        print(f"Nothing was copied: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    for one in copied:
        print(f"{one.table}: {one.rows} rows copied ({one.already} were there from an earlier run)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    if args.command == "sync" and args.clear and not args.guild and not args.yes:
        print(
            "sync --clear without --guild removes the bot's commands from every server: "
            "run it again with --yes to do that",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    try:
        settings = _load_settings(args.command)
    except ConfigError as exc:
        # A typo in .env may be the very reason a setting is missing: say it first.
        warnings = _env_warnings()
        if args.command == "check":
            for warning in warnings:
                print(warn(warning).line())
            for problem in exc.problems:
                print(fail(problem).line())
            print(f"{len(exc.problems)} settings are wrong: the other checks need them")
            return EXIT_UNREACHABLE
        for line in [*warnings, *exc.problems]:
            print(line, file=sys.stderr)
        return EXIT_CONFIG
    # A check prints its findings; the expected refusals of its probes need no log lines.
    level = "ERROR" if args.command == "check" else settings.log_level
    setup_logging(level, Redactor(settings.secrets), settings.log_format)
    if args.command != "check":
        for warning in _env_warnings():
            log.warning("%s", warning)
    if args.command in (None, "run") and settings.queue_url:
        # An owner who set up the queue but started the one process would otherwise wonder why
        # nothing reaches it.
        log.warning("%s", ONE_PROCESS_QUEUE)
    use_discord_endpoints(settings.discord_api_url, settings.discord_gateway_url)
    if args.command == "migrate-store":
        return asyncio.run(_migrate_store(settings, args.to))
    if args.command == "sync":
        return asyncio.run(_sync(settings, args.guild, args.clear))
    if args.command == "check":
        return asyncio.run(_check(settings))
    if args.command in CLI_COMMANDS:
        return asyncio.run(run_cli(settings, args))
    if args.command in ("gateway", "worker"):
        role = Role(args.command)
        problem = split_problem(settings, role)
        if problem:
            print(problem, file=sys.stderr)
            return EXIT_CONFIG
        return asyncio.run(_work(settings) if role is Role.WORKER else _run(settings, role))
    return asyncio.run(_run(settings))


if __name__ == "__main__":
    sys.exit(main())
