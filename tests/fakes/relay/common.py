"""What every format's answers are made of: pictures, JSON bodies and files the relay serves."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from PIL import Image

if TYPE_CHECKING:
    from tests.fakes.relay.core import FakeRelay

# How a mode answers one call: the relay's state, the request, and its recorded body.
Handler = Callable[["FakeRelay", web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


def png(width: int = 128, height: int = 128, colour: tuple[int, int, int] = (255, 212, 59)) -> bytes:
    """A real PNG with a gradient, so it is not trivially compressible to nothing."""
    img = Image.new("RGB", (width, height), colour)
    pixels = img.load()
    assert pixels is not None
    for x in range(0, width, max(1, width // 32)):
        for y in range(height):
            pixels[x, y] = (x % 256, y % 256, 128)
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def noise_png(width: int, height: int) -> bytes:
    """A PNG of random pixels: it cannot be compressed, so it is large for its size."""
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    img.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def size_for_ratio(ratio: str | None, long_side: int = 128) -> tuple[int, int]:
    if not ratio:
        return long_side, long_side
    w, h = (int(x) for x in ratio.split(":"))
    return (long_side, round(long_side * h / w)) if w >= h else (round(long_side * w / h), long_side)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def serve(relay: FakeRelay, name: str, data: bytes, content_type: str = "image/png") -> str:
    """Hold `data` at /files/`name` and return its URL, for answers that link to a picture."""
    relay.files[name] = (data, content_type)
    return f"{relay.base_url}/files/{name}"
