"""`python -m bot imagine|edit|models`: the image service from a shell, without Discord."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import sys
from pathlib import Path

from PIL import Image

from tests.conftest import API_KEY, SOURCE_ROOT
from tests.e2e.test_process import finish
from tests.fakes import pictures
from tests.fakes.relay import FakeRelay


def cli_env(relay: FakeRelay, tmp_path: Path, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    # No DISCORD_TOKEN: the command line never talks to Discord.
    return {
        **keep,
        "API_KEY": API_KEY,
        "API_BASE_URL": relay.base_url,
        "MODELS": "gemini-2.5-flash-image,gemini-3-pro-image-preview,gpt-image-1",
        "DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(SOURCE_ROOT),
        **extra,
    }


async def cli(relay: FakeRelay, tmp_path: Path, *args: str, **extra: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args, env=cli_env(relay, tmp_path, **extra), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    code, out, err = await finish(process)
    assert "Traceback" not in err and API_KEY not in out + err, err
    return code, out, err


async def test_imagine_writes_one_file_per_picture(relay: FakeRelay, tmp_path: Path) -> None:
    code, out, err = await cli(
        relay, tmp_path, "imagine", "a banana boat", "--ratio", "16:9", "--count", "2", "--out", "pics"
    )
    assert code == 0, err
    paths = [Path(line) for line in out.splitlines()]
    assert len(paths) == 2 and all(p.parent == Path("pics") and p.suffix == ".png" for p in paths)
    for path in paths:
        assert Image.open(tmp_path / path).size == (128, 72)
    calls = relay.generate_calls()
    assert len(calls) == 2
    assert calls[0].body["generationConfig"]["imageConfig"]["aspectRatio"] == "16:9"
    assert calls[0].headers["Authorization"] == f"Bearer {API_KEY}"


async def test_edit_takes_a_phone_photo_upright(relay: FakeRelay, tmp_path: Path) -> None:
    (tmp_path / "IMG_1234.jpg").write_bytes(pictures.exif_rotated_jpeg())
    code, out, err = await cli(
        relay, tmp_path, "edit", "IMG_1234.jpg", "make it snow", "--model", "gemini-3-pro-image-preview"
    )
    assert code == 0, err
    (written,) = out.splitlines()
    assert (tmp_path / written).is_file()
    (call,) = relay.generate_calls()
    parts = call.body["contents"][-1]["parts"]
    sent = next(p["inline_data"] for p in parts if "inline_data" in p)
    assert Image.open(io.BytesIO(base64.b64decode(sent["data"]))).size == (40, 80)
    assert {"text": "make it snow"} in parts


async def test_a_refused_key_is_exit_1_with_the_catalog_message(relay: FakeRelay, tmp_path: Path) -> None:
    relay.queue("http_401")
    # Set by the owner, so a refused key is not tried the other ways (bot.providers.gemini).
    code, out, err = await cli(relay, tmp_path, "imagine", "a pear", GEMINI_AUTH="bearer")
    assert (code, out) == (1, "")
    assert err.strip().splitlines()[-1] == (
        "The image service refused the bot's API key. Ask the server owner to check the bot's key settings."
    )


async def test_bad_usage_is_exit_2(relay: FakeRelay, tmp_path: Path) -> None:
    code, out, err = await cli(relay, tmp_path, "imagine", "a pear", "--ratio", "1:8")
    assert (code, out) == (2, "")
    assert err.strip().startswith(
        "You asked for a 1:8 picture, but gemini-2.5-flash-image doesn't make that shape."
    )
    code, _, err = await cli(relay, tmp_path, "edit", "missing.png", "make it snow")
    assert code == 2 and "missing.png cannot be read" in err
    code, _, err = await cli(relay, tmp_path, "imagine", "a pear", API_BASE_URL=f"{relay.base_url}/v1beta")
    assert code == 2 and "set API_BASE_URL=" in err
    assert relay.generate_calls() == []


async def test_models_lists_the_configured_then_the_relays(relay: FakeRelay, tmp_path: Path) -> None:
    relay.model_list = ["gemini-2.5-flash-image", "flux-kontext-pro", "gpt-4o"]
    code, out, err = await cli(relay, tmp_path, "models")
    assert code == 0, err
    assert out.splitlines() == [
        "gemini-2.5-flash-image\tgemini\tMODELS",
        "gemini-3-pro-image-preview\tgemini\tMODELS",
        "gpt-image-1\topenai-images\tMODELS",
        "flux-kontext-pro\topenai-images\trelay list",
    ]
