"""GEMINI_AUTH left unset: a relay that refuses the key the way the bot guessed gets the other ways,
once each, and the one it takes is kept for the run (issue 12, defect 11). The fake relay refuses as
LiteLLM's /gemini pass-through does (tests/fakes/relay/gemini.py auth_refusal)."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import API_KEY
from tests.e2e.helpers import imagine, private_error, wait_result
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay, RelayCall

REFUSED_KEY = "The image service refused the bot's API key."


def way(call: RelayCall) -> str:
    if "x-goog-api-key" in call.headers:
        return "header"
    if "key" in call.query:
        return "query"
    assert call.headers.get("Authorization", "").startswith("Bearer ")
    return "bearer"


def ways(relay: FakeRelay) -> list[str]:
    return [way(c) for c in relay.generate_calls()]


def auth_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "GEMINI_AUTH=" in r.getMessage()]


def logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("accepts", ["header", "query"])
async def test_the_way_the_relay_takes_is_found_and_kept(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, caplog: pytest.LogCaptureFixture, accepts: str
) -> None:
    caplog.set_level(logging.DEBUG)
    relay.gemini_accepts = accepts
    await start_bot(gemini_auth_explicit=False)  # bearer, what the bot guesses for a relay's host
    await wait_result(discord_fake, await imagine(discord_fake, prompt="a lighthouse"))
    probed = ["bearer", "header"] if accepts == "header" else ["bearer", "header", "query"]
    assert ways(relay) == probed

    await wait_result(discord_fake, await imagine(discord_fake, prompt="a harbour"))
    assert ways(relay) == [*probed, accepts], "a later command goes straight to the way that works"

    (line,) = auth_lines(caplog)
    assert line.levelno in (logging.INFO, logging.WARNING)
    assert f"GEMINI_AUTH={accepts}" in line.getMessage()
    assert API_KEY not in logged(caplog), "the key (in the URL in query mode) is never logged"


async def test_an_owners_gemini_auth_is_never_second_guessed(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    relay.gemini_accepts = "header"
    await start_bot(gemini_auth_explicit=True)  # the owner set GEMINI_AUTH=bearer
    text = await private_error(discord_fake, await imagine(discord_fake, prompt="a lighthouse"))
    assert text.startswith(REFUSED_KEY)
    assert ways(relay) == ["bearer"], "no other way is tried"
    assert not auth_lines(caplog)


async def test_a_wrong_key_is_refused_within_max_attempts(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    relay.gemini_key = "sk-the-relays-real-key-000000"
    await start_bot(gemini_auth_explicit=False, max_attempts=3)
    text = await private_error(discord_fake, await imagine(discord_fake, prompt="a lighthouse"))
    assert text.startswith(REFUSED_KEY)
    assert ways(relay) == ["bearer", "header", "query"], "each way once, MAX_ATTEMPTS calls in all"
    assert not auth_lines(caplog), "no way to recommend"

    text = await private_error(discord_fake, await imagine(discord_fake, prompt="a harbour"))
    assert text.startswith(REFUSED_KEY)
    assert len(relay.generate_calls()) == 4, "every way was refused: no second probe"
    assert API_KEY not in logged(caplog)


async def test_a_probe_cut_short_by_max_attempts_goes_on_with_the_next_picture(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    relay.gemini_accepts = "query"
    await start_bot(gemini_auth_explicit=False, max_attempts=2)
    text = await private_error(discord_fake, await imagine(discord_fake, prompt="a lighthouse"))
    assert text.startswith(REFUSED_KEY)
    assert ways(relay) == ["bearer", "header"]

    await wait_result(discord_fake, await imagine(discord_fake, prompt="a harbour"))
    assert ways(relay) == ["bearer", "header", "query"], "the ways already refused are not sent again"
    (line,) = auth_lines(caplog)
    assert "GEMINI_AUTH=query" in line.getMessage()


async def test_parallel_pictures_probe_once(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    relay.gemini_accepts = "header"
    await start_bot(gemini_auth_explicit=False)
    result = await wait_result(discord_fake, await imagine(discord_fake, prompt="a lighthouse", count=2))
    assert len(result.files) == 2
    sent = ways(relay)
    # Each picture may have tried bearer before the other learned; only one probes, the other waits.
    assert sent.count("header") == 2 and sent.count("query") == 0 and 1 <= sent.count("bearer") <= 2
    assert len(auth_lines(caplog)) == 1
