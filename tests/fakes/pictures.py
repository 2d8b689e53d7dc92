"""A corpus of real-world input files, broken and unusual, made on the fly (nothing binary is committed)."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()


def photo(width: int, height: int) -> Image.Image:
    """Something photo-like: smooth gradients plus sensor noise, so JPEG sizes are realistic."""
    base = Image.radial_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 24)
    return Image.merge("RGB", (base, base.transpose(Image.Transpose.FLIP_LEFT_RIGHT), noise))


def camera_jpeg(width: int = 4000, height: int = 3000, quality: int = 92) -> bytes:
    return encode(photo(width, height), "JPEG", quality=quality)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header that claims a huge picture, with almost no data behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width * 3 + 1) * 8, 9)  # a few rows; the rest is missing
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", rows) + png_chunk(b"IEND", b"")
    )


def text_named_png() -> bytes:
    return b"This is not a picture, just notes saved as notes.png\n" * 4


def truncated_png() -> bytes:
    data = encode(photo(300, 200), "PNG")
    return data[: len(data) // 2]


def jpeg_then_garbage() -> bytes:
    return b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20


def svg() -> bytes:
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect/></svg>'
    )


def pdf() -> bytes:
    return b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def heic() -> bytes:
    return struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00mif1heic" + b"\x00" * 64


def cmyk_jpeg() -> bytes:
    """Pure red in CMYK: C=0 M=255 Y=255 K=0."""
    return encode(Image.new("CMYK", (64, 48), (0, 255, 255, 0)), "JPEG", quality=95)


def grey16_png(value: int = 32768) -> bytes:
    return encode(Image.new("I;16", (40, 30), value), "PNG")


def grey_alpha_png() -> bytes:
    img = Image.new("LA", (40, 30), (200, 255))
    img.putpixel((0, 0), (10, 0))
    return encode(img, "PNG")


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def exif_rotated_jpeg() -> bytes:
    """Stored 80x40 (landscape) with orientation 6: a phone held upright; it must come out 40x80."""
    img = Image.new("RGB", (80, 40), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 40, 40))  # left half red: after rotating 90° clockwise it is on top
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(img, "JPEG", exif=exif.tobytes(), quality=95)


def palette_transparent_png() -> bytes:
    img = Image.new("P", (20, 20), 1)
    img.putpalette([0, 0, 0, 255, 128, 0] + [0] * (254 * 3))
    img.putpixel((0, 0), 0)
    return encode(img, "PNG", transparency=0)


def noisy_rgba_png(side: int) -> bytes:
    import os

    return encode(Image.frombytes("RGBA", (side, side), os.urandom(side * side * 4)), "PNG", compress_level=1)
