"""Gateway sharding (issue 16, part 3): SHARD_COUNT and SHARD_IDS, in one bot and split across
processes, through the fake Discord, which sends each guild's events on that guild's shard only."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.storage import DB_NAME
from bot.ui.client import BananaBot
from tests.conftest import API_KEY
from tests.e2e.test_health import eventually, free_port, get
from tests.e2e.test_process import environment, finish, spawn
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay

# Two servers on different shards of two: a guild's shard is (guild_id >> 22) % shard_count.
GUILD_ON_0 = "100000000000000003"
GUILD_ON_1 = str(int(GUILD_ON_0) + (1 << 22))
assert (int(GUILD_ON_0) >> 22) % 2 == 0 and (int(GUILD_ON_1) >> 22) % 2 == 1


async def status_fields(discord_fake: FakeDiscord, guild: str) -> dict[str, str]:
    sent = await discord_fake.send_interaction(discord_fake.slash("status", guild_id=guild))
    call = await discord_fake.wait_for(lambda c: c.path.endswith(f"/{sent.id}/{sent.token}/callback"))
    (embed,) = call.payload["data"]["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}


async def healthz(port: int) -> tuple[int, dict[str, object]]:
    status, body = await get(port, "/healthz")
    return status, json.loads(body)


async def test_a_bot_with_two_shards_answers_a_server_on_each_and_says_which_shard_is_down(
    start_bot: Callable[..., Awaitable[BananaBot]], discord_fake: FakeDiscord
) -> None:
    # Discord lets this bot identify two shards at once (its session start limit), so the second
    # shard does not wait out discord.py's 5 s between IDENTIFYs.
    discord_fake.max_concurrency = 2
    port = free_port()
    await start_bot(shard_count=2, health_port=port)
    await discord_fake.wait_shards((0, 2), (1, 2))
    assert discord_fake.identifies == [[0, 2], [1, 2]]
    assert [c.path for c in discord_fake.calls if c.path.endswith("/gateway/bot")] == ["/api/v10/gateway/bot"]

    for guild in (GUILD_ON_0, GUILD_ON_1):
        sent = await discord_fake.send_interaction(
            discord_fake.slash("imagine", {"prompt": f"a pear for {guild}"}, guild_id=guild)
        )
        final = await discord_fake.wait_final(sent, timeout=20)
        assert final.files, f"no picture for the server on shard {(int(guild) >> 22) % 2}"
    assert discord_fake.undelivered == []

    assert await healthz(port) == (200, {
        "status": "ok", "gateway_connected": True, "store_writable": True, "queue_depth": 0,
        "running_jobs": 0, "shards": {"0": True, "1": True},
    })  # fmt: skip
    assert (await status_fields(discord_fake, GUILD_ON_1))["Gateway shards"] == "0, 1 of 2 in this process"

    # Shard 1's connection drops and Discord refuses it meanwhile: shard 0 stays up, health says
    # which one is not.
    await discord_fake.drop_gateway(shard=(1, 2))

    async def shard_1_down() -> bool:
        return (await healthz(port))[0] == 503

    await eventually(shard_1_down)
    body = (await healthz(port))[1]
    assert (body["status"], body["gateway_connected"]) == ("down", False)
    assert body["shards"] == {"0": True, "1": False}
    shards = (await status_fields(discord_fake, GUILD_ON_0))["Gateway shards"]
    assert shards == "0, 1 of 2 in this process\nnot connected: 1"

    # Discord comes back: shard 1 connects again and the server on it is answered.
    discord_fake.gateway_down = False
    await discord_fake.wait_shards((1, 2), timeout=30)
    await eventually(lambda: _ok(port))
    sent = await discord_fake.send_interaction(
        discord_fake.slash("imagine", {"prompt": "again"}, guild_id=GUILD_ON_1)
    )
    assert (await discord_fake.wait_final(sent, timeout=20)).files


async def _ok(port: int) -> bool:
    return (await healthz(port))[0] == 200


def journaled_guilds(data_dir: Path) -> list[str]:
    with sqlite3.connect(data_dir / DB_NAME) as db:
        return [str(row[0]) for row in db.execute("SELECT guild_id FROM jobs ORDER BY id")]


async def test_two_processes_split_the_shards_and_each_answers_its_own_servers(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    ports = {1: free_port(), 0: free_port()}
    data = {shard: tmp_path / f"data-{shard}" for shard in (0, 1)}

    def start(shard: int) -> Awaitable[asyncio.subprocess.Process]:
        env = environment(
            discord_fake, relay, tmp_path,
            SHARD_COUNT="2", SHARD_IDS=str(shard), HEALTH_PORT=str(ports[shard]), DATA_DIR=str(data[shard]),
        )  # fmt: skip
        return spawn(env, tmp_path)

    processes = [await start(1)]
    try:
        await discord_fake.wait_shards((1, 2), timeout=30)
        assert discord_fake.identifies == [[1, 2]], "the process connects shard 1 of 2, and only it"
        await eventually(lambda: _ok(ports[1]))
        assert (await healthz(ports[1]))[1]["shards"] == {"1": True}
        assert (await status_fields(discord_fake, GUILD_ON_1))["Gateway shards"] == "1 of 2 in this process"

        # Nobody holds shard 0 yet: Discord has no connection to send that server's command on.
        lost = discord_fake.slash("imagine", {"prompt": "nobody hears this"}, guild_id=GUILD_ON_0)
        assert await discord_fake.dispatch("INTERACTION_CREATE", lost) is False
        on_1 = await discord_fake.send_interaction(
            discord_fake.slash("imagine", {"prompt": "a pear"}, guild_id=GUILD_ON_1)
        )
        assert (await discord_fake.wait_final(on_1, timeout=20)).files

        processes.append(await start(0))
        await discord_fake.wait_shards((0, 2), (1, 2), timeout=30)
        assert discord_fake.identifies == [[1, 2], [0, 2]]
        await eventually(lambda: _ok(ports[0]))
        assert (await healthz(ports[0]))[1]["shards"] == {"0": True}
        on_0 = await discord_fake.send_interaction(
            discord_fake.slash("imagine", {"prompt": "a plum"}, guild_id=GUILD_ON_0)
        )
        assert (await discord_fake.wait_final(on_0, timeout=20)).files
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        ended = [await finish(process) for process in processes]
    for code, out, err in ended:
        assert code == 0, err
        assert "Traceback" not in err and API_KEY not in out + err
    # Each process journaled the command of its own shard's server, and nothing else.
    assert journaled_guilds(data[1]) == [GUILD_ON_1]
    assert journaled_guilds(data[0]) == [GUILD_ON_0]


async def test_a_stop_while_a_shard_waits_for_its_turn_to_identify_ends_the_process(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    # One IDENTIFY per 5 s (Discord's session start limit for most bots): shard 1 waits after shard 0.
    discord_fake.max_concurrency = 1
    process = await spawn(environment(discord_fake, relay, tmp_path, SHARD_COUNT="2"), tmp_path)
    try:
        await discord_fake.wait_shards((0, 2), timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        # discord.py alone would retry shard 1's connection every 5 s for ever once the client closed.
        try:
            code, out, err = await finish(process, timeout=20)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError("the process did not end after SIGTERM") from None
    assert code == 0, err
    assert "Traceback" not in err and "Failed to connect for shard_id" not in err
    assert API_KEY not in out + err
    assert discord_fake.identifies == [[0, 2]]
