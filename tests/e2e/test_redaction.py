"""Someone else's key in an upstream error never reaches the bot's log or a member (issue 12, defect 10)."""

from __future__ import annotations

import json
import logging

import pytest

from tests.e2e.helpers import imagine, private_error
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay
from tests.fakes.relay.faults import FOREIGN_KEYS


@pytest.mark.parametrize(
    ("modes", "message"),
    [
        (["foreign_keys_500"] * 3, "The image service is unavailable right now."),
        (["foreign_keys_400"], "The image service refused this request as invalid."),
    ],
)
async def test_a_foreign_key_in_an_upstream_error_is_masked_everywhere(
    start_bot,
    discord_fake: FakeDiscord,
    relay: FakeRelay,
    caplog: pytest.LogCaptureFixture,
    modes: list[str],
    message: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    await start_bot()
    relay.queue(*modes)
    text = await private_error(discord_fake, await imagine(discord_fake, prompt="a castle"))
    assert text.startswith(message)
    assert len(relay.generate_calls()) == len(modes)

    logged = [r for r in caplog.records if r.name.startswith("bot")]
    assert any("Upstream error body" in r.getMessage() for r in logged), "the body is logged, masked"
    assert any(" ended in " in r.getMessage() for r in logged)
    every_record = "\n".join(
        r.getMessage() + (caplog.handler.formatter.formatException(r.exc_info) if r.exc_info else "")
        for r in caplog.records
    )
    sent_to_discord = json.dumps([c.payload for c in discord_fake.calls], default=str)
    for key in FOREIGN_KEYS:
        assert key not in every_record
        assert key not in sent_to_discord
