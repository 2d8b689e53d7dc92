"""PROMPT_TRANSLATE_MODEL: Midjourney gets non-English prompts in English; the card shows both."""

from __future__ import annotations

from typing import Any

import pytest

from bot.i18n import Catalog
from bot.routing import parse_models
from tests.e2e.helpers import card_texts, imagine, wait_result
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay

CATALOG = Catalog.load()


@pytest.fixture
def start(start_bot):
    async def start(**changes: Any):
        changes.setdefault("models", tuple(parse_models("gemini-2.5-flash-image,midjourney")))
        changes.setdefault("mj_poll_seconds", 0.01)
        changes.setdefault("prompt_translate_model", "gpt-4o-mini")
        return await start_bot(**changes)

    return start


def submitted(relay: FakeRelay) -> str:
    (submit,) = relay.calls_to("/mj/submit/")
    return submit.body["prompt"]


async def test_a_chinese_prompt_goes_to_midjourney_in_english_and_the_card_shows_both(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    relay.queue("chat_translation")
    sent = await imagine(
        discord_fake,
        prompt="黎明的锦鲤池，水墨画 --v 7",
        model="midjourney",
        aspect_ratio="16:9",
        locale="zh-CN",
    )
    final = await wait_result(discord_fake, sent)
    (chat,) = relay.calls_to("/v1/chat/completions")
    assert chat.body["model"] == "gpt-4o-mini"
    assert chat.body["messages"][-1] == {"role": "user", "content": "黎明的锦鲤池，水墨画"}, (
        "parameters stay out"
    )
    assert submitted(relay) == "a koi pond at dawn, ink painting --v 7 --ar 16:9"
    texts = card_texts(final)
    assert texts[0] == "黎明的锦鲤池，水墨画 --v 7", "the member's own words first"
    label = CATALOG.text("embed.prompt_used", "zh-CN")
    assert (
        CATALOG.text("embed.labelled", "zh-CN", label=label, text="a koi pond at dawn, ink painting --v 7")
        in texts
    )


async def test_a_failed_translation_sends_the_prompt_as_written_with_a_note(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    relay.queue("http_400")
    final = await wait_result(discord_fake, await imagine(discord_fake, prompt="锦鲤", model="midjourney"))
    assert submitted(relay) == "锦鲤"
    assert f"-# {CATALOG.text('note.translate_failed', 'en-US')}" in card_texts(final)


async def test_english_prompts_and_other_models_are_not_translated(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    await wait_result(discord_fake, await imagine(discord_fake, prompt="a koi pond", model="midjourney"))
    await wait_result(discord_fake, await imagine(discord_fake, prompt="锦鲤"))  # Gemini reads Chinese
    assert not relay.calls_to("/v1/chat/completions")
    assert submitted(relay) == "a koi pond"


async def test_off_by_default(start, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start(prompt_translate_model="")
    await wait_result(discord_fake, await imagine(discord_fake, prompt="锦鲤", model="midjourney"))
    assert not relay.calls_to("/v1/chat/completions") and submitted(relay) == "锦鲤"
