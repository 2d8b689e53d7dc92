"""The intake pipeline on a generated corpus of broken and unusual pictures."""

from __future__ import annotations

import io
import struct

import pytest
from PIL import Image

from bot.errors import InputTooLarge, UnusableImage, render_error
from bot.i18n import Catalog
from bot.imaging import sniff
from bot.inputs import InputLimits, SourceImage, check_declared, identify, prepare
from tests.fakes import pictures

LIMITS = InputLimits()


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def message(error: Exception) -> str:
    return render_error(error, Catalog.load([]), "en-US")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (pictures.text_named_png(), "notes.png can't be used: it is a text file, not a picture."),
        (b"", "notes.png can't be used: the file is empty."),
        (pictures.truncated_png(), "notes.png can't be used: the file is damaged or cut off."),
        (pictures.jpeg_then_garbage(), "notes.png can't be used: the file is damaged or cut off."),
        (
            pictures.png_bomb(),
            "notes.png can't be used: it has too many pixels (the limit is 64 megapixels).",
        ),
        (
            pictures.svg(),
            "notes.png can't be used: it is an SVG drawing, which image APIs do not take. Export it as PNG "
            "first.",
        ),
        (
            pictures.pdf(),
            "notes.png can't be used: it is a PDF document, not a picture. Take a screenshot of the page "
            "instead.",
        ),
        (
            b"<!DOCTYPE html><html><body>404</body></html>",
            "notes.png can't be used: it is a web page, not a picture.",
        ),
        (
            bytes(range(256)) * 4,
            "notes.png can't be used: it is not a picture format the bot knows (PNG, JPEG, "
            "WebP, GIF, BMP, TIFF, AVIF).",
        ),
    ],
)
def test_broken_files_are_refused_with_a_reason_that_names_them(data: bytes, text: str) -> None:
    with pytest.raises(UnusableImage) as caught:
        prepare(data, "notes.png", LIMITS)
    assert message(caught.value) == text


def test_heic_is_named_as_such() -> None:
    with pytest.raises(UnusableImage) as caught:
        prepare(pictures.heic(), "IMG_0001.HEIC", LIMITS)
    assert message(caught.value).startswith("IMG_0001.HEIC can't be used: it is a HEIC/HEIF photo")


def test_avif_is_read_when_pillow_can() -> None:
    from PIL import features

    if not features.check("avif"):
        pytest.skip("this Pillow build has no AVIF support")
    data = pictures.encode(Image.new("RGB", (50, 40), (0, 200, 0)), "AVIF")
    assert identify(data) == "avif"
    out = opened(prepare(data, "a.avif", LIMITS).data)
    assert out.size == (50, 40)


@pytest.mark.parametrize(
    ("source", "text"),
    [
        (
            SourceImage("big.png", "u", "image/png", 200 * 1024 * 1024),
            "big.png is too big (200 MB); pictures may be up to 25 MB.",
        ),
        (
            SourceImage("doc.pdf", "u", "application/pdf", 1000),
            "doc.pdf can't be used: it is a PDF document, "
            "not a picture. Take a screenshot of the page instead.",
        ),
        (
            SourceImage("notes.txt", "u", "text/plain; charset=utf-8", 10),
            "notes.txt can't be used: it is a text file, not a picture.",
        ),
        (
            SourceImage("clip.mp4", "u", "video/mp4", 10),
            "clip.mp4 can't be used: it is a video, not a picture.",
        ),
        (SourceImage("empty.png", "u", "image/png", 0), "empty.png can't be used: the file is empty."),
    ],
)
def test_declared_type_and_size_are_checked_before_downloading(source: SourceImage, text: str) -> None:
    with pytest.raises((UnusableImage, InputTooLarge)) as caught:
        check_declared(source, 25 * 1024 * 1024)
    assert message(caught.value) == text


def test_declared_nothing_or_octet_stream_is_fetched_and_sniffed() -> None:
    check_declared(SourceImage("a", "u", None, None), 10)
    check_declared(SourceImage("a", "u", "application/octet-stream", 5), 10)


def test_cmyk_jpeg_becomes_rgb_with_the_right_colour() -> None:
    prepared = prepare(pictures.cmyk_jpeg(), "cmyk.jpg", LIMITS)
    out = opened(prepared.data)
    assert (prepared.mime, out.mode, out.size) == ("image/jpeg", "RGB", (64, 48))
    r, g, b = out.getpixel((32, 24))  # type: ignore[misc]
    assert r > 200 and g < 60 and b < 60


def test_16_bit_png_is_scaled_not_clipped() -> None:
    out = opened(prepare(pictures.grey16_png(32768), "scan.png", LIMITS).data)
    assert out.mode == "L"
    assert 125 <= out.getpixel((5, 5)) <= 130  # type: ignore[operator]


def test_greyscale_png_with_alpha_keeps_its_alpha() -> None:
    prepared = prepare(pictures.grey_alpha_png(), "logo.png", LIMITS)
    out = opened(prepared.data)
    assert (prepared.mime, out.mode) == ("image/png", "RGBA")
    assert out.getpixel((0, 0))[3] == 0 and out.getpixel((5, 5)) == (200, 200, 200, 255)  # type: ignore[index]


def test_animated_gif_gives_its_first_frame() -> None:
    prepared = prepare(pictures.animated_gif(), "dance.gif", LIMITS)
    out = opened(prepared.data)
    assert prepared.mime == "image/jpeg"
    r, g, b = out.getpixel((16, 16))  # type: ignore[misc]
    assert r > 200 and g < 50 and b < 50


def test_phone_photo_comes_out_upright() -> None:
    out = opened(prepare(pictures.exif_rotated_jpeg(), "IMG_1234.jpg", LIMITS).data)
    assert out.size == (40, 80)
    top, bottom = out.getpixel((20, 10)), out.getpixel((20, 70))
    assert top[0] > 200 and top[2] < 60, "the red half is on top"  # type: ignore[index]
    assert bottom[2] > 200 and bottom[0] < 60  # type: ignore[index]
    assert 0x0112 not in out.getexif(), "no orientation left for the API to apply twice"


def test_palette_png_with_transparency_keeps_it() -> None:
    prepared = prepare(pictures.palette_transparent_png(), "sprite.png", LIMITS)
    out = opened(prepared.data)
    assert (prepared.mime, out.mode) == ("image/png", "RGBA")
    assert out.getpixel((0, 0))[3] == 0 and out.getpixel((5, 5)) == (255, 128, 0, 255)  # type: ignore[index]


def test_opaque_alpha_channel_is_dropped() -> None:
    data = pictures.encode(Image.new("RGBA", (30, 30), (1, 2, 3, 255)), "PNG")
    assert prepare(data, "flat.png", LIMITS).mime == "image/jpeg"


def test_large_camera_jpeg_is_decoded_small_and_reencoded() -> None:
    data = pictures.camera_jpeg(4000, 3000)
    prepared = prepare(data, "DSC0001.JPG", LIMITS)
    out = opened(prepared.data)
    assert prepared.mime == "image/jpeg"
    assert 1843 <= max(out.size) <= 2048 and out.size[0] * 3 == out.size[1] * 4
    assert len(prepared.data) < len(data) / 4


def test_large_png_is_downscaled_to_the_long_side() -> None:
    data = pictures.encode(pictures.photo(3000, 1000), "PNG")
    out = opened(prepare(data, "wide.png", InputLimits(max_side=1024)).data)
    assert out.size == (1024, 341)


def test_byte_budget_is_kept() -> None:
    data = pictures.noisy_rgba_png(700)
    prepared = prepare(data, "noise.png", InputLimits(max_bytes=300_000))
    assert len(prepared.data) <= 300_000
    assert opened(prepared.data).mode == "RGBA"


def test_impossible_budget_is_explained() -> None:
    with pytest.raises(UnusableImage) as caught:
        prepare(pictures.noisy_rgba_png(300), "noise.png", InputLimits(max_bytes=20_000, webp_ok=False))
    assert message(caught.value) == (
        "noise.png can't be used: it cannot be made small enough for this model (0.02 MB)."
    )


def test_base64_is_computed_once() -> None:
    prepared = prepare(pictures.cmyk_jpeg(), "a.jpg", LIMITS)
    assert prepared.b64 is prepared.b64
    assert prepared.data_url() == f"data:image/jpeg;base64,{prepared.b64}"


def test_colour_key_transparency_without_an_alpha_channel_is_kept() -> None:
    img = Image.new("L", (20, 10), 200)
    img.paste(0, (0, 0, 10, 10))
    prepared = prepare(pictures.encode(img, "PNG", transparency=0), "key.png", LIMITS)
    out = opened(prepared.data)
    assert (prepared.mime, out.mode) == ("image/png", "RGBA")
    assert out.getpixel((2, 2))[3] == 0 and out.getpixel((15, 5)) == (200, 200, 200, 255)  # type: ignore[index]


@pytest.mark.parametrize(
    ("img", "expected"),
    [
        (Image.new("F", (64, 64), 0.5), 127),
        (Image.new("I", (64, 64), 500), 127),
    ],
)
def test_float_and_32_bit_greyscale_use_their_own_range(img: Image.Image, expected: int) -> None:
    img.putpixel((0, 0), 1.0 if img.mode == "F" else 1000)
    out = opened(prepare(pictures.encode(img, "TIFF"), "deep.tif", LIMITS).data)
    assert out.mode == "L" and abs(out.getpixel((40, 40)) - expected) <= 3  # type: ignore[operator]


@pytest.mark.parametrize(
    ("fmt", "kind", "mime"),
    [
        ("PNG", "png", "image/png"),
        ("JPEG", "jpeg", "image/jpeg"),
        ("GIF", "gif", "image/gif"),
        ("WEBP", "webp", "image/webp"),
        ("BMP", "bmp", None),
        ("TIFF", "tiff", None),
    ],
)
def test_intake_and_results_read_the_same_signatures(fmt: str, kind: str, mime: str | None) -> None:
    data = pictures.encode(Image.new("RGB", (4, 4)), fmt)
    assert (identify(data), sniff(data)) == (kind, mime), "a result is only one of the four Discord shows"


def test_iso_media_files_are_told_apart_by_brand() -> None:
    video = struct.pack(">I", 24) + b"ftypisom" + b"\x00" * 16
    assert (identify(pictures.heic()), identify(video)) == ("heic", "video")
    assert sniff(pictures.heic()) is None and sniff(video) is None
