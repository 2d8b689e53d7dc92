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


@dataclass(frozen=True)
class Signature:
    """A kind of file and the bytes that give it away: at each offset, any one of the strings."""

    kind: str
    marks: tuple[tuple[int, tuple[bytes, ...]], ...]

    def matches(self, data: bytes) -> bool:
        return all(any(data.startswith(mark, offset) for mark in options) for offset, options in self.marks)


_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis")

# The one table of magic bytes; first match wins, so a specific signature goes before a general one.
SIGNATURES: tuple[Signature, ...] = (
    Signature("png", ((0, (b"\x89PNG\r\n\x1a\n",)),)),
    Signature("jpeg", ((0, (b"\xff\xd8\xff",)),)),
    Signature("gif", ((0, (b"GIF87a", b"GIF89a")),)),
    Signature("webp", ((0, (b"RIFF",)), (8, (b"WEBP",)))),
    Signature("bmp", ((0, (b"BM",)),)),
    Signature("tiff", ((0, (b"II*\x00", b"MM\x00*")),)),
    # MP4, MOV, HEIF and AVIF are all ISO media files: the brand after "ftyp" tells them apart.
    Signature("avif", ((4, (b"ftyp",)), (8, (b"avif", b"avis")))),
    Signature("heic", ((4, (b"ftyp",)), (8, _HEIF_BRANDS))),
    Signature("video", ((4, (b"ftyp",)),)),
    Signature("pdf", ((0, (b"%PDF",)),)),
)

# What an image API may hand back and Discord shows inline; any other kind is not a usable result.
_RESULT_MIMES = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def signature_kind(data: bytes) -> str | None:
    """The kind of file its first bytes announce (`SIGNATURES`), or None when none does."""
    return next((signature.kind for signature in SIGNATURES if signature.matches(data)), None)


def sniff(data: bytes) -> str | None:
    """The image type from the first bytes; the declared type and the file name are not trusted."""
    kind = signature_kind(data)
    return _RESULT_MIMES.get(kind) if kind else None


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
