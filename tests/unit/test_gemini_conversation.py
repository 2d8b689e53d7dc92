"""Gemini conversational editing: the history sent back, its cuts, the exchange returned, the fallback."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.config import Settings
from bot.errors import UpstreamAuthFailed, UpstreamRejectedRequest
from bot.http import HttpClient, HttpResponse, RetryPolicy
from bot.providers.base import Capabilities, Endpoint, GenerateRequest, InputImage
from bot.providers.gemini import (
    GeminiAuth,
    GeminiProvider,
    build_body,
    capabilities,
    fit_history,
    is_signature_error,
    last_picture,
    request_budget,
)
from bot.redact import Redactor
from bot.request import Exchange, Kind
from tests.fakes.relay import FakeRelay, b64, png

KEY = "sk-relaysecret0123456789"
FLASH = "gemini-3.1-flash-image-preview"  # checks signatures, like the real one
PRO = "gemini-3-pro-image-preview"
PNG = png(8, 8)


def exchange(n: int, picture: str = "", signed: bool = True) -> Exchange:
    """An earlier turn as a Gemini 3 model answers it: a thought draft, signed text, a signed picture."""
    data = picture or b64(png(8 + n, 8))
    model = {
        "role": "model",
        "parts": [
            {"inlineData": {"mimeType": "image/png", "data": b64(png(4, 4))}, "thought": True},
            {"text": f"answer {n}", **({"thoughtSignature": f"c2lnLXRleHQt{n}"} if signed else {})},
            {
                "inlineData": {"mimeType": "image/png", "data": data},
                **({"thoughtSignature": "c2ln"} if signed else {}),
            },
        ],
    }
    return Exchange(({"text": f"prompt {n}"},), model)


def user_turn(parts: list[dict[str, Any]] | tuple[dict[str, Any], ...]) -> dict[str, Any]:
    return {"role": "user", "parts": list(parts)}


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def size_of(data: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(base64.b64decode(data))).size


class RecordingHttp(HttpClient):
    """The real client, keeping every answer's body so a test can compare what came back."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bodies: list[bytes] = []

    async def request(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        response = await super().request(method, url, **kwargs)
        self.bodies.append(response.body)
        return response


class SmallBudget(GeminiProvider):
    """The adapter with a request byte budget small enough to cut a test's history."""

    budget = 0

    def capabilities(self, model: str) -> Capabilities:
        return dataclasses.replace(super().capabilities(model), max_request_bytes=self.budget)


@pytest.fixture
async def http(relay: FakeRelay) -> AsyncIterator[RecordingHttp]:
    async with aiohttp.ClientSession() as session:
        yield RecordingHttp(session, Redactor([KEY]), RetryPolicy(attempts=2, base_delay=0.01, deadline=5))


def provider(http: HttpClient, relay: FakeRelay, turns: int = 4) -> GeminiProvider:
    return GeminiProvider(http, Endpoint(relay.base_url, KEY, 5), GeminiAuth.BEARER, turns)


def answered_content(http: RecordingHttp, index: int) -> dict[str, Any]:
    return json.loads(http.bodies[index])["candidates"][0]["content"]


# --- the value --------------------------------------------------------------------------------------


def test_an_exchange_round_trips_through_json_and_counts_its_bytes() -> None:
    sample = exchange(1)
    text = sample.to_json()
    assert Exchange.from_json(text) == sample and Exchange.from_json(text.encode()) == sample
    assert sample.size == len(text.encode("utf-8"))
    assert json.loads(text) == {"user": list(sample.user), "model": sample.model}
    assert hash(Exchange.from_json(text)) == hash(sample)
    assert "iVBOR" not in repr(sample), "a logged request must not carry the pictures"


@pytest.mark.parametrize("text", ['{"user": []}', '{"user": "x", "model": {}}', "[]"])
def test_what_is_not_an_exchange_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an exchange"):
        Exchange.from_json(text)


def test_history_stays_out_of_the_journal_row() -> None:
    request = GenerateRequest("again", FLASH, kind=Kind.EDIT, history=(exchange(1),))
    row = request.to_dict()
    assert "history" not in row and "images" not in row
    assert row == dataclasses.replace(request, history=()).to_dict()
    assert GenerateRequest.from_dict({**row, "history": ["ignored"]}).history == ()
    assert request.with_history(()) == dataclasses.replace(request, history=())


# --- the body ---------------------------------------------------------------------------------------


async def test_without_history_the_body_is_one_turn_as_before(http: RecordingHttp, relay: FakeRelay) -> None:
    request = GenerateRequest("a cat", FLASH, aspect_ratio="1:1", images=(InputImage(PNG, "image/png"),))
    await provider(http, relay).generate(request)
    (call,) = relay.generate_calls()
    assert call.body == build_body(request, capabilities(FLASH))
    assert call.body["contents"] == [
        user_turn([{"text": "a cat"}, {"inline_data": {"mime_type": "image/png", "data": b64(PNG)}}])
    ]


@pytest.mark.parametrize("count", [1, 3])
async def test_history_goes_first_oldest_first_model_turns_unchanged(
    http: RecordingHttp, relay: FakeRelay, count: int
) -> None:
    relay.strict_signatures = False  # these signatures were written by the test, not issued
    history = tuple(exchange(n) for n in range(count))
    request = GenerateRequest("make it blue", PRO, kind=Kind.EDIT, history=history)
    await provider(http, relay).generate(request)
    (contents,) = relay.contents_sent()
    expected = [turn for e in history for turn in (user_turn(e.user), e.model)]
    assert contents == [*expected, user_turn([{"text": "make it blue"}])]
    # Byte for byte, in the order received: thought parts and signatures included.
    assert [compact(c) for c in contents[1:-1:2]] == [compact(e.model) for e in history]


async def test_a_model_content_without_its_role_gets_it_back_and_nothing_else(
    http: RecordingHttp, relay: FakeRelay
) -> None:
    relay.strict_signatures = False
    earlier = exchange(1)
    roleless = Exchange(earlier.user, {"parts": earlier.model["parts"]})
    await provider(http, relay).generate(GenerateRequest("again", PRO, history=(roleless,)))
    assert relay.contents_sent()[0][1] == {"role": "model", "parts": earlier.model["parts"]}


async def test_edit_history_turns_keeps_the_newest(http: RecordingHttp, relay: FakeRelay) -> None:
    relay.strict_signatures = False
    history = tuple(exchange(n) for n in range(3))
    await provider(http, relay, turns=2).generate(GenerateRequest("again", PRO, history=history))
    (contents,) = relay.contents_sent()
    assert contents[:-1] == [turn for e in history[1:] for turn in (user_turn(e.user), e.model)]


async def test_zero_turns_makes_a_stateless_edit_of_the_last_picture(
    http: RecordingHttp, relay: FakeRelay
) -> None:
    history = (exchange(1), exchange(2))
    own = InputImage(png(6, 6), "image/png")
    await provider(http, relay, turns=0).generate(
        GenerateRequest("again", FLASH, images=(own,), history=history)
    )
    (contents,) = relay.contents_sent()
    last = history[-1].model["parts"][-1]["inlineData"]["data"]
    assert contents == [
        user_turn(
            [
                {"inline_data": {"mime_type": "image/png", "data": last}},
                {"inline_data": {"mime_type": "image/png", "data": own.b64}},
                {"text": "again"},
            ]
        )
    ]


def test_the_budget_keeps_the_newest_exchanges_that_fit() -> None:
    history = tuple(exchange(n) for n in range(4))
    sizes = [e.size for e in history]
    assert fit_history(history, 4, sum(sizes)) == history
    assert fit_history(history, 4, sum(sizes) - 1) == history[1:]
    assert fit_history(history, 4, sizes[3] + sizes[2]) == history[2:]
    assert fit_history(history, 4, sizes[3] - 1) == ()
    assert fit_history(history, 2, sum(sizes)) == history[2:]
    assert fit_history(history, 0, sum(sizes)) == ()


def test_the_budget_is_counted_in_base64_bytes() -> None:
    # 15 MB of raw pictures are 20 MB once in base64: Gemini's inline limit, the bot's policy.
    assert request_budget(capabilities(FLASH)) == 20 * 1024 * 1024


async def test_the_current_pictures_come_first_and_old_exchanges_go_first(
    http: RecordingHttp, relay: FakeRelay
) -> None:
    relay.strict_signatures = False
    picture = "A" * 30_000
    history = tuple(exchange(n, picture) for n in range(3))
    own = InputImage(b"\0" * 15_000, "image/png")  # 20_000 base64 bytes
    adapter = SmallBudget(http, Endpoint(relay.base_url, KEY, 5), GeminiAuth.BEARER, 4)
    # Room for the current turn and two exchanges, not three.
    adapter.budget = (20_000 + 2 * history[0].size + 2_000) * 3 // 4
    request = GenerateRequest("again", PRO, images=(own,), history=history)
    assert adapter.plan_turn(request)[0] == history[1:]
    await adapter.generate(request)
    (contents,) = relay.contents_sent()
    assert [c["parts"][0] for c in contents[:-1:2]] == [{"text": "prompt 1"}, {"text": "prompt 2"}]
    assert contents[-1]["parts"][1]["inline_data"]["data"] == own.b64, "the member's picture is kept"

    # When not even the newest exchange fits beside the member's picture, the edit goes stateless.
    adapter.budget = (20_000 + history[0].size // 2) * 3 // 4
    assert adapter.plan_turn(request) == (
        (),
        [
            {"inline_data": {"mime_type": "image/png", "data": picture}},
            {"inline_data": {"mime_type": "image/png", "data": own.b64}},
            {"text": "again"},
        ],
    )


# --- the answer -------------------------------------------------------------------------------------


async def test_thought_images_are_never_the_result(http: RecordingHttp, relay: FakeRelay) -> None:
    result = await provider(http, relay).generate(GenerateRequest("a map", FLASH, aspect_ratio="16:9"))
    parts = answered_content(http, 0)["parts"]
    assert [p.get("thought") for p in parts] == [True, True, None, None], "the relay sent two drafts"
    assert [Image.open(io.BytesIO(i.data)).size for i in result.images] == [(128, 72)]
    assert result.text == "Here is your picture."


async def test_the_exchange_is_what_was_sent_and_received(http: RecordingHttp, relay: FakeRelay) -> None:
    own = InputImage(PNG, "image/png")
    result = await provider(http, relay).generate(GenerateRequest("a cat", FLASH, images=(own,)))
    assert result.exchange is not None
    (contents,) = relay.contents_sent()
    assert list(result.exchange.user) == contents[-1]["parts"]
    assert compact(result.exchange.model) == compact(answered_content(http, 0))
    signed = [p["thoughtSignature"] for p in result.exchange.model["parts"] if "thoughtSignature" in p]
    assert len(signed) == 2 and set(signed) <= relay.signatures


async def test_a_conversation_the_relay_signed_is_accepted_and_sent_back_byte_for_byte(
    http: RecordingHttp, relay: FakeRelay
) -> None:
    adapter = provider(http, relay)
    first = await adapter.generate(GenerateRequest("a red barn", FLASH))
    assert first.exchange is not None
    kept = Exchange.from_json(first.exchange.to_json())  # as the engine keeps it, in a file
    second = await adapter.generate(GenerateRequest("make it blue", FLASH, kind=Kind.EDIT, history=(kept,)))
    assert second.images and second.exchange is not None
    sent = relay.contents_sent()[1]
    assert compact(sent[1]) == compact(answered_content(http, 0))
    assert sent[0] == user_turn(first.exchange.user) and len(relay.generate_calls()) == 2

    third = await adapter.generate(GenerateRequest("now green", FLASH, history=(kept, second.exchange)))
    assert third.images and len(relay.contents_sent()[2]) == 5


async def test_two_five_answers_and_history_carry_no_signatures(
    http: RecordingHttp, relay: FakeRelay
) -> None:
    adapter = provider(http, relay)
    first = await adapter.generate(GenerateRequest("a red barn", "gemini-2.5-flash-image"))
    assert first.exchange is not None
    assert first.exchange.model["parts"][0] == {"text": "Here is your picture."}
    await adapter.generate(GenerateRequest("blue", "gemini-2.5-flash-image", history=(first.exchange,)))
    assert relay.contents_sent()[1][1] == first.exchange.model


# --- the signature fallback -------------------------------------------------------------------------


async def test_a_signature_400_is_retried_once_as_a_stateless_edit(
    http: RecordingHttp, relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    history = (exchange(1), exchange(2))  # signatures the relay never issued
    own = InputImage(png(6, 6), "image/png")
    caplog.set_level(logging.INFO, "bot.providers.gemini")
    result = await provider(http, relay).generate(
        GenerateRequest("make it blue", FLASH, images=(own,), history=history)
    )
    first, retry = relay.contents_sent()
    assert len(first) == 5
    last = history[-1].model["parts"][-1]["inlineData"]["data"]
    assert retry == [
        user_turn(
            [
                {"inline_data": {"mime_type": "image/png", "data": last}},
                {"inline_data": {"mime_type": "image/png", "data": own.b64}},
                {"text": "make it blue"},
            ]
        )
    ]
    assert size_of(retry[0]["parts"][0]["inline_data"]["data"]) == (10, 8), "the final picture, not a draft"
    assert result.images and result.exchange is not None
    assert list(result.exchange.user) == retry[0]["parts"], "the exchange is the turn that was answered"
    assert any(r.levelno == logging.INFO and "stateless edit" in r.getMessage() for r in caplog.records)


async def test_a_missing_signature_is_refused_by_the_strict_relay_then_retried(
    http: RecordingHttp, relay: FakeRelay
) -> None:
    await provider(http, relay).generate(
        GenerateRequest("again", FLASH, history=(exchange(1, signed=False),))
    )
    first, retry = relay.contents_sent()
    assert len(first) == 3 and len(retry) == 1


async def test_a_second_signature_400_is_not_retried(http: RecordingHttp, relay: FakeRelay) -> None:
    relay.queue("bad_signature", "bad_signature")
    with pytest.raises(UpstreamRejectedRequest, match="thought signature"):
        await provider(http, relay).generate(GenerateRequest("again", PRO, history=(exchange(1),)))
    first, retry = relay.contents_sent()
    assert len(first) == 3 and len(retry) == 1


async def test_other_400s_are_not_retried(http: RecordingHttp, relay: FakeRelay) -> None:
    relay.queue("http_400")
    with pytest.raises(UpstreamRejectedRequest):
        await provider(http, relay).generate(GenerateRequest("again", PRO, history=(exchange(1),)))
    assert len(relay.generate_calls()) == 1


async def test_a_signature_400_without_history_is_not_retried(http: RecordingHttp, relay: FakeRelay) -> None:
    relay.queue("bad_signature")
    with pytest.raises(UpstreamRejectedRequest):
        await provider(http, relay).generate(GenerateRequest("a cat", PRO))
    assert len(relay.generate_calls()) == 1


@pytest.mark.parametrize(
    ("error", "matches"),
    [
        (UpstreamRejectedRequest("Invalid Thought Signature for content at index 1", status=400), True),
        (UpstreamRejectedRequest("Corrupted thought_signature", status=400), True),
        (UpstreamRejectedRequest("part 2 is missing a thoughtSignature", status=400), True),
        (UpstreamRejectedRequest("Invalid value at 'contents'", status=400), False),
        (UpstreamAuthFailed("thought signature of another key", status=403), False),
    ],
)
def test_which_errors_are_signature_errors(error: UpstreamRejectedRequest, matches: bool) -> None:
    assert is_signature_error(error) is matches


def test_the_last_picture_is_the_last_non_thought_image_in_either_spelling() -> None:
    snake = {
        "parts": [
            {"inline_data": {"mime_type": "image/webp", "data": "d2VicA=="}, "thought_signature": "c2ln"},
            {"inline_data": {"mime_type": "image/png", "data": "ZHJhZnQ="}, "thought": True},
            {"text": "Done."},
        ]
    }
    assert last_picture(snake) == {"inline_data": {"mime_type": "image/webp", "data": "d2VicA=="}}
    linked = {"parts": [{"fileData": {"mimeType": "image/png", "fileUri": "https://cdn.example/a.png"}}]}
    assert last_picture(linked) == {
        "file_data": {"mime_type": "image/png", "file_uri": "https://cdn.example/a.png"}
    }
    assert last_picture({"parts": [{"text": "no picture"}]}) is None


# --- the fake relay and the setting -----------------------------------------------------------------


async def test_three_pro_takes_history_it_did_not_sign(http: RecordingHttp, relay: FakeRelay) -> None:
    await provider(http, relay).generate(GenerateRequest("again", PRO, history=(exchange(1, signed=False),)))
    assert len(relay.generate_calls()) == 1


async def test_the_relay_can_answer_with_fewer_thought_images(http: RecordingHttp, relay: FakeRelay) -> None:
    relay.thought_images = 0
    await provider(http, relay).generate(GenerateRequest("a cat", FLASH))
    assert [p.get("thought") for p in answered_content(http, 0)["parts"]] == [None, None]


async def test_from_settings_passes_edit_history_turns(http: RecordingHttp, relay: FakeRelay) -> None:
    settings = Settings(discord_token="t", api_key=KEY, edit_history_turns=7)
    assert GeminiProvider.from_settings(settings, http).history_turns == 7
    environ = {"DISCORD_TOKEN": "t", "API_KEY": KEY, "EDIT_HISTORY_TURNS": "0"}
    read = Settings.from_env(environ, Path("/nonexistent/.env"))
    assert read.edit_history_turns == 0
    assert Settings(discord_token="t", api_key=KEY).edit_history_turns == 4
