"""`python -m bot` runs the bot; `python -m bot sync [--guild ID] [--clear]` registers its commands;
`python -m bot migrate-store --to postgresql://…` copies the SQLite journal into PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from urllib.parse import urlsplit

import aiohttp
import discord

from bot.config import ConfigError, Settings
from bot.postgres import StoreUnreachable
from bot.redact import Redactor, setup_logging
from bot.storage import data_dir_problem
from bot.ui.client import BananaBot, use_discord_endpoints

log = logging.getLogger("bot")

EXIT_CONFIG = 2
EXIT_UNREACHABLE = 1


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="bananabot, an image bot for Discord")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="connect to Discord and serve commands (the default)")
    sync = sub.add_parser("sync", help="register the slash commands with Discord, then exit")
    sync.add_argument("--guild", type=int, metavar="ID", help="only this server (instant), not globally")
    sync.add_argument(
        "--clear",
        action="store_true",
        help="remove the commands instead (with --guild: that server's copies)",
    )
    move = sub.add_parser(
        "migrate-store", help="copy the SQLite journal in DATA_DIR into PostgreSQL (run with the bot stopped)"
    )
    move.add_argument("--to", required=True, metavar="URL", help="postgresql://user:password@host:port/db")
    return parser.parse_args(argv)


def _load_settings() -> Settings:
    settings = Settings.from_env()
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


async def _run(settings: Settings) -> int:
    bot = BananaBot(settings)
    loop = asyncio.get_running_loop()
    stopping: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda s=sig: _request_stop(bot, s, stopping))
    async with bot:
        try:
            await bot.start(settings.discord_token)
        except discord.LoginFailure:
            print(
                "DISCORD_TOKEN was refused by Discord: copy the bot token again from the Developer Portal",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        except StoreUnreachable as exc:
            print(exc, file=sys.stderr)
            return EXIT_UNREACHABLE
        except (aiohttp.ClientError, discord.HTTPException, OSError) as exc:
            if not stopping:
                # Start-up talks to Discord only; a stop signal in the middle cuts that off on purpose.
                print(f"Could not reach Discord: {exc.__class__.__name__}: {exc}", file=sys.stderr)
                return EXIT_UNREACHABLE
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
            print(
                "DISCORD_TOKEN was refused by Discord: copy the bot token again from the Developer Portal",
                file=sys.stderr,
            )
            return EXIT_CONFIG
        except (aiohttp.ClientError, OSError) as exc:
            print(f"Could not reach Discord: {exc.__class__.__name__}: {exc}", file=sys.stderr)
            return EXIT_UNREACHABLE
        guild = discord.Object(guild_id) if guild_id else None
        if clear:
            bot.tree.clear_commands(guild=guild)
        elif guild is not None:
            bot.tree.copy_global_to(guild=guild)
        synced = await bot.tree.sync(guild=guild)
    where = f"server {guild_id}" if guild_id else "all servers (global)"
    names = ", ".join(f"/{c.name}" if c.type is discord.AppCommandType.chat_input else c.name for c in synced)
    print(f"Synced {len(synced)} commands to {where}: {names or 'none'}")
    return 0


async def _migrate_store(settings: Settings, url: str) -> int:
    from bot.migrate_store import MigrationRefused, migrate_store

    if urlsplit(url).scheme not in ("postgresql", "postgres"):
        print(
            "--to must be a postgresql:// URL (postgresql://user:password@host:port/database)",
            file=sys.stderr,
        )
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
    try:
        settings = _load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(settings.log_level, Redactor(settings.secrets))
    use_discord_endpoints(settings.discord_api_url, settings.discord_gateway_url)
    if args.command == "migrate-store":
        return asyncio.run(_migrate_store(settings, args.to))
    if args.command == "sync":
        return asyncio.run(_sync(settings, args.guild, args.clear))
    return asyncio.run(_run(settings))


if __name__ == "__main__":
    sys.exit(main())
