"""/healthz, /metrics and LOG_FORMAT=json on a running `python -m bot`."""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from tests.conftest import API_KEY, BOT_TOKEN
from tests.e2e.helpers import wait_result
from tests.e2e.test_process import environment, finish, read_until, spawn
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay
from tests.unit.test_container import healthcheck_command


async def container_health_check(port: int) -> int:
    """The Dockerfile's HEALTHCHECK command, run here against this port: its exit status."""
    command = [part.replace(":8080/", f":{port}/") for part in healthcheck_command()]
    command[0] = sys.executable
    process = await asyncio.create_subprocess_exec(*command, stderr=asyncio.subprocess.DEVNULL)
    return await asyncio.wait_for(process.wait(), 10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as resp:
        return resp.status, await resp.text()


async def eventually(condition: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    """Ask again until the condition holds, within a deadline (a state to wait for, not a guess)."""
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "the condition did not hold in time"
        await asyncio.sleep(0.05)


def sample(metrics: str, name: str) -> float:
    """One sample's value from the Prometheus text, by its full name with labels."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {name} in:\n{metrics}")


async def test_healthz_and_metrics_move_with_a_job_and_the_gateway(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    port = free_port()
    process = await spawn(environment(discord_fake, relay, tmp_path, HEALTH_PORT=str(port)), tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        await read_until(process, "Health on http://127.0.0.1:")

        async def healthy() -> bool:
            return (await get(port, "/healthz"))[0] == 200

        await eventually(healthy)
        assert await container_health_check(port) == 0
        _, body = await get(port, "/healthz")
        assert json.loads(body) == {
            "status": "ok", "gateway_connected": True, "store_writable": True, "queue_depth": 0, "running_jobs": 0,
        }  # fmt: skip
        _, before = await get(port, "/metrics")
        assert sample(before, "bananabot_pictures_delivered_total") == 0
        assert sample(before, "bananabot_queue_depth") == 0

        sent = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "a pear"}))
        await wait_result(discord_fake, sent, timeout=20)

        async def counted() -> bool:
            return "bananabot_pictures_delivered_total 1.0" in (await get(port, "/metrics"))[1]

        await eventually(counted)
        _, after = await get(port, "/metrics")
        done = 'bananabot_jobs_total{model="gemini-2.5-flash-image",outcome="done"}'
        assert sample(after, done) == 1
        assert sample(after, 'bananabot_job_duration_seconds_count{model="gemini-2.5-flash-image"}') == 1
        assert sample(after, "bananabot_upstream_request_duration_seconds_count") >= 1
        assert "# TYPE bananabot_upstream_errors_total counter" in after
        assert "# TYPE bananabot_discord_api_errors_total counter" in after
        assert "bananabot_running_jobs 0.0" in after

        await discord_fake.drop_gateway()

        async def down() -> bool:
            return (await get(port, "/healthz"))[0] == 503

        await eventually(down)
        _, body = await get(port, "/healthz")
        assert json.loads(body)["gateway_connected"] is False and json.loads(body)["status"] == "down"
        assert await container_health_check(port) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        code, out, err = await finish(process)
    assert code == 0, err
    assert API_KEY not in out + err


async def test_without_prometheus_client_healthz_works_and_metrics_says_what_to_install(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    # A module of that name that fails to import, ahead of the installed one on the path.
    blocker = tmp_path / "no_prometheus"
    blocker.mkdir()
    (blocker / "prometheus_client.py").write_text("raise ImportError('not installed')\n")
    port = free_port()
    env = environment(discord_fake, relay, tmp_path, HEALTH_PORT=str(port))
    env["PYTHONPATH"] = f"{blocker}:{env['PYTHONPATH']}"
    process = await spawn(env, tmp_path)
    try:
        log = await read_until(process, "/metrics answers 501")
        await asyncio.wait_for(discord_fake.ready.wait(), 30)

        async def healthy() -> bool:
            return (await get(port, "/healthz"))[0] == 200

        await eventually(healthy)
        status, text = await get(port, "/metrics")
        assert status == 501 and "prometheus-client" in text
    finally:
        process.send_signal(signal.SIGTERM)
        code, _, err = await finish(process)
    assert code == 0, err
    assert (
        "WARNING bot.health: /metrics answers 501 until prometheus-client is installed: pip install 'bananabot[metrics]'"
        in log
    )


async def test_json_logs_are_one_object_per_line_with_the_job_id_and_no_secret(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    # GEMINI_AUTH set: a refused key ends the job rather than being tried the other ways.
    env = environment(discord_fake, relay, tmp_path, LOG_FORMAT="json", GEMINI_AUTH="bearer")
    process = await spawn(env, tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        relay.queue("http_401")  # the relay's error body echoes a key: it must be masked
        sent = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "a pear"}))
        log = await read_until(process, "ended in UpstreamAuthFailed")
    finally:
        process.send_signal(signal.SIGTERM)
        code, _, err = await finish(process)
    assert code == 0, err
    entries = [json.loads(line) for line in (log + err).splitlines()]
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in entries)
    ended = [e for e in entries if "ended in UpstreamAuthFailed" in e["message"]]
    assert ended and all(isinstance(e.get("job_id"), int) for e in ended)
    assert any(e["logger"] == "bot.http" and "job_id" in e for e in entries), "the job's calls name it too"
    text = log + err
    assert API_KEY not in text and BOT_TOKEN not in text and sent.token not in text


async def test_discord_errors_are_counted_and_a_store_that_cannot_write_is_503(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    discord_fake.refuse_uploads_to_original = True  # 404 Unknown Webhook: the result is posted instead
    port = free_port()
    process = await spawn(environment(discord_fake, relay, tmp_path, HEALTH_PORT=str(port)), tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        await read_until(process, "Health on http://127.0.0.1:")
        await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": "a pear"}))

        async def posted() -> bool:
            return "bananabot_pictures_delivered_total 1.0" in (await get(port, "/metrics"))[1]

        await eventually(posted)
        _, metrics = await get(port, "/metrics")
        assert sample(metrics, 'bananabot_discord_api_errors_total{status="404"}') >= 1
        assert discord_fake.bot_posts, "the picture went out as a message of its own"

        assert (await get(port, "/healthz"))[0] == 200
        # From now on no file of the bot's may grow: DATA_DIR takes no write.
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (0, 0))
        status, body = await get(port, "/healthz")
        assert status == 503
        assert json.loads(body) | {"queue_depth": 0, "running_jobs": 0} == {
            "status": "down", "gateway_connected": True, "store_writable": False, "queue_depth": 0, "running_jobs": 0,
        }  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        code, _, err = await finish(process)
    assert code == 0, err
