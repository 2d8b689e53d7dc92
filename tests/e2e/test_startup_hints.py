"""What `python -m bot` and `sync` tell the owner about their setup: start-up hints, one-line sync
errors, the questions asked before a destructive sync."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.conftest import API_KEY
from tests.e2e.test_check import INVITE
from tests.e2e.test_process import GUILD, environment, finish, read_until, spawn
from tests.fakes.discord import APP_ID, FakeDiscord
from tests.fakes.relay import FakeRelay

NOT_REGISTERED = "no slash commands are registered, so members see none: run python -m bot sync"


async def test_start_up_warns_of_what_the_owner_must_still_do(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    relay.model_list = ["gemini-2.5-flash-image"]
    relay.api_key = "sk-the-relay-wants-another-key"
    process = await spawn(environment(discord_fake, relay, tmp_path, LOG_LEVEL="INFO"), tmp_path)
    try:
        log = await read_until(process, "refused the key")
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
    finally:
        process.send_signal(signal.SIGTERM)
        code, _, err = await finish(process)
    log += err
    assert code == 0, log
    assert f"WARNING bot.ui.hints: ✗ {NOT_REGISTERED}" in log
    assert f"WARNING bot.ui.hints: ! the bot is in no server yet: invite it with {INVITE}" in log
    assert f"the relay at {relay.base_url} refused the key (HTTP 401): check API_KEY" in log
    # Explained away: the bot has no voice features.
    assert "PyNaCl" not in log and "davey" not in log
    assert API_KEY not in log


async def test_a_dev_guild_the_bot_cannot_see_is_a_hint_not_a_stop(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    discord_fake.missing_access.add(GUILD)
    process = await spawn(environment(discord_fake, relay, tmp_path, DEV_GUILD_ID=GUILD), tmp_path)
    try:
        log = await read_until(process, "DEV_GUILD_ID: Could not sync")
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
    finally:
        process.send_signal(signal.SIGTERM)
        code, _, err = await finish(process)
    assert code == 0, log + err
    assert (
        f"Missing Access (50001): the bot is not in that server, or was invited without the applications.commands scope: invite it with {INVITE}"
        in log
    )


async def test_sync_errors_are_one_line_with_the_fix(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    discord_fake.missing_access.add(GUILD)
    code, out, err = await finish(
        await spawn(environment(discord_fake, relay, tmp_path), tmp_path, "sync", "--guild", GUILD)
    )
    assert code == 1 and out == ""
    assert err.strip().splitlines()[-1] == (
        f"Could not sync to server {GUILD}: Discord answered Missing Access (50001): the bot is not in that "
        f"server, or was invited without the applications.commands scope: invite it with {INVITE}"
    )
    assert "Traceback" not in err


async def test_sync_needs_only_the_token(discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path) -> None:
    env = environment(discord_fake, relay, tmp_path)
    del env["API_KEY"]
    code, out, err = await finish(await spawn(env, tmp_path, "sync"))
    assert code == 0, err
    assert out.startswith("Synced 10 commands to all servers (global)")


async def test_clearing_every_server_asks_for_yes(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    env = environment(discord_fake, relay, tmp_path)
    code, out, err = await finish(await spawn(env, tmp_path, "sync", "--clear"))
    assert code == 2 and out == ""
    assert err.strip() == (
        "sync --clear without --guild removes the bot's commands from every server: run it again with --yes to do that"
    )
    assert not [c for c in discord_fake.calls if c.method == "PUT"]
    code, out, err = await finish(await spawn(env, tmp_path, "sync", "--clear", "--yes"))
    assert code == 0, err
    assert out.strip() == "Synced 0 commands to all servers (global): none"
    (put,) = [c for c in discord_fake.calls if c.method == "PUT"]
    assert put.path == f"/api/v10/applications/{APP_ID}/commands" and put.payload == []


async def test_a_typo_in_env_is_a_warning_at_start(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("MAX_CONCURENT_JOBS=8\n")
    code, _, err = await finish(await spawn(environment(discord_fake, relay, tmp_path), tmp_path, "sync"))
    assert code == 0, err
    assert (
        "WARNING bot: MAX_CONCURENT_JOBS in .env is not a bananabot setting: did you mean MAX_CONCURRENT_JOBS?"
        in err
    )
