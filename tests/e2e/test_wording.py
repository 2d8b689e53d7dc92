"""The texts that misled members (issue 13), in English and in Chinese: each expected text is
rendered from the catalog's keys in the member's language."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from bot.i18n import Catalog
from bot.routing import parse_models
from bot.ui import sink
from tests.e2e.helpers import card_texts, imagine, private_error, wait_result
from tests.fakes import pictures
from tests.fakes.discord import APP_ID, BOT_USER, CHANNEL_ID, FakeDiscord
from tests.fakes.relay import FakeRelay, png

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
    assert CATALOG.text("embed.labelled", locale, label=label, text="a revised prompt") in card_texts(final)
    assert not [t for t in card_texts(final) if CATALOG.text("embed.model_said", locale) in t]

    relay.queue("images_revised_same")  # revised_prompt: the member's own prompt and a full stop
    final = await wait_result(
        discord_fake, await imagine(discord_fake, prompt="a boat", model="gpt-image-1", locale=locale)
    )
    assert not [t for t in card_texts(final) if label in t or "a boat." in t]


async def choices(
    discord_fake: FakeDiscord, options: dict[str, Any], focused: str, locale: str
) -> list[dict]:
    sent = await discord_fake.send_interaction(
        discord_fake.autocomplete("imagine", options, focused=focused, locale=locale)
    )
    callback = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    return callback.payload["data"]["choices"]


@LOCALES
async def test_an_unknown_model_lists_what_autocomplete_offers(
    start, discord_fake: FakeDiscord, relay: FakeRelay, locale: str
) -> None:
    relay.model_list = ["gpt-4o", "flux-kontext-pro", "gemini-3-pro-image-preview"]
    await start()
    offered = [c["value"] for c in await choices(discord_fake, {"prompt": "x", "model": ""}, "model", locale)]
    assert "flux-kontext-pro" in offered, "a relay-listed model is offered"
    text = await private_error(
        discord_fake, await imagine(discord_fake, prompt="x", model="dall-e-2", locale=locale)
    )
    assert text == CATALOG.text("error.unknown_model", locale, model="dall-e-2", models=", ".join(offered))


@LOCALES
async def test_refusals_read_as_advice(
    start, discord_fake: FakeDiscord, relay: FakeRelay, locale: str
) -> None:
    await start()
    sent = await imagine(discord_fake, prompt="x", model="midjourney", count=2, locale=locale)
    assert await private_error(discord_fake, sent) == CATALOG.text(
        "error.unsupported_count", locale, model="midjourney", value="2", limit=1
    )
    sent = await imagine(discord_fake, prompt="x", aspect_ratio="1:8", locale=locale)
    text = await private_error(discord_fake, sent)
    assert text == CATALOG.text(
        "error.unsupported_aspect_ratio",
        locale,
        model="gemini-2.5-flash-image",
        value="1:8",
        allowed="1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9",
    )
    assert "aspect_ratio" not in text, "no option names read like a log"


@LOCALES
async def test_aspect_ratio_offers_the_shapes_of_the_chosen_model(
    start, discord_fake: FakeDiscord, relay: FakeRelay, locale: str
) -> None:
    await start(models=tuple(parse_models("gemini-2.5-flash-image,gemini-3.1-flash-image-preview")))
    default = await choices(discord_fake, {"prompt": "x", "aspect_ratio": ""}, "aspect_ratio", locale)
    assert "1:8" not in [c["value"] for c in default] and len(default) == 10
    assert {"name": CATALOG.text("choice.ratio.16:9", locale), "value": "16:9"} in default
    wide = await choices(
        discord_fake,
        {"prompt": "x", "model": "gemini-3.1-flash-image-preview", "aspect_ratio": ""},
        "aspect_ratio",
        locale,
    )
    assert "1:8" in [c["value"] for c in wide] and len(wide) == 14
    # The card's word for no ratio is the option's own.
    final = await wait_result(discord_fake, await imagine(discord_fake, prompt="x", locale=locale))
    shown = CATALOG.text("embed.ratio_default", locale)
    assert shown in CATALOG.text("cmd.imagine.aspect_ratio", locale)
    fact = CATALOG.text("embed.fact", locale, name=CATALOG.text("embed.aspect_ratio", locale), value=shown)
    assert fact in card_texts(final)[1]


@LOCALES
async def test_status_counts_refusals_and_mistakes_apart_from_the_services_failures(
    start, discord_fake: FakeDiscord, relay: FakeRelay, locale: str
) -> None:
    await start()
    await wait_result(discord_fake, await imagine(discord_fake, prompt="one"))
    relay.queue("http_400")  # the service's failure
    await private_error(discord_fake, await imagine(discord_fake, prompt="two"))
    relay.queue("blocked_prompt")  # a safety filter
    await private_error(discord_fake, await imagine(discord_fake, prompt="three"))
    bad = discord_fake.attachment("notes.png", pictures.text_named_png(), "image/png")  # the member's mistake
    await private_error(
        discord_fake,
        await discord_fake.send_interaction(discord_fake.slash("edit", {"image": bad, "prompt": "x"})),
    )
    sent = await discord_fake.send_interaction(discord_fake.slash("status", locale=locale))
    call = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    (embed,) = call.payload["data"]["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields[CATALOG.text("status.success", locale)] == "\n".join(
        [
            CATALOG.text("status.success_value", locale, done=1, failed=1, rate=50),
            CATALOG.text("status.refused_value", locale, refused=2),
        ]
    )


MENTION = f"<@{APP_ID}>"


@LOCALES
async def test_a_bare_mention_on_a_picture_gets_a_one_line_hint_that_goes_away(
    start, discord_fake: FakeDiscord, relay: FakeRelay, locale: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink, "MENTION_ERROR_SECONDS", 0.2)  # a minute in real life
    await start()
    await discord_fake.set_guild_locale(locale)
    message = discord_fake.message(
        MENTION, mentions=[BOT_USER], attachments=[discord_fake.attachment("a.png", png())]
    )
    await discord_fake.send_message(message)
    answer = await discord_fake.wait_for(
        lambda c: c.method == "POST" and c.path == f"/api/v10/channels/{CHANNEL_ID}/messages"
    )
    hint = CATALOG.text("error.mention_hint", locale, name="bananabot")
    assert answer.payload["content"] == hint and "\n" not in hint
    assert answer.payload["allowed_mentions"] == {"parse": [], "replied_user": False}, "no ping"
    posted = discord_fake.bot_posts[-1]["id"]
    deleted = await discord_fake.wait_for(
        lambda c: c.method == "DELETE" and c.path == f"/api/v10/channels/{CHANNEL_ID}/messages/{posted}"
    )
    assert deleted.at - answer.at >= 0.2
    assert not relay.generate_calls()


async def test_a_mentions_failed_job_is_a_reply_that_goes_away(
    start, discord_fake: FakeDiscord, relay: FakeRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sink, "MENTION_ERROR_SECONDS", 0.2)
    await start()
    relay.queue("blocked_prompt")
    await discord_fake.send_message(discord_fake.message(f"{MENTION} a fox", mentions=[BOT_USER]))
    answer = await discord_fake.wait_for(
        lambda c: c.method == "POST" and c.path == f"/api/v10/channels/{CHANNEL_ID}/messages"
    )
    assert answer.payload["content"].startswith(CATALOG.text("error.content_blocked", "en-US").split(":")[0])
    posted = discord_fake.bot_posts[-1]["id"]
    await discord_fake.wait_for(
        lambda c: c.method == "DELETE" and c.path == f"/api/v10/channels/{CHANNEL_ID}/messages/{posted}"
    )


@LOCALES
async def test_models_is_written_for_members(
    start, discord_fake: FakeDiscord, relay: FakeRelay, locale: str
) -> None:
    relay.model_list = ["flux-kontext-pro"]
    await start(model_notes={"midjourney": "artistic styles"})
    sent = await discord_fake.send_interaction(discord_fake.slash("models", locale=locale))
    (embed,) = (await discord_fake.wait_final(sent)).payload["embeds"]
    configured, discovered = embed["fields"]
    assert "• `midjourney` — artistic styles\n" in configured["value"]
    assert CATALOG.text("ability.grid", locale) in configured["value"]
    assert CATALOG.text("ability.fixed_shapes", locale) in configured["value"]
    assert "openai-images" not in configured["value"]
    assert discovered["name"] == CATALOG.text("models.discovered", locale)
    assert discovered["value"].endswith(CATALOG.text("models.guessed", locale))


@LOCALES
async def test_limit_resets_are_discord_timestamps(
    start, discord_fake: FakeDiscord, relay: FakeRelay, locale: str
) -> None:
    await start(user_daily_limit=1)
    await wait_result(discord_fake, await imagine(discord_fake, prompt="one"))
    text = await private_error(discord_fake, await imagine(discord_fake, prompt="two", locale=locale))
    found = re.search(r"<t:(\d+):R>", text)
    assert found, text
    midnight = int(found[1])
    assert midnight % 86400 == 0 and 0 < midnight - time.time() <= 86400
    assert text == CATALOG.text("error.user_daily_limit", locale, limit=1, used=1, reset_at=midnight)
    assert f"<t:{midnight}:t>" in text and " h " not in text and "min" not in text
    usage = await discord_fake.send_interaction(discord_fake.slash("usage", locale=locale))
    call = await discord_fake.wait_for(lambda c: c.path.endswith(f"{usage.token}/callback"))
    (embed,) = call.payload["data"]["embeds"]
    assert CATALOG.text("usage.left", locale, left=0, reset_at=midnight) in embed["description"]


@LOCALES
async def test_a_rate_limit_with_retry_after_says_when_as_a_timestamp(
    start, discord_fake: FakeDiscord, relay: FakeRelay, locale: str
) -> None:
    await start()
    relay.retry_after = "90"
    relay.queue("http_429", "http_429", "http_429")
    text = await private_error(discord_fake, await imagine(discord_fake, prompt="x", locale=locale))
    found = re.search(r"<t:(\d+):R>", text)
    assert found and 60 < int(found[1]) - time.time() <= 91, text
    assert text == CATALOG.text("error.upstream_rate_limited_at", locale, retry_at=int(found[1]))
