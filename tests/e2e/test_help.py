"""/help: one private page in the member's language: commands, buttons, menus, mentions, and what
this server allows."""

from __future__ import annotations

import pytest

from bot.i18n import Catalog
from tests.e2e.helpers import EPHEMERAL
from tests.e2e.test_chinese import no_english, texts_in
from tests.fakes.discord import PLAIN_PERMISSIONS, FakeDiscord

CATALOG = Catalog.load()


async def help_page(discord_fake: FakeDiscord, locale: str) -> dict:
    sent = await discord_fake.send_interaction(
        discord_fake.slash("help", locale=locale, permissions=PLAIN_PERMISSIONS)
    )
    call = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    assert call.payload["type"] == 4 and call.payload["data"]["flags"] & EPHEMERAL, "private"
    (embed,) = call.payload["data"]["embeds"]
    return embed


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
async def test_help_explains_everything_and_what_this_server_allows(
    start_bot, discord_fake: FakeDiscord, locale: str
) -> None:
    await start_bot(user_daily_limit=5, guild_daily_limit=40, user_cooldown=30)
    embed = await help_page(discord_fake, locale)

    def t(key: str, **params: object) -> str:
        return CATALOG.text(key, locale, **params)

    assert embed["title"] == t("help.title", name="bananabot")
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert list(fields) == [
        t(k) for k in ("help.commands", "help.buttons", "help.menus", "help.mentions", "help.server")
    ]
    for command in ("imagine", "edit", "blend", "models", "usage", "status", "history"):
        assert f"`/{command}` — {t(f'cmd.{command}.description')}" in fields[t("help.commands")]
    assert t("button.reroll") in fields[t("help.buttons")] and "U1–U4" in fields[t("help.buttons")]
    assert t("menu.edit") in fields[t("help.menus")] and t("menu.blend") in fields[t("help.menus")]
    assert "@bananabot" in fields[t("help.mentions")]
    models = "gemini-2.5-flash-image, gemini-3-pro-image-preview, gemini-3.1-flash-image-preview"
    assert fields[t("help.server")].splitlines() == [
        t("help.models", models=models, default="gemini-2.5-flash-image"),
        t("help.user_limit", limit=5),
        t("help.guild_limit", limit=40),
        t("usage.cooldown", seconds="30"),
    ]
    if locale == "zh-CN":
        assert not no_english(list(texts_in(embed)))


async def test_help_without_limits_says_so(start_bot, discord_fake: FakeDiscord) -> None:
    await start_bot()
    embed = await help_page(discord_fake, "en-GB")
    server = embed["fields"][-1]["value"].splitlines()
    assert server[1:] == ["There is no daily limit."]


@pytest.mark.parametrize(("limit", "words"), [(1, "1 picture a day"), (2, "2 pictures a day")])
async def test_english_plural_forms_for_one_and_two(
    start_bot, discord_fake: FakeDiscord, limit: int, words: str
) -> None:
    await start_bot(user_daily_limit=limit)
    embed = await help_page(discord_fake, "en-US")
    assert f"Each member can make {words} (UTC)" in embed["fields"][-1]["value"]
