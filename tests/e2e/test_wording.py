"""The texts that misled members (issue 13), in English and in Chinese: each expected text is
rendered from the catalog's keys in the member's language."""

from __future__ import annotations

from typing import Any

import pytest

from bot.i18n import Catalog
from bot.routing import parse_models
from tests.e2e.helpers import card_texts, imagine, private_error, wait_result
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay

CATALOG = Catalog.load()
MODELS = "gemini-2.5-flash-image,gpt-image-1,dall-e-3,gpt-4o-image,midjourney"
LOCALES = pytest.mark.parametrize("locale", ["en-US", "zh-CN"])


@pytest.fixture
def start(start_bot):
    async def start(**changes: Any):
        changes.setdefault("models", tuple(parse_models(MODELS)))
        changes.setdefault("mj_poll_seconds", 0.01)
        return await start_bot(**changes)

    return start


@LOCALES
async def test_a_dead_picture_link_from_a_chat_model_says_the_download_failed(
    start, discord_fake: FakeDiscord, relay: FakeRelay, locale: str
) -> None:
    await start()
    relay.queue("chat_dead_link")
    sent = await imagine(discord_fake, prompt="a harbour", model="gpt-4o-image", locale=locale)
    text = await private_error(discord_fake, sent)
    assert text == CATALOG.text("error.result_download_failed", locale)
    assert "http" not in text and "![" not in text and relay.base_url not in text


@LOCALES
async def test_a_revised_prompt_is_shown_only_when_it_differs_and_as_the_prompt_used(
    start, discord_fake: FakeDiscord, relay: FakeRelay, locale: str
) -> None:
    await start()
    relay.queue("images_url")  # revised_prompt: "a revised prompt"
    final = await wait_result(
        discord_fake, await imagine(discord_fake, prompt="a boat", model="gpt-image-1", locale=locale)
    )
    label = CATALOG.text("embed.prompt_used", locale)
    assert f"**{label}:** a revised prompt" in card_texts(final)
    assert not [t for t in card_texts(final) if CATALOG.text("embed.model_said", locale) in t]

    relay.queue("images_revised_same")  # revised_prompt: the member's own prompt and a full stop
    final = await wait_result(
        discord_fake, await imagine(discord_fake, prompt="a boat", model="gpt-image-1", locale=locale)
    )
    assert not [t for t in card_texts(final) if label in t or "a boat." in t]
