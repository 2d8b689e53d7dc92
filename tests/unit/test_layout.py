"""Structural rules: the core stays free of Discord, and every command is one Discord accepts."""

from __future__ import annotations

import re
import subprocess
import sys

import discord
from discord import app_commands

from bot.config import Settings
from bot.ui.client import EXTENSIONS, BananaBot
from tests.conftest import SOURCE_ROOT

ROOT = SOURCE_ROOT
# The Discord side lives in bot/ui/ and cogs/; `python -m bot` starts it. Everything else is core.
DISCORD_SIDE = ("bot.ui", "bot.__main__")


def core_modules() -> list[str]:
    names = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        if not any(name == side or name.startswith(f"{side}.") for side in DISCORD_SIDE):
            names.append(name)
    return names


CORE = core_modules()


def test_the_core_list_is_read_from_the_tree() -> None:
    assert {"bot.config", "bot.jobs.engine", "bot.providers.registry", "bot.request"} <= set(CORE)
    assert not [m for m in CORE if m.startswith("bot.ui")]


def test_core_modules_do_not_import_discord() -> None:
    code = f"import sys; import {', '.join(CORE)}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'discord'))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=SOURCE_ROOT
    )
    assert result.stdout.strip() == "[]"


async def test_every_command_payload_is_valid() -> None:
    bot = BananaBot(Settings(discord_token="t", api_key="k"))
    async with bot:
        for extension in EXTENSIONS:
            await bot.load_extension(extension)
        commands = bot.tree.get_commands()
        assert {c.name for c in commands} == {
            "imagine",
            "edit",
            "blend",
            "models",
            "usage",
            "status",
            "history",
            "help",
            "Edit image",
            "Blend images",
        }
        menus = [c for c in commands if not isinstance(c, app_commands.Command)]
        assert [(m.name, m.type) for m in menus] == [
            ("Edit image", discord.AppCommandType.message),
            ("Blend images", discord.AppCommandType.message),
        ]
        for command in [c for c in commands if isinstance(c, app_commands.Command)]:
            payload = command.to_dict(bot.tree)
            assert (
                re.fullmatch(r"[-_\w]{1,32}", payload["name"]) and payload["name"] == payload["name"].lower()
            )
            assert 1 <= len(payload["description"]) <= 100
            assert len(payload["options"]) <= 25
            for option in payload["options"]:
                assert re.fullmatch(r"[-_\w]{1,32}", option["name"])
                assert 1 <= len(option["description"]) <= 100, option
                assert len(option.get("choices", [])) <= 25
                assert all(1 <= len(c["name"]) <= 100 for c in option.get("choices", []))
            assert len(str(payload)) < 8000


def test_bot_is_configured_never_to_ping() -> None:
    bot = BananaBot(Settings(discord_token="t", api_key="k"))
    assert bot.allowed_mentions is not None
    assert bot.allowed_mentions.to_dict() == {"parse": []}
    assert not bot.intents.message_content, "the privileged intent is not needed"
