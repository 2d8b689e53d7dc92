"""`python -m bot check` as an owner runs it, against the fake Discord and the fake relay."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import API_KEY, BOT_TOKEN
from tests.e2e.test_process import environment, finish, spawn
from tests.fakes.discord import APP_ID, FakeDiscord
from tests.fakes.relay import FakeRelay

MODELS = ["gemini-2.5-flash-image", "gemini-3-pro-image-preview"]
INVITE = f"https://discord.com/oauth2/authorize?client_id={APP_ID}&scope=bot+applications.commands&permissions=274878024704"
GUILD = {
    "id": "100000000000000003",
    "name": "Banana Club",
    "icon": None,
    "owner": True,
    "permissions": "0",
    "features": [],
}


async def synced(discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path) -> None:
    code, _, err = await finish(await spawn(environment(discord_fake, relay, tmp_path), tmp_path, "sync"))
    assert code == 0, err


@pytest.fixture
def healthy(discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    relay.model_list = [*MODELS, "gpt-4o"]
    relay.api_key = API_KEY
    relay.gemini_auth_accepted = {"bearer"}
    discord_fake.guilds = [GUILD]


async def check(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, **extra: str
) -> tuple[int, list[str]]:
    env = environment(discord_fake, relay, tmp_path, **extra)
    code, out, err = await finish(await spawn(env, tmp_path, "check"))
    assert "Traceback" not in err, err
    assert API_KEY not in out + err and BOT_TOKEN not in out + err
    assert not relay.generate_calls() or all(
        ":countTokens" in c.path or c.method == "GET" for c in relay.generate_calls()
    )
    return code, out.splitlines()


@pytest.mark.usefixtures("healthy")
async def test_everything_passes_in_well_under_15_seconds(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    await synced(discord_fake, relay, tmp_path)
    started = time.monotonic()
    code, lines = await check(discord_fake, relay, tmp_path)
    seconds = time.monotonic() - started
    assert code == 0, lines
    assert lines[:3] == [
        "✓ settings are valid",
        f"✓ API_BASE_URL is {relay.base_url}",
        f"✓ Discord accepts the token: application bananabot (id {APP_ID})",
    ]
    assert "✓ the 10 slash commands are registered globally" in lines
    assert "✓ the bot is in 1 server: Banana Club" in lines
    assert f"✓ the relay at {relay.base_url} accepts the key and lists 3 models" in lines
    assert (
        "✓ gemini-2.5-flash-image is offered" in lines and "✓ gemini-3-pro-image-preview is offered" in lines
    )
    assert "✓ Gemini: the key is accepted as GEMINI_AUTH=bearer" in lines
    assert lines[-1].startswith("All ") and lines[-1].endswith(" s)")
    assert seconds < 15
    # Nothing that could make (and bill) a picture.
    assert not [c for c in relay.calls if c.method == "POST" and not c.path.endswith(":countTokens")]


async def test_a_refused_token(discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path) -> None:
    discord_fake.reject_token = BOT_TOKEN
    code, lines = await check(discord_fake, relay, tmp_path)
    assert code == 1
    assert (
        "✗ Discord refused DISCORD_TOKEN: copy the bot token again from the Developer Portal (Bot page)"
        in lines
    )


@pytest.mark.usefixtures("healthy")
async def test_a_refused_key(discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path) -> None:
    await synced(discord_fake, relay, tmp_path)
    relay.api_key = "sk-another-key-entirely"
    code, lines = await check(discord_fake, relay, tmp_path)
    assert code == 1
    assert (
        f"✗ the relay at {relay.base_url} refused the key (HTTP 401): check API_KEY (copy it again from the relay)"
        in lines
    )
    assert "✗ Gemini: the key is refused in every way (header, query, bearer): check API_KEY" in lines


@pytest.mark.usefixtures("healthy")
async def test_a_base_url_with_v1_is_accepted_and_said(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    await synced(discord_fake, relay, tmp_path)
    code, lines = await check(discord_fake, relay, tmp_path, API_BASE_URL=f"{relay.base_url}/v1")
    assert code == 0, lines
    assert f"✓ API_BASE_URL is {relay.base_url} (the trailing /v1 is dropped: the bot adds it)" in lines


@pytest.mark.parametrize("endpoint", ["/v1/chat/completions", "/v1beta", "/v1beta/models"])
async def test_a_full_endpoint_fails_and_names_the_base(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, endpoint: str
) -> None:
    code, lines = await check(discord_fake, relay, tmp_path, API_BASE_URL=relay.base_url + endpoint)
    assert code == 1
    assert lines[0] == (
        f"✗ API_BASE_URL is an endpoint, not a base URL: the bot adds '{endpoint}' itself; "
        f"set API_BASE_URL={relay.base_url}"
    )
    # The same value stops the bot at start, with the same advice.
    env = environment(discord_fake, relay, tmp_path, API_BASE_URL=relay.base_url + endpoint)
    code, _, err = await finish(await spawn(env, tmp_path))
    assert code == 2 and err.strip() == lines[0].removeprefix("✗ ")


@pytest.mark.usefixtures("healthy")
async def test_a_model_the_relay_does_not_list(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    await synced(discord_fake, relay, tmp_path)
    relay.model_list = ["gemini-2.5-flash-image"]
    code, lines = await check(discord_fake, relay, tmp_path)
    assert code == 1
    assert (
        "✗ gemini-3-pro-image-preview is not in the model list: check its exact spelling in the relay's list, "
        "or remove it from MODELS"
    ) in lines


@pytest.mark.usefixtures("healthy")
async def test_a_relay_without_a_model_list_cannot_tell(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    await synced(discord_fake, relay, tmp_path)
    relay.model_list = None
    relay.gemini_model_list = False  # the Gemini probe falls back on :countTokens
    code, lines = await check(discord_fake, relay, tmp_path)
    assert code == 0, lines
    assert (
        f"! the relay at {relay.base_url} answers but has no model list, so the key cannot be tested for free"
        in lines
    )
    assert "! gemini-2.5-flash-image: cannot tell (no model list)" in lines
    assert "✓ Gemini: the key is accepted as GEMINI_AUTH=bearer" in lines
    assert [c.path for c in relay.calls if c.method == "POST"] == [
        "/v1beta/models/gemini-2.5-flash-image:countTokens"
    ] * 3


@pytest.mark.usefixtures("healthy")
@pytest.mark.parametrize("accepted", ["header", "query"])
async def test_gemini_auth_is_detected(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, accepted: str
) -> None:
    await synced(discord_fake, relay, tmp_path)
    relay.gemini_auth_accepted = {accepted}
    code, lines = await check(discord_fake, relay, tmp_path)
    assert code == 1
    assert (
        f"✗ Gemini: the key is refused as GEMINI_AUTH=bearer but accepted as {accepted}: set GEMINI_AUTH={accepted}"
    ) in lines
    code, lines = await check(discord_fake, relay, tmp_path, GEMINI_AUTH=accepted)
    assert code == 0, lines


@pytest.mark.usefixtures("healthy")
async def test_no_server_is_a_warning_with_the_invite_link(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    await synced(discord_fake, relay, tmp_path)
    discord_fake.guilds = []
    code, lines = await check(discord_fake, relay, tmp_path)
    assert code == 0, lines
    assert f"! the bot is in no server yet: invite it with {INVITE}" in lines


@pytest.mark.usefixtures("healthy")
async def test_commands_not_registered_or_out_of_date(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    code, lines = await check(discord_fake, relay, tmp_path)
    assert code == 1
    assert "✗ no slash commands are registered, so members see none: run python -m bot sync" in lines
    await synced(discord_fake, relay, tmp_path)
    discord_fake.commands["global"] = [c for c in discord_fake.commands["global"] if c["name"] != "history"]
    discord_fake.commands["global"][0]["description"] = "an older text"
    code, lines = await check(discord_fake, relay, tmp_path)
    assert code == 1
    assert (
        "✗ the registered commands differ from this version: missing history; changed imagine: run python -m bot sync"
    ) in lines


async def test_wrong_settings_are_failures_of_check(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("MAX_CONCURENT_JOBS=8\n")
    code, lines = await check(discord_fake, relay, tmp_path, MAX_QUEUE_LENGTH="lots")
    assert code == 1
    assert lines == [
        "! MAX_CONCURENT_JOBS in .env is not a bananabot setting: did you mean MAX_CONCURRENT_JOBS?",
        "✗ MAX_QUEUE_LENGTH must be a whole number from 1 to 10000, got 'lots'",
        "1 settings are wrong: the other checks need them",
    ]


@pytest.mark.usefixtures("healthy")
async def test_a_relay_that_hangs_is_a_failure_within_the_time_limit(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    await synced(discord_fake, relay, tmp_path)
    relay.models_delay = 60.0
    started = time.monotonic()
    code, lines = await check(discord_fake, relay, tmp_path)
    assert code == 1
    assert time.monotonic() - started < 15
    assert f"✗ the relay at {relay.base_url} cannot be reached (UpstreamTimeout): check API_BASE_URL" in lines


@pytest.mark.usefixtures("healthy")
async def test_each_relay_and_each_balance_is_checked(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    backup = FakeRelay()
    await backup.start()
    try:
        backup.model_list = list(MODELS)
        backup.api_key = "sk-the-right-backup-key"  # the backup refuses the key the owner set
        relay.billing = (10.0, 250.0)
        await synced(discord_fake, relay, tmp_path)
        code, lines = await check(
            discord_fake,
            relay,
            tmp_path,
            RELAYS="backup",
            RELAY_BACKUP_BASE_URL=backup.base_url,
            RELAY_BACKUP_API_KEY="sk-a-wrong-backup-key",
            MODELS="gemini-2.5-flash-image@main+backup,gemini-3-pro-image-preview",
            LOW_BALANCE="8",
        )
    finally:
        await backup.close()
    assert code == 1, lines
    assert (
        f"✗ the relay backup at {backup.base_url} refused the key (HTTP 401): "
        "check RELAY_BACKUP_API_KEY (copy it again from the relay)"
    ) in lines
    assert "! relay main: 7.50 USD left: under LOW_BALANCE (8.00): top it up" in lines
    assert "✓ relay backup: balance unknown (the relay does not report it)" in lines
    assert "sk-a-wrong-backup-key" not in "\n".join(lines)
