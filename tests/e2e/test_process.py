"""`python -m bot` as a real process, configured only by its environment, against both fakes."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import API_KEY, BOT_TOKEN, SOURCE_ROOT
from tests.e2e.helpers import wait_result
from tests.fakes.discord import APP_ID, FakeDiscord
from tests.fakes.relay import FakeRelay

GUILD = "123456789012345678"
COMMANDS = [
    "imagine",
    "edit",
    "blend",
    "models",
    "usage",
    "status",
    "history",
    "help",
    "Edit image",
    "Blend images",
]


def environment(discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    return {
        **keep,
        "DISCORD_TOKEN": BOT_TOKEN,
        "API_KEY": API_KEY,
        "API_BASE_URL": relay.base_url,
        "MODELS": "gemini-2.5-flash-image,gemini-3-pro-image-preview",
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "DEBUG",
        "DISCORD_API_URL": discord_fake.api_url,
        "DISCORD_GATEWAY_URL": discord_fake.gateway_url,
        "PYTHONPATH": str(SOURCE_ROOT),
        **extra,
    }


async def spawn(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=env, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process, timeout: float = 30) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def read_until(process: asyncio.subprocess.Process, text: str, timeout: float = 30) -> str:
    """Read the log (stderr) until a line holds `text`; return what was read."""
    assert process.stderr is not None
    seen: list[str] = []

    async def scan() -> None:
        while line := await process.stderr.readline():  # type: ignore[union-attr]
            seen.append(line.decode())
            if text in seen[-1]:
                return
        raise AssertionError(f"the process ended without logging {text!r}: {''.join(seen)}")

    try:
        await asyncio.wait_for(scan(), timeout)
    except TimeoutError:
        raise AssertionError(f"no {text!r} logged within {timeout} s: {''.join(seen)}") from None
    return "".join(seen)


async def test_bot_process_serves_imagine_and_stops_cleanly_on_sigterm(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    process = await spawn(environment(discord_fake, relay, tmp_path), tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        payload = discord_fake.slash("imagine", {"prompt": "a banana boat", "aspect_ratio": "4:3"})
        sent = await discord_fake.send_interaction(payload)
        final = await discord_fake.wait_final(sent, timeout=20)
        log = await read_until(process, "Logged in as bananabot")
    finally:
        process.send_signal(signal.SIGTERM)
        code, out, err = await finish(process)
    err = log + err

    assert discord_fake.callback(sent).payload == {"type": 5}  # type: ignore[union-attr]
    assert final.method == "PATCH"
    assert Image.open(io.BytesIO(final.files[0].data)).size == (128, 96)
    assert final.payload["allowed_mentions"] == {"parse": []}
    (call,) = relay.generate_calls()
    assert call.headers["Authorization"] == f"Bearer {API_KEY}"
    assert code == 0, err
    assert "Received SIGTERM, shutting down" in err
    assert API_KEY not in err + out and BOT_TOKEN not in err + out
    assert sent.token not in err + out, "interaction tokens are masked in every log line"
    assert "Traceback" not in err
    # No global sync on a normal start.
    assert not [c for c in discord_fake.calls if c.method == "PUT"]


async def test_gemini_auth_left_unset_finds_the_way_a_relay_takes(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    # GEMINI_AUTH is not in the environment; the relay takes the key in the URL only (issue 12, defect 11).
    relay.gemini_accepts = "query"
    process = await spawn(environment(discord_fake, relay, tmp_path), tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        for prompt in ("a banana boat", "a banana bridge"):
            sent = await discord_fake.send_interaction(discord_fake.slash("imagine", {"prompt": prompt}))
            await wait_result(discord_fake, sent, timeout=20)
        log = await read_until(process, "set GEMINI_AUTH=query")
    finally:
        process.send_signal(signal.SIGTERM)
        code, out, err = await finish(process)
    err = log + err
    assert code == 0, err
    assert [
        sorted(k for k in ("Authorization", "x-goog-api-key") if k in c.headers)
        for c in relay.generate_calls()
    ] == [
        ["Authorization"],
        ["x-goog-api-key"],
        [],
        [],
    ]
    assert [c.query.get("key") for c in relay.generate_calls()][2:] == [API_KEY, API_KEY]
    assert err.count("GEMINI_AUTH=") == 1
    assert API_KEY not in err + out, "the key in the URL is masked in the log"


async def test_dev_guild_gets_the_commands_at_start(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    process = await spawn(environment(discord_fake, relay, tmp_path, DEV_GUILD_ID=GUILD), tmp_path)
    try:
        put = await discord_fake.wait_for(lambda c: c.method == "PUT", timeout=30)
    finally:
        process.send_signal(signal.SIGINT)
        code, _, err = await finish(process)
    assert put.path == f"/api/v10/applications/{APP_ID}/guilds/{GUILD}/commands"
    assert [c["name"] for c in put.payload] == COMMANDS
    assert code == 0, err


async def test_sync_registers_the_commands_globally_without_the_gateway(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    locales = tmp_path / "data" / "locales"
    locales.mkdir(parents=True)
    (locales / "zh-CN.json").write_text(
        json.dumps({"cmd.imagine.description": "用文字生成图片"}),
        encoding="utf-8",
    )
    code, out, err = await finish(await spawn(environment(discord_fake, relay, tmp_path), tmp_path, "sync"))
    assert code == 0, err
    assert out.strip() == (
        "Synced 10 commands to all servers (global): /imagine, /edit, /blend, /models, /usage, /status, /history, "
        "/help, Edit image, Blend images"
    )
    assert not discord_fake.identified.is_set(), "sync must not connect to the gateway"
    (put,) = [c for c in discord_fake.calls if c.method == "PUT"]
    assert put.path == f"/api/v10/applications/{APP_ID}/commands"
    command, *others = put.payload
    assert [c["name"] for c in others] == COMMANDS[1:]
    assert command["name"] == "imagine"
    assert command["description"] == "Make a picture from a text prompt"
    assert command["description_localizations"] == {"zh-CN": "用文字生成图片"}
    options = {o["name"]: o for o in command["options"]}
    assert list(options) == ["prompt", "model", "aspect_ratio", "size", "count"]
    assert options["prompt"]["required"] is True
    assert (options["prompt"]["min_length"], options["prompt"]["max_length"]) == (1, 4000)
    assert options["model"]["autocomplete"] is True
    # The shapes follow the model picked: offered by autocomplete, not as one fixed list.
    assert options["aspect_ratio"]["autocomplete"] is True and "choices" not in options["aspect_ratio"]
    assert {
        "name": "1K (about 1024 px)",
        "value": "1K",
        "name_localizations": {"zh-CN": "1K（约 1024 像素）"},
    } in options["size"]["choices"]
    assert [c["value"] for c in options["size"]["choices"]] == ["1K", "2K", "4K"]
    assert all(1 <= len(o["description"]) <= 100 for o in command["options"])


@pytest.mark.parametrize(
    ("args", "body_names", "summary"),
    [
        (
            ("--guild", GUILD),
            COMMANDS,
            f"Synced 10 commands to server {GUILD}: /imagine, /edit, /blend, /models, /usage, /status, /history, "
            "/help, Edit image, Blend images",
        ),
        (("--guild", GUILD, "--clear"), [], f"Synced 0 commands to server {GUILD}: none"),
    ],
)
async def test_sync_to_one_server(
    discord_fake: FakeDiscord,
    relay: FakeRelay,
    tmp_path: Path,
    args: tuple[str, ...],
    body_names: list[str],
    summary: str,
) -> None:
    env = environment(discord_fake, relay, tmp_path)
    code, out, err = await finish(await spawn(env, tmp_path, "sync", *args))
    assert code == 0, err
    assert out.strip() == summary
    (put,) = [c for c in discord_fake.calls if c.method == "PUT"]
    assert put.path == f"/api/v10/applications/{APP_ID}/guilds/{GUILD}/commands"
    assert [c["name"] for c in put.payload] == body_names


@pytest.mark.parametrize("args", [(), ("sync",)])
async def test_a_refused_token_is_one_clear_line(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, args: tuple[str, ...]
) -> None:
    discord_fake.reject_token = BOT_TOKEN
    code, out, err = await finish(await spawn(environment(discord_fake, relay, tmp_path), tmp_path, *args))
    assert out == ""
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "DISCORD_TOKEN was refused by Discord: copy the bot token again from the Developer Portal"
    )
    assert "Traceback" not in err and BOT_TOKEN not in err


async def test_bot_process_serves_every_format_side_by_side(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    models = "gemini-2.5-flash-image,gpt-image-1,gpt-4o-image,midjourney"
    env = environment(discord_fake, relay, tmp_path, MODELS=models, MJ_POLL_SECONDS="0.05")
    process = await spawn(env, tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        results = {}
        for model in models.split(","):
            sent = await discord_fake.send_interaction(
                discord_fake.slash("imagine", {"prompt": "a pear", "model": model})
            )
            results[model] = await wait_result(discord_fake, sent, timeout=20)
    finally:
        process.send_signal(signal.SIGTERM)
        code, out, err = await finish(process)
    assert code == 0, err
    assert {m: len(r.files) for m, r in results.items()} == dict.fromkeys(models.split(","), 1)
    assert [c.path for c in relay.calls if not c.path.startswith(("/files/", "/mj/task/", "/v1/models"))] == [
        "/v1beta/models/gemini-2.5-flash-image:generateContent",
        "/v1/images/generations",
        "/v1/chat/completions",
        "/mj/submit/imagine",
    ]
    assert results["midjourney"].payload["components"], "the grid comes with its buttons"
    assert API_KEY not in err + out and "Traceback" not in err


async def test_a_stop_signal_during_start_up_ends_cleanly(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    discord_fake.sync_delay = 5.0
    process = await spawn(environment(discord_fake, relay, tmp_path, DEV_GUILD_ID=GUILD), tmp_path)
    try:
        await discord_fake.wait_for(lambda c: c.method == "PUT", timeout=30)
    finally:
        process.send_signal(signal.SIGTERM)
        code, _out, err = await finish(process)
    assert code == 0, err
    assert "Traceback" not in err and err.rstrip().endswith("bot: Stopped")


@pytest.mark.parametrize("args", [(), ("sync",)])
async def test_unreachable_discord_is_one_clear_line(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path, args: tuple[str, ...]
) -> None:
    env = environment(discord_fake, relay, tmp_path, DISCORD_API_URL="http://127.0.0.1:9/api/v10")
    code, _out, err = await finish(await spawn(env, tmp_path, *args))
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("Could not reach Discord: ClientConnectorError: ")
    assert "Traceback" not in err and BOT_TOKEN not in err
