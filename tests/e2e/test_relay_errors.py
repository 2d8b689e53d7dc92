"""What a member reads when a real relay refuses: LiteLLM's and new-api's own error bodies, and
Google's, each read as what it means (issue 12, defect 9). The bodies are shaped as those relays
write them (tests/fakes/relay/faults.py names the source of each)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import imagine, private_error
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay

NOT_OFFERED = (
    "The image service does not offer this model. Ask the server owner to check the bot's model list."
)
QUOTA = "The bot's account at the image service is out of credit or quota. Ask the server owner to top it up."
COOLING = "The image service is resting this model after earlier errors. Please try again in a minute."
RATE = "The image service is busy right now (rate limited). Please try again in a minute."
BLOCKED = "The image service's safety filter stopped this:"
REGION = "The image service does not serve the place the bot's requests come from."
INVALID = "The image service refused this request as invalid."


@pytest.mark.parametrize(
    ("modes", "message", "calls"),
    [
        pytest.param(["litellm_unknown_model"], NOT_OFFERED, 1, id="litellm-unknown-model"),
        pytest.param(["litellm_cooldown"] * 3, COOLING, 3, id="litellm-cooldown"),
        pytest.param(["litellm_budget"], QUOTA, 1, id="litellm-budget"),
        pytest.param(["newapi_no_channel"], NOT_OFFERED, 1, id="newapi-no-channel"),
        pytest.param(["newapi_quota"], QUOTA, 1, id="newapi-quota"),
        pytest.param(["newapi_token_exhausted"], QUOTA, 1, id="newapi-token-exhausted"),
        pytest.param(["newapi_sensitive"], BLOCKED, 1, id="newapi-sensitive-words-as-500"),
        pytest.param(["google_location"], REGION, 1, id="google-location"),
        pytest.param(["google_per_minute"] * 3, RATE, 3, id="google-per-minute-limit"),
    ],
)
async def test_relay_errors_read_right(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, modes: list[str], message: str, calls: int
) -> None:
    await start_bot()
    relay.queue(*modes)
    text = await private_error(discord_fake, await imagine(discord_fake, prompt="a castle"))
    assert text.startswith(message), text
    assert not text.startswith(INVALID)
    assert "request id" not in text
    assert len(relay.generate_calls()) == calls
