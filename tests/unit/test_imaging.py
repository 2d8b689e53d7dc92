from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from bot.errors import OutputTooLarge
from bot.imaging import decode_base64, extension, fit_to_limit, sniff
from tests.fakes.relay import noise_png, png


def encode(img: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt)
    return buffer.getvalue()


def test_sniff_by_magic_bytes() -> None:
    rgb = Image.new("RGB", (4, 4))
    assert sniff(encode(rgb, "PNG")) == "image/png"
    assert sniff(encode(rgb, "JPEG")) == "image/jpeg"
    assert sniff(encode(rgb, "GIF")) == "image/gif"
    assert sniff(encode(rgb, "WEBP")) == "image/webp"
    assert sniff(b"<html>") is None and sniff(b"") is None
    assert extension("image/jpeg") == "jpg"


def test_decode_base64_rejects_garbage() -> None:
    assert decode_base64("!!!") is None
    assert decode_base64("aGVsbG8") == b"hello"


def test_small_image_is_kept_byte_for_byte() -> None:
    data = png(64, 32)
    fitted = fit_to_limit(data, 10 * 2**20)
    assert (fitted.data, fitted.mime, fitted.width, fitted.height) == (data, "image/png", 64, 32)


def test_large_image_is_reencoded_under_the_limit() -> None:
    data = noise_png(700, 700)
    limit = 400_000
    assert len(data) > limit
    fitted = fit_to_limit(data, limit)
    assert len(fitted.data) <= limit
    assert sniff(fitted.data) == fitted.mime != "image/png"
    with Image.open(io.BytesIO(fitted.data)) as img:
        assert img.size == (fitted.width, fitted.height)


def test_transparency_is_kept_when_reencoding() -> None:
    img = Image.frombytes(
        "RGBA", (300, 300), bytes(range(256)) * (300 * 300 * 4 // 256) + bytes(300 * 300 * 4 % 256)
    )
    data = encode(img, "PNG")
    fitted = fit_to_limit(data, len(data) - 1)
    assert fitted.mime == "image/webp"
    with Image.open(io.BytesIO(fitted.data)) as out:
        assert out.mode == "RGBA"


def test_impossible_limit() -> None:
    with pytest.raises(OutputTooLarge):
        fit_to_limit(noise_png(200, 200), 50)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def test_pixel_bomb_is_refused_before_decoding() -> None:
    with pytest.raises(OutputTooLarge):
        fit_to_limit(_png_header_only(30_000, 30_000), 10 * 2**20)


def test_a_result_with_an_orientation_tag_is_turned_before_reencoding() -> None:
    img = Image.frombytes(
        "RGB", (400, 200), bytes(range(256)) * (400 * 200 * 3 // 256) + bytes(400 * 200 * 3 % 256)
    )
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode_with(img, "JPEG", exif=exif.tobytes(), quality=100)
    fitted = fit_to_limit(data, len(data) - 1)
    assert (fitted.width, fitted.height) == (200, 400)


def encode_with(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()
