"""The core with input images (edit, blend) on every format, against the fake relay, without Discord."""

from __future__ import annotations

import base64
import io
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from PIL import Image

from bot.config import GeminiAuth, Settings
from bot.directory import ModelDirectory
from bot.errors import BlendImageCount, ImagesNotAccepted, TooManyImages
from bot.http import HttpClient
from bot.i18n import Catalog
from bot.providers import build_providers
from bot.providers.base import InputImage, Kind
from bot.redact import Redactor
from bot.routing import parse_models
from bot.service import ImageService
from tests.conftest import API_KEY, FAST_RETRIES
from tests.fakes.relay import FakeRelay, png

MODELS = "gemini-2.5-flash-image,gemini-3-pro-image-preview,gpt-4o-image,gpt-image-1,dall-e-3,midjourney"
LIMIT = 10 * 1024 * 1024


@pytest.fixture
async def service(relay: FakeRelay, tmp_path: Path) -> AsyncIterator[ImageService]:
    settings = Settings(
        discord_token="t" * 20,
        api_key=API_KEY,
        api_base_url=relay.base_url,
        models=tuple(parse_models(MODELS)),
        gemini_auth=GeminiAuth.BEARER,
        data_dir=tmp_path,
        request_timeout=10,
        mj_poll_seconds=0.01,
    )
    async with aiohttp.ClientSession() as session:
        http = HttpClient(session, Redactor(settings.secrets), FAST_RETRIES)
        yield ImageService(settings, build_providers(settings, http), ModelDirectory(settings, http), http)


def inputs(count: int) -> tuple[InputImage, ...]:
    return tuple(InputImage(png(40 + i, 30, (i * 40, 0, 0)), "image/png") for i in range(count))


async def run(service: ImageService, kind: Kind, model: str, images: tuple[InputImage, ...], **kw: str):
    plan = service.plan(kind, kw.pop("prompt", "make it blue"), model=model, images=images, **kw)
    return await service.run(plan, max_file_bytes=LIMIT)


async def test_gemini_sends_every_image_inline(service: ImageService, relay: FakeRelay) -> None:
    images = inputs(3)
    delivery = await run(service, Kind.EDIT, "gemini-3-pro-image-preview", images, aspect_ratio="4:3")
    (call,) = relay.generate_calls()
    parts = call.body["contents"][0]["parts"]
    assert parts[0] == {"text": "make it blue"}
    assert parts[1:] == [
        {"inline_data": {"mime_type": "image/png", "data": base64.b64encode(i.data).decode()}} for i in images
    ]
    assert delivery.images


async def test_chat_sends_data_urls_after_the_instruction(service: ImageService, relay: FakeRelay) -> None:
    images = inputs(2)
    await run(service, Kind.EDIT, "gpt-4o-image", images)
    (call,) = relay.calls_to("/v1/chat/completions")
    content = call.body["messages"][0]["content"]
    assert content[0] == {
        "type": "text",
        "text": "Edit the first image as follows; any other images are references.\n\nmake it blue",
    }
    assert content[1:] == [{"type": "image_url", "image_url": {"url": i.data_url()}} for i in images]


@pytest.mark.parametrize(("count", "field"), [(1, "image"), (3, "image[]")])
async def test_images_edit_is_multipart_with_real_types(
    service: ImageService, relay: FakeRelay, count: int, field: str
) -> None:
    images = inputs(count)
    delivery = await run(service, Kind.EDIT, "gpt-image-1", images, aspect_ratio="2:3")
    (call,) = relay.calls_to("/v1/images/edits")
    files = call.body.pop("_files")
    assert call.body == {"model": "gpt-image-1", "prompt": "make it blue", "n": "1", "size": "1024x1536"}
    assert [(f.name, f.filename, f.content_type) for f in files] == [
        (field, f"image_{i + 1}.png", "image/png") for i in range(count)
    ]
    assert [f.data for f in files] == [i.data for i in images]
    assert call.headers["Authorization"] == f"Bearer {API_KEY}"
    assert Image.open(io.BytesIO(delivery.images[0].data)).size == (85, 128)


async def test_images_edit_retries_once_with_the_other_field_name(
    service: ImageService, relay: FakeRelay
) -> None:
    relay.queue("images_wants_array")
    delivery = await run(service, Kind.EDIT, "gpt-image-1", inputs(1))
    first, second = relay.calls_to("/v1/images/edits")
    assert [f.name for f in first.body["_files"]] == ["image"]
    assert [f.name for f in second.body["_files"]] == ["image[]"]
    assert delivery.images


async def test_midjourney_blend(service: ImageService, relay: FakeRelay) -> None:
    images = inputs(3)
    delivery = await run(service, Kind.BLEND, "midjourney", images, prompt="", aspect_ratio="2:3")
    (call,) = relay.calls_to("/mj/submit/")
    assert call.path == "/mj/submit/blend"
    assert call.body == {
        "base64Array": [i.data_url() for i in images],
        "dimensions": "PORTRAIT",
        "botType": "MID_JOURNEY",
    }
    assert delivery.task_id and [a.label for a in delivery.actions][:4] == ["U1", "U2", "U3", "U4"]


async def test_midjourney_imagine_with_a_reference_image(service: ImageService, relay: FakeRelay) -> None:
    (image,) = inputs(1)
    await run(service, Kind.IMAGINE, "midjourney", (image,), prompt="in this style")
    (call,) = relay.calls_to("/mj/submit/imagine")
    assert call.body["base64Array"] == [image.data_url()]
    assert call.body["base64Array"][0].startswith("data:image/png;base64,iVBOR")


@pytest.mark.parametrize(
    ("kind", "model", "count", "error", "message"),
    [
        (
            Kind.BLEND,
            "midjourney",
            7,
            BlendImageCount,
            "midjourney blends 2 to 5 pictures, and you gave 7. Give it 2 to 5, or pick another model.",
        ),
        (
            Kind.BLEND,
            "midjourney",
            1,
            BlendImageCount,
            "midjourney blends 2 to 5 pictures, and you gave 1. Give it 2 to 5, or pick another model.",
        ),
        (
            Kind.EDIT,
            "gemini-2.5-flash-image",
            4,
            TooManyImages,
            "gemini-2.5-flash-image takes at most 3 pictures, and you gave 4. Remove some, or pick a model that takes more.",
        ),
        (
            Kind.EDIT,
            "dall-e-3",
            1,
            ImagesNotAccepted,
            "dall-e-3 makes pictures from text only and cannot take input images. Pick another model.",
        ),
    ],
)
async def test_requests_beyond_a_models_abilities_are_refused_before_any_call(
    service: ImageService,
    relay: FakeRelay,
    kind: Kind,
    model: str,
    count: int,
    error: type[Exception],
    message: str,
) -> None:
    from bot.errors import render_error

    with pytest.raises(error) as caught:
        service.plan(kind, "mix them", model=model, images=inputs(count))
    assert render_error(caught.value, Catalog.load([]), "en-US") == message  # type: ignore[arg-type]
    assert not relay.calls
