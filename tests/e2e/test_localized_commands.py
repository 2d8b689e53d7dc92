"""The registered commands as Discord receives them at sync: every text has its zh-CN localization,
within Discord's length rules (shared/discord.md: names 1-32, descriptions 1-100, choice names 1-100)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from bot.i18n import Catalog
from tests.fakes.discord import GUILD_ID, FakeDiscord

SLASH, MESSAGE_MENU = 1, 3
# Slash command and option names: lowercase, no spaces (Discord's CHAT_INPUT naming rule).
SLASH_NAME = re.compile(r"^[-_\w]{1,32}$")


def _texts(command: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(where, object, field) for each localizable text: descriptions and choice names."""
    yield command["name"], command, "description"
    for option in command.get("options") or []:
        where = f"{command['name']}.{option['name']}"
        yield where, option, "description"
        for choice in option.get("choices") or []:
            yield f"{where}={choice['value']}", choice, "name"


async def _synced(start_bot, discord_fake: FakeDiscord) -> list[dict[str, Any]]:
    await start_bot(dev_guild_id=int(GUILD_ID))
    await discord_fake.wait_for(lambda c: c.method == "PUT" and f"/guilds/{GUILD_ID}/commands" in c.path)
    return discord_fake.commands[GUILD_ID]


async def test_every_command_text_has_a_chinese_localization(start_bot, discord_fake: FakeDiscord) -> None:
    commands = await _synced(start_bot, discord_fake)
    chinese = Catalog.load()
    names = {c["name"] for c in commands}
    assert {"imagine", "edit", "blend", "models", "usage", "status", "history", "help"} <= names
    for command in commands:
        if command.get("type", SLASH) == MESSAGE_MENU:
            # A context menu has a name only: it is shown translated, Discord allows spaces and case.
            local = command["name_localizations"]["zh-CN"]
            assert 1 <= len(local) <= 32 and 1 <= len(command["name"]) <= 32
            assert local != command["name"]
            continue
        assert SLASH_NAME.match(command["name"]) and command["name"].isascii()
        assert not (command.get("name_localizations") or {}), "command names stay ASCII, in English"
        for where, item, field in _texts(command):
            english, local = item[field], (item.get(f"{field}_localizations") or {}).get("zh-CN")
            assert local, f"{where} has no zh-CN {field}"
            assert local != english, f"{where}: the zh-CN {field} is the English one"
            assert 1 <= len(english) <= 100 and 1 <= len(local) <= 100, where
            assert re.search(r"[\u4e00-\u9fff]", local), f"{where}: {local!r} is not Chinese"
        for option in command.get("options") or []:
            assert SLASH_NAME.match(option["name"]) and option["name"].isascii()
    menus = [c for c in commands if c.get("type") == MESSAGE_MENU]
    assert {m["name_localizations"]["zh-CN"] for m in menus} == {
        chinese.text("menu.edit", "zh-CN"),
        chinese.text("menu.blend", "zh-CN"),
    }
