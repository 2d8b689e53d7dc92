"""Members' pictures on the way in: fetch with a byte cap, check what they really are, and make
them right for the image API (upright, 8-bit, first frame, downscaled, JPEG or PNG, within budget).

All Pillow work runs in the imaging thread pool (`bot.imaging.run_in_pool`); nothing here knows
about Discord: a picture arrives as a `SourceImage` (a name, a URL and what the sender declared).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError, features

from bot.errors import DownloadFailed, InputTooLarge, ResponseTooLarge, UnusableImage, UpstreamError
from bot.http import HttpClient
from bot.imaging import run_in_pool, signature_kind
from bot.request import InputImage, SourceImage

log = logging.getLogger(__name__)

MB = 1024 * 1024
# 8000x8000: above any camera photo worth sending, far below a decompression bomb (30000x30000).
MAX_INPUT_PIXELS = 64_000_000
DOWNLOAD_TIMEOUT = 60.0
# JPEGs may be decoded at 1/2, 1/4 or 1/8 scale when that still leaves this share of the target side.
_DRAFT_SLACK = 0.9
_DECLARED_OK = ("image/", "application/octet-stream", "binary/octet-stream")


@dataclass(frozen=True)
class InputLimits:
    """How a picture must look for one request: longest side, and the most bytes it may take."""

    max_side: int = 2048
    max_bytes: int = 7 * MB
    webp_ok: bool = True


def check_declared(source: SourceImage, max_bytes: int) -> None:
    """Refuse what the sender's own description rules out, before anything is downloaded."""
    declared = (source.content_type or "").split(";")[0].strip().lower()
    if declared and not declared.startswith(_DECLARED_OK):
        raise UnusableImage(source.name, name=source.name, reason_key=_declared_reason(declared))
    if source.size is not None and source.size > max_bytes:
        raise InputTooLarge(source.name, name=source.name, size_mb=_mb(source.size), limit_mb=_mb(max_bytes))
    if source.size == 0:
        raise UnusableImage(source.name, name=source.name, reason_key="image.empty")


async def fetch(http: HttpClient, source: SourceImage, max_bytes: int) -> bytes:
    """Download with a hard cap: the body is streamed and dropped as soon as it passes `max_bytes`."""
    try:
        return await http.download(source.url, timeout=DOWNLOAD_TIMEOUT, max_bytes=max_bytes)
    except ResponseTooLarge:
        raise InputTooLarge(
            source.name, name=source.name, size_mb=f"> {_mb(max_bytes)}", limit_mb=_mb(max_bytes)
        ) from None
    except UpstreamError as exc:
        raise DownloadFailed(f"{source.name}: {type(exc).__name__}", name=source.name) from None


async def load_inputs(
    http: HttpClient, sources: Sequence[SourceImage], limits: InputLimits, max_download: int
) -> tuple[InputImage, ...]:
    """Fetch and prepare every picture at once; the first unusable one ends the request."""
    for source in sources:
        check_declared(source, max_download)

    async def one(source: SourceImage) -> InputImage:
        data = await fetch(http, source, max_download)
        return await run_in_pool(prepare, data, source.name, limits)

    try:
        # A TaskGroup stops the other downloads as soon as one picture turns out unusable.
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(s)) for s in sources]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return tuple(task.result() for task in tasks)


def prepare(data: bytes, name: str, limits: InputLimits) -> InputImage:
    """Decode once, fix orientation and colour mode, downscale, encode once within `limits`."""
    kind = identify(data)
    if kind not in _PILLOW_KINDS:
        raise UnusableImage(name, name=name, reason_key=f"image.{kind}")
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise _too_many_pixels(name) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UnusableImage(name, name=name, reason_key="image.damaged") from None
    with img:
        if img.width * img.height > MAX_INPUT_PIXELS:  # from the header, before decoding
            raise _too_many_pixels(name)
        try:
            frame = _decode(img, limits.max_side)
        except (OSError, SyntaxError, ValueError, EOFError):
            raise UnusableImage(name, name=name, reason_key="image.damaged") from None
    return _encode_within(frame, name, limits)


def _decode(img: Image.Image, max_side: int) -> Image.Image:
    img.seek(0)  # animated GIF/WebP/APNG: the first frame
    if img.format == "JPEG" and max(img.size) > max_side:
        scale = max_side * _DRAFT_SLACK / max(img.size)
        img.draft(img.mode if img.mode in ("RGB", "L") else None, (img.width * scale, img.height * scale))
    img.load()
    orientation = img.getexif().get(0x0112, 1)
    frame = _normalise_mode(img)
    if orientation != 1:
        frame = ImageOps.exif_transpose(frame)
    if max(frame.size) > max_side:
        frame.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return frame


def _normalise_mode(img: Image.Image) -> Image.Image:
    """8-bit L, RGB or RGBA; alpha only where some pixel uses it."""
    mode = img.mode
    if mode.startswith("I") or mode == "F":
        # Deep greyscale: scale to 8 bits (a plain convert clips everything above 255 to white).
        # 16-bit files use their whole range; 32-bit and float ones say theirs only by their values.
        work = img if mode == "F" else img.convert("I")
        high = float(work.getextrema()[1] or 0)  # type: ignore[index]
        if mode.startswith("I;16"):
            top = 65535.0
        elif mode == "F" and high <= 1.0:
            top = 1.0
        else:
            top = max(high, 255.0)
        return work.point(lambda v: v * (255 / top)).convert("L")
    if mode == "1":
        return img.convert("L")
    if mode in ("L", "RGB") and "transparency" in img.info:
        img = img.convert("RGBA")  # a tRNS colour key: transparency without an alpha channel
    if mode in ("P", "PA"):
        img = img.convert("RGBA" if _palette_has_alpha(img) else "RGB")
    elif mode in ("LA", "La", "RGBa", "RGBA"):
        img = img.convert("RGBA")
    elif mode not in ("L", "RGB"):
        img = img.convert("RGB")  # CMYK, YCbCr, LAB, HSV
    if img.mode == "RGBA" and img.getchannel("A").getextrema()[0] == 255:
        img = img.convert("RGB")
    return img


def _palette_has_alpha(img: Image.Image) -> bool:
    return img.mode == "PA" or "transparency" in img.info


def _encode_within(img: Image.Image, name: str, limits: InputLimits) -> InputImage:
    for scale in (1.0, 0.75, 0.5, 0.35):
        frame = img
        if scale < 1.0:
            frame = img.resize(
                (max(1, round(img.width * scale)), max(1, round(img.height * scale))),
                Image.Resampling.LANCZOS,
            )
        for data, mime in _encodings(frame, limits.webp_ok):
            if len(data) <= limits.max_bytes:
                return InputImage(data, mime)
    raise UnusableImage(name, name=name, reason_key="image.cannot_fit", limit_mb=_mb(limits.max_bytes))


def _encodings(img: Image.Image, webp_ok: bool) -> Iterator[tuple[bytes, str]]:
    if img.mode == "RGBA":
        yield _save(img, "PNG", compress_level=3), "image/png"
        if webp_ok:
            yield _save(img, "WEBP", quality=90, method=3), "image/webp"
        return
    for quality in (90, 80, 70):
        yield _save(img, "JPEG", quality=quality), "image/jpeg"


def _save(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


# --- what the bytes are ---------------------------------------------------------------------------

_PILLOW_KINDS = {"png", "jpeg", "gif", "webp", "bmp", "tiff", *(("avif",) if features.check("avif") else ())}


def identify(data: bytes) -> str:
    """The file's real kind from its first bytes: an image kind, or why it is not a usable one."""
    if not data:
        return "empty"
    kind = signature_kind(data)
    if kind == "avif" and "avif" not in _PILLOW_KINDS:
        return "heic"
    if kind is not None:
        return kind
    text = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "svg"
    if text.startswith((b"<!doctype html", b"<html")):
        return "html"
    try:
        data[:512].decode("utf-8")
    except UnicodeDecodeError:
        return "unknown"
    return "text"


def _declared_reason(declared: str) -> str:
    if declared == "application/pdf":
        return "image.pdf"
    if declared.startswith("text/"):
        return "image.text"
    if declared.startswith("video/"):
        return "image.video"
    return "image.unknown"


def _too_many_pixels(name: str) -> UnusableImage:
    return UnusableImage(
        name, name=name, reason_key="image.too_many_pixels", megapixels=MAX_INPUT_PIXELS // 1_000_000
    )


def _mb(size: int) -> str:
    megabytes = size / MB
    return f"{megabytes:.2f}" if megabytes < 1 else f"{megabytes:.1f}".removesuffix(".0")
