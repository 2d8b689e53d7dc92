"""QUEUE_URL as an owner meets it, with real processes: `check` says whether the queue answers (a real
Redis from tests/servers.py, an unreachable port, a server that never answers), `gateway` and
`worker` refuse to start without DATABASE_URL or QUEUE_URL, and the one process warns that it leaves
QUEUE_URL alone."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_process import environment, finish, spawn
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay
from tests.servers import RedisServer, free_port

NEEDS_DATABASE = (
    "! QUEUE_URL is set but DATABASE_URL is not: `python -m bot gateway` and `worker` need both "
    "(the one process, `python -m bot`, does not use QUEUE_URL): "
    "set DATABASE_URL=postgresql://… for gateway and worker processes"
)
ONE_PROCESS = (
    "WARNING bot: QUEUE_URL is used only by `python -m bot gateway` and `python -m bot worker`: "
    "this one process runs its jobs itself and leaves the queue alone"
)


async def check(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, **extra: str
) -> tuple[int, list[str], str]:
    env = environment(discord_fake, relay, tmp_path, **extra)
    code, out, err = await finish(await spawn(env, tmp_path, "check"))
    assert "Traceback" not in err, err
    return code, out.splitlines(), out + err


def queue_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if "QUEUE_URL" in line]


async def test_check_says_the_queue_answers_and_that_gateways_need_a_database(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, redis_server: RedisServer, postgres_url: str
) -> None:
    where = redis_server.url.split("//", 1)[1]
    _, lines, _ = await check(discord_fake, relay, tmp_path, QUEUE_URL=redis_server.url)
    assert queue_lines(lines) == [f"✓ QUEUE_URL: Redis at {where} answers", NEEDS_DATABASE], lines

    # With both set, the queue's line alone; the journal has its own.
    _, lines, _ = await check(
        discord_fake, relay, tmp_path, QUEUE_URL=redis_server.url, DATABASE_URL=postgres_url
    )
    assert queue_lines(lines) == [f"✓ QUEUE_URL: Redis at {where} answers"], lines
    assert any(line.startswith("✓ DATABASE_URL: PostgreSQL at") for line in lines), lines


async def test_check_says_a_queue_on_postgresql_answers(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, postgres_url: str
) -> None:
    where = postgres_url.split("@", 1)[1]
    _, lines, _ = await check(
        discord_fake, relay, tmp_path, QUEUE_URL=postgres_url, DATABASE_URL=postgres_url
    )
    assert queue_lines(lines) == [f"✓ QUEUE_URL: PostgreSQL at {where} answers"], lines


async def test_check_fails_on_a_queue_that_cannot_be_reached_without_showing_its_password(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    port = free_port()
    url = f"redis://:pw-never-shown@127.0.0.1:{port}/0"
    started = time.monotonic()
    code, lines, everything = await check(discord_fake, relay, tmp_path, QUEUE_URL=url)
    seconds = time.monotonic() - started
    assert code == 1
    failed, warned = queue_lines(lines)
    assert failed.startswith(f"✗ QUEUE_URL: Redis at 127.0.0.1:{port}/0 cannot be used (ConnectionError: "), (
        lines
    )
    assert failed.endswith(": check the host, port, password and database in QUEUE_URL"), failed
    assert warned == NEEDS_DATABASE
    assert "pw-never-shown" not in everything
    # A refused connection is told at once, not after redis-py's own retries.
    assert seconds < 5, seconds


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections (the kernel's backlog) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


async def test_check_gives_a_silent_queue_five_seconds_and_stays_in_its_time_limit(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, silent_port: int
) -> None:
    started = time.monotonic()
    code, lines, _ = await check(
        discord_fake, relay, tmp_path, QUEUE_URL=f"redis://127.0.0.1:{silent_port}/0"
    )
    seconds = time.monotonic() - started
    assert code == 1
    assert queue_lines(lines)[0] == (
        f"✗ QUEUE_URL: Redis at 127.0.0.1:{silent_port}/0 did not answer within 5 s: "
        "check the host, port, password and database in QUEUE_URL"
    ), lines
    assert 5 <= seconds < 15, seconds


@pytest.mark.parametrize("role", ["gateway", "worker"])
async def test_gateway_and_worker_need_the_database_and_the_queue(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, role: str
) -> None:
    # Neither URL is contacted: the settings alone refuse the role, before any connection.
    unused_db = f"postgresql://bot:pw@127.0.0.1:{free_port()}/bananabot"
    unused_queue = f"redis://127.0.0.1:{free_port()}/0"
    cases = [
        ({"QUEUE_URL": unused_queue}, "DATABASE_URL: the postgresql:// journal every gateway and worker shares"),
        ({}, "DATABASE_URL: the postgresql:// journal every gateway and worker shares"),
        ({"DATABASE_URL": unused_db}, "QUEUE_URL: the queue between gateways and workers (redis:// or postgresql://)"),
    ]  # fmt: skip
    for extra, needs in cases:
        env = environment(discord_fake, relay, tmp_path, LOG_LEVEL="INFO", **extra)
        code, out, err = await finish(await spawn(env, tmp_path, role))
        assert (code, out, err.splitlines()) == (2, "", [f"`{role}` needs {needs}"]), extra
    assert not discord_fake.calls, "nothing reached Discord"


async def test_the_one_process_warns_once_that_it_leaves_the_queue_alone(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    # The URL is never contacted: nothing listens there, and the bot serves all the same.
    env = environment(
        discord_fake, relay, tmp_path, LOG_LEVEL="INFO", QUEUE_URL=f"redis://127.0.0.1:{free_port()}/0"
    )
    process = await spawn(env, tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
    finally:
        process.send_signal(signal.SIGTERM)
        code, _, err = await finish(process)
    assert code == 0, err
    (line,) = [line for line in err.splitlines() if "QUEUE_URL" in line]
    assert line.endswith(ONE_PROCESS), err
