"""Image bytes: what they are, and making results fit Discord's upload limit.

Pillow work here is CPU-bound; callers on the event loop use the `async` wrappers, which run it in
a worker thread.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import os
import re
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image, ImageOps

from bot.errors import OutputTooLarge

T = TypeVar("T")

# Far above any model's output (4K is ~17 MP) yet far below what a decompression bomb needs.
MAX_PIXELS = 64_000_000
LOSSLESS_MAX_PIXELS = 6_000_000

_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
_DATA_URL = re.compile(r"^data:[^,]*?;base64,", re.I)


def sniff(data: bytes) -> str | None:
    """The image type from the first bytes; the declared type and the file name are not trusted."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def extension(mime: str) -> str:
    return _EXTENSIONS.get(mime, "bin")


def decode_base64(text: str) -> bytes | None:
    """Decode base64 the way relays send it: data-URL prefix, line breaks, URL-safe, no padding."""
    payload = _DATA_URL.sub("", text.strip())
    payload = re.sub(r"\s+", "", payload).replace("-", "+").replace("_", "/")
    payload += "=" * (-len(payload) % 4)
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


@dataclass(frozen=True)
class FittedImage:
    data: bytes
    mime: str
    width: int
    height: int

    @property
    def filename_extension(self) -> str:
        return extension(self.mime)


def fit_to_limit(data: bytes, limit: int) -> FittedImage:
    """Return the image as is when it fits `limit` bytes, else the best re-encoding that does.

    Order: the original; lossless WebP where it can plausibly fit and finish quickly; high-quality
    JPEG (opaque) or WebP (with alpha) at falling quality; then smaller sizes.
    """
    mime = sniff(data)
    if mime is None:
        raise ValueError("not an image")
    limit_mb = round(limit / 2**20, 1)
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise OutputTooLarge("result has too many pixels", limit_mb=limit_mb) from None
    with img:
        if img.width * img.height > MAX_PIXELS:  # checked on the header, before any decoding
            raise OutputTooLarge("result has too many pixels", limit_mb=limit_mb)
        if len(data) <= limit:
            return FittedImage(data, mime, img.width, img.height)
        img.seek(0)
        # Re-encoding drops EXIF, so an orientation tag must be applied to the pixels first.
        frame = ImageOps.exif_transpose(img).convert("RGBA" if _has_alpha(img) else "RGB")
    # Lossless WebP saves a quarter to a third of a PNG at best, and costs ~0.1 s a megapixel.
    try_lossless = len(data) <= limit * 1.5 and frame.width * frame.height <= LOSSLESS_MAX_PIXELS
    for scale in (1.0, 0.75, 0.5, 0.35, 0.25):
        candidate = frame
        if scale < 1.0:
            size = (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
            candidate = frame.resize(size, Image.Resampling.LANCZOS)
        for encoded, enc_mime in _encodings(candidate, lossless=try_lossless and scale == 1.0):
            if len(encoded) <= limit:
                return FittedImage(encoded, enc_mime, candidate.width, candidate.height)
    raise OutputTooLarge("cannot fit the result", limit_mb=limit_mb)


def _encodings(img: Image.Image, *, lossless: bool) -> Iterator[tuple[bytes, str]]:
    if lossless:
        yield _encode(img, "WEBP", lossless=True, method=0, quality=0), "image/webp"
    for quality in (92, 85, 75):
        if img.mode == "RGB":
            # JPEG encodes ten times faster than lossy WebP at the same visual quality here.
            yield _encode(img, "JPEG", quality=quality), "image/jpeg"
        else:
            yield _encode(img, "WEBP", quality=quality, method=0), "image/webp"


def _encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)


_POOL: ThreadPoolExecutor | None = None


def run_in_pool(func: Callable[..., T], *args: Any) -> Awaitable[T]:
    """Run Pillow work in the imaging threads, so the event loop stays free.

    The pool is bounded: Pillow releases the GIL while it decodes and encodes, so more threads than
    cores only add memory (each job holds a decoded picture).
    """
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="imaging")
    return asyncio.get_running_loop().run_in_executor(_POOL, func, *args)


async def fit_to_limit_async(data: bytes, limit: int) -> FittedImage:
    return await run_in_pool(fit_to_limit, data, limit)
