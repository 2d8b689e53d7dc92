"""/imagine end to end: gateway event in, Discord REST and relay traffic out."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.config import GeminiAuth
from bot.ui.client import BananaBot
from tests.conftest import API_KEY, BOT_TOKEN
from tests.e2e.cards import card_of
from tests.e2e.helpers import EPHEMERAL, image_of, imagine, private_error
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay


async def test_imagine_defers_calls_the_relay_and_posts_the_picture(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    sent = await imagine(discord_fake, prompt="a lighthouse at dusk", aspect_ratio="16:9")
    final = await discord_fake.wait_final(sent)

    callback = discord_fake.callback(sent)
    assert callback is not None and callback.payload == {"type": 5}
    assert callback.query == {"with_response": "1"}
    assert callback.at - sent.sent_at < 1.0, "the defer must come well inside Discord's 3 s"

    assert final.method == "PATCH" and final.path.endswith(
        f"/webhooks/100000000000000001/{sent.token}/messages/@original"
    )
    payload = final.payload
    assert payload["allowed_mentions"] == {"parse": []}
    assert payload["attachments"] == [
        {"id": 0, "filename": "bananabot_1.png", "description": "a lighthouse at dusk"}
    ]
    assert [f.name for f in final.files] == ["files[0]"]
    picture = image_of(final)
    assert picture.format == "PNG" and picture.size == (128, 72)
    card = card_of(payload)
    assert card.prompt == "a lighthouse at dusk"
    assert card.gallery == ["attachment://bananabot_1.png"]
    assert card.requested_by == "Requested by alice"
    fields = card.facts
    assert fields["Model"] == "gemini-2.5-flash-image"
    assert fields["Aspect ratio"] == "16:9"
    assert fields["Time"].endswith(" s")
    assert card.said == "Here is your picture."
    assert "Size" not in fields

    (call,) = relay.generate_calls()
    assert call.path == "/v1beta/models/gemini-2.5-flash-image:generateContent"
    assert call.query == {}
    assert call.headers["Authorization"] == f"Bearer {API_KEY}"
    assert "x-goog-api-key" not in call.headers
    assert call.body == {
        "contents": [{"role": "user", "parts": [{"text": "a lighthouse at dusk"}]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "16:9"}},
    }
    assert not discord_fake.unknown


@pytest.mark.parametrize(
    ("auth", "where"),
    [(GeminiAuth.HEADER, "header"), (GeminiAuth.QUERY, "query"), (GeminiAuth.BEARER, "bearer")],
)
async def test_gemini_auth_modes(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, auth: GeminiAuth, where: str
) -> None:
    await start_bot(gemini_auth=auth)
    await discord_fake.wait_final(await imagine(discord_fake, prompt="a cat"))
    (call,) = relay.generate_calls()
    sent = {
        "header": call.headers.get("x-goog-api-key"),
        "query": call.query.get("key"),
        "bearer": call.headers.get("Authorization", "").removeprefix("Bearer ") or None,
    }
    assert {k: v for k, v in sent.items() if v} == {where: API_KEY}


async def test_size_and_model_options(start_bot, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start_bot()
    final = await discord_fake.wait_final(
        await imagine(
            discord_fake, prompt="a map", model="gemini-3-pro-image-preview", size="2K", aspect_ratio="3:4"
        )
    )
    (call,) = relay.generate_calls()
    assert call.path == "/v1beta/models/gemini-3-pro-image-preview:generateContent"
    assert call.body["generationConfig"]["imageConfig"] == {"aspectRatio": "3:4", "imageSize": "2K"}
    fields = card_of(final.payload).facts
    assert (fields["Model"], fields["Size"]) == ("gemini-3-pro-image-preview", "2K")


async def test_size_is_left_out_for_a_model_with_one_size(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    final = await discord_fake.wait_final(await imagine(discord_fake, prompt="a map", size="4K"))
    assert "imageConfig" not in relay.generate_calls()[0].body["generationConfig"]
    assert card_of(final.payload).notes == (
        "gemini-2.5-flash-image makes one size only, so size 4K was not used."
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prompt": "   "}, "Your prompt is empty."),
        (
            {"prompt": "x", "model": "dall-e-9"},
            'There is no model called "dall-e-9" here. You can pick: gemini-2.5-flash-image, gemini-3-pro-image-preview, gemini-3.1-flash-image-preview.',
        ),
        (
            {"prompt": "x", "aspect_ratio": "1:8"},
            "You asked for a 1:8 picture, but gemini-2.5-flash-image doesn't make that shape. It makes: 1:1, 2:3",
        ),
        (
            {"prompt": "x", "aspect_ratio": "7:3"},
            "You asked for a 7:3 picture, but gemini-2.5-flash-image doesn't make that shape.",
        ),
    ],
)
async def test_bad_requests_get_an_immediate_private_answer(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, options: dict[str, Any], message: str
) -> None:
    await start_bot()
    sent = await imagine(discord_fake, **options)
    text = await private_error(discord_fake, sent)
    assert text.startswith(message)
    assert not relay.generate_calls()
    callback = discord_fake.callback(sent)
    assert callback is not None and callback.payload["data"]["flags"] == EPHEMERAL
    assert callback.payload["data"]["allowed_mentions"] == {"parse": []}


RATE = "The image service is busy right now (rate limited). Please try again in a minute."
DOWN = "The image service is unavailable right now. Please try again in a few minutes."
UNREADABLE = "The image service sent an answer the bot could not read. Please try again."


@pytest.mark.parametrize(
    ("modes", "message", "calls"),
    [
        (
            ["http_400"],
            "The image service refused this request as invalid. Try other wording or other options.",
            1,
        ),
        (["http_400_key"], "The image service refused the bot's API key.", 1),
        (["http_401"], "The image service refused the bot's API key.", 1),
        (["http_403"], "The image service refused the bot's API key.", 1),
        (["http_404"], "The image service does not offer this model.", 1),
        (["http_429"] * 3, RATE, 3),
        (["http_429_quota"], "The bot's account at the image service is out of credit or quota.", 1),
        (["http_500"] * 3, DOWN, 3),
        (["http_503", "html_502", "http_503"], DOWN, 3),
        (["malformed"], UNREADABLE, 1),
        (["blocked_prompt"], "The image service's safety filter stopped this: it refused the prompt.", 1),
        (
            ["image_safety"],
            "The image service's safety filter stopped this: it would not return the picture it made.",
            1,
        ),
        (
            ["moderated"],
            "The image service's safety filter stopped this: the request was stopped at its moderation stage.",
            1,
        ),
        (
            ["text_only"] * 2,
            'The model answered without a picture. It said: "I can\'t draw that, but here is a poem instead."',
            2,
        ),
        (["no_image"] * 2, "The model answered without a picture. Try rephrasing your prompt.", 2),
    ],
)
async def test_upstream_failures_end_in_one_private_message(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, modes: list[str], message: str, calls: int
) -> None:
    await start_bot()
    relay.queue(*modes)
    sent = await imagine(discord_fake, prompt="a castle")
    assert (await private_error(discord_fake, sent)).startswith(message)
    assert len(relay.generate_calls()) == calls
    followups = [
        c for c in discord_fake.calls_for(sent.token) if c.method == "POST" and "/webhooks/" in c.path
    ]
    assert len(followups) == 1
    assert followups[0].payload["allowed_mentions"] == {"parse": []}


async def test_timeout(start_bot, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start_bot(request_timeout=0.3)
    relay.slow_seconds = 2
    relay.queue("slow", "slow", "slow")
    sent = await imagine(discord_fake, prompt="a castle")
    assert (await private_error(discord_fake, sent)).startswith("The image service took too long to answer.")


@pytest.mark.parametrize(
    "modes", [["http_429", "ok"], ["http_503", "ok"], ["no_image", "ok"], ["text_only", "ok"]]
)
async def test_transient_failures_are_retried(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, modes: list[str]
) -> None:
    await start_bot()
    relay.queue(*modes)
    final = await discord_fake.wait_final(await imagine(discord_fake, prompt="a castle"))
    assert final.method == "PATCH" and image_of(final).format == "PNG"
    assert len(relay.generate_calls()) == 2


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("ok_snake", None),
        ("thoughts", "Done."),
        ("url_in_text", None),
        ("file_data", None),
        ("data_url_in_text", None),
    ],
)
async def test_answer_shapes(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, mode: str, said: str | None
) -> None:
    await start_bot()
    relay.queue(mode)
    final = await discord_fake.wait_final(await imagine(discord_fake, prompt="a castle", aspect_ratio="2:3"))
    assert image_of(final).size == (85, 128)
    assert card_of(final.payload).said == said
    if mode == "url_in_text":
        downloads = [c for c in relay.calls if c.method == "GET"]
        assert [(c.path, c.query) for c in downloads] == [("/files/result.png", {"a": "1", "b": "2"})]


async def test_large_result_is_fitted_under_the_upload_limit(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    relay.big_side = 600
    relay.queue("big")
    limit = 300_000
    final = await discord_fake.wait_final(await imagine(discord_fake, prompt="static", upload_limit=limit))
    (upload,) = final.files
    assert len(upload.data) <= limit
    picture = image_of(final)
    assert picture.format in ("WEBP", "JPEG")
    suffix = {"WEBP": "webp", "JPEG": "jpg"}[picture.format]
    assert upload.filename == f"bananabot_1.{suffix}"
    assert card_of(final.payload).gallery == [f"attachment://bananabot_1.{suffix}"]


async def test_prompts_never_ping(start_bot, discord_fake: FakeDiscord) -> None:
    await start_bot()
    final = await discord_fake.wait_final(
        await imagine(discord_fake, prompt="@everyone <@100000000000000005> **hi**")
    )
    assert final.payload["allowed_mentions"] == {"parse": []}
    assert card_of(final.payload).prompt == "@everyone <@100000000000000005> \\*\\*hi\\*\\*"


async def test_secrets_never_reach_discord_or_the_log(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await start_bot(gemini_auth=GeminiAuth.QUERY)
    relay.queue("key_echo")
    sent = await imagine(discord_fake, prompt="a castle")
    await private_error(discord_fake, sent)
    assert "invalid request for key" in caplog.text, "the upstream body is logged"
    sent_to_discord = json.dumps([c.payload for c in discord_fake.calls if c.payload is not None])
    assert API_KEY not in sent_to_discord and API_KEY not in caplog.text
    assert BOT_TOKEN not in caplog.text


async def test_unexpected_failure_is_logged_and_answered(
    start_bot, discord_fake: FakeDiscord, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot: BananaBot = await start_bot()

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("bug in the bot")

    monkeypatch.setattr(bot.images, "run", broken)
    sent = await imagine(discord_fake, prompt="a castle")
    text = await private_error(discord_fake, sent)
    assert text == "Something went wrong on the bot's side. It has been logged; please try again."
    assert "bug in the bot" in caplog.text


async def test_model_autocomplete(start_bot, discord_fake: FakeDiscord) -> None:
    await start_bot()
    payload = discord_fake.autocomplete("imagine", {"prompt": "x", "model": "3"}, focused="model")
    sent = await discord_fake.send_interaction(payload)
    callback = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    assert callback.payload == {
        "type": 8,
        "data": {
            "choices": [
                {"name": "gemini-3-pro-image-preview", "value": "gemini-3-pro-image-preview"},
                {"name": "gemini-3.1-flash-image-preview", "value": "gemini-3.1-flash-image-preview"},
            ]
        },
    }
    assert callback.at - sent.sent_at < 1.0


async def test_replies_follow_the_members_locale(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    # An owner's catalog for a language the bot does not ship: its keys are used, the rest is English.
    locales = tmp_path / "data" / "locales"
    locales.mkdir(parents=True)
    (locales / "de.json").write_text(
        json.dumps({"error.empty_prompt": "Der Prompt ist leer.", "embed.model": "Modell"}), encoding="utf-8"
    )
    await start_bot(data_dir=tmp_path / "data")
    sent = await imagine(discord_fake, prompt=" ", locale="de")
    assert await private_error(discord_fake, sent) == "Der Prompt ist leer."
    final = await discord_fake.wait_final(await imagine(discord_fake, prompt="Katze", locale="de"))
    names = list(card_of(final.payload).facts)
    assert names[0] == "Modell" and "Time" in names, "untranslated keys fall back to English"
