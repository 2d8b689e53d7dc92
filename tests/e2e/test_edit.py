"""/edit, /blend and the Edit image / Blend images context menus, end to end."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from bot.routing import parse_models
from tests.e2e.cards import card_of
from tests.e2e.helpers import EPHEMERAL, images_of, private_error, wait_result
from tests.fakes import pictures
from tests.fakes.discord import FakeDiscord, SentInteraction
from tests.fakes.relay import FakeRelay, png

MODELS = "gemini-2.5-flash-image,gemini-3-pro-image-preview,gpt-4o-image,gpt-image-1,dall-e-2,midjourney"


@pytest.fixture
def start(start_bot):
    async def start(**changes: Any):
        changes.setdefault("models", tuple(parse_models(MODELS)))
        changes.setdefault("mj_poll_seconds", 0.01)
        return await start_bot(**changes)

    return start


async def command(discord_fake: FakeDiscord, name: str, **options: Any) -> SentInteraction:
    return await discord_fake.send_interaction(discord_fake.slash(name, options))


def decoded_inline(call: Any) -> list[Image.Image]:
    parts = call.body["contents"][0]["parts"][1:]
    return [Image.open(io.BytesIO(base64.b64decode(p["inline_data"]["data"]))) for p in parts]


async def test_edit_sends_the_prepared_picture_and_posts_the_result(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    photo = pictures.camera_jpeg(3000, 2000)
    image = discord_fake.attachment("holiday.jpg", photo, "image/jpeg")
    sent = await command(discord_fake, "edit", image=image, prompt="add a rainbow")
    final = await wait_result(discord_fake, sent)

    callback = discord_fake.callback(sent)
    assert callback is not None and callback.payload == {"type": 5}
    (call,) = relay.generate_calls()
    assert call.body["contents"][0]["parts"][0] == {"text": "add a rainbow"}
    (sent_picture,) = decoded_inline(call)
    assert sent_picture.format == "JPEG" and sent_picture.size == (2048, 1365)
    assert len(base64.b64decode(call.body["contents"][0]["parts"][1]["inline_data"]["data"])) < len(photo) / 2
    assert images_of(final)[0].format == "PNG"
    assert card_of(final.payload).prompt == "add a rainbow"
    downloads = [c for c in discord_fake.calls if c.path.startswith("/cdn/")]
    assert len(downloads) == 1 and downloads[0].query["ex"] == "6a1b2c3d", (
        "the signed URL is fetched as given"
    )


async def test_edit_with_references_on_every_format(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    first = discord_fake.attachment("a.png", png(60, 40, (200, 0, 0)))
    second = discord_fake.attachment("b.png", png(50, 50, (0, 200, 0)))
    for model in ("gemini-3-pro-image-preview", "gpt-4o-image", "gpt-image-1", "midjourney"):
        sent = await command(
            discord_fake, "edit", image=first, image2=second, prompt="swap colours", model=model
        )
        assert (await wait_result(discord_fake, sent)).files, model
    (gemini,) = relay.generate_calls()
    assert [i.size for i in decoded_inline(gemini)] == [(60, 40), (50, 50)]
    (chat,) = relay.calls_to("/v1/chat/completions")
    assert [p["type"] for p in chat.body["messages"][0]["content"]] == ["text", "image_url", "image_url"]
    (edits,) = relay.calls_to("/v1/images/edits")
    assert [(f.name, f.content_type) for f in edits.body["_files"]] == [("image[]", "image/jpeg")] * 2
    (mj,) = relay.calls_to("/mj/submit/imagine")
    assert [u[:23] for u in mj.body["base64Array"]] == ["data:image/jpeg;base64,"] * 2


@pytest.mark.parametrize("count", [3, 5])
async def test_blend(start, discord_fake: FakeDiscord, relay: FakeRelay, count: int) -> None:
    await start()
    files = {f"image{i + 1}": discord_fake.attachment(f"p{i}.png", png(40 + i, 40)) for i in range(count)}
    sent = await command(discord_fake, "blend", **files, model="gemini-3-pro-image-preview")
    final = await wait_result(discord_fake, sent)
    (call,) = relay.generate_calls()
    assert call.body["contents"][0]["parts"][0]["text"].startswith("Blend these pictures")
    assert [i.size for i in decoded_inline(call)] == [(40 + i, 40) for i in range(count)]
    assert final.files


async def test_blend_on_midjourney_takes_no_prompt_and_maps_the_ratio(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    files = {f"image{i + 1}": discord_fake.attachment(f"p{i}.png", png(40, 40)) for i in range(2)}
    sent = await command(discord_fake, "blend", **files, model="midjourney", aspect_ratio="16:9")
    final = await wait_result(discord_fake, sent)
    (call,) = relay.calls_to("/mj/submit/blend")
    assert call.body["dimensions"] == "LANDSCAPE" and len(call.body["base64Array"]) == 2
    assert final.payload["components"], "the blend grid has its buttons"


async def test_too_many_pictures_for_the_model_is_refused_before_any_download(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    files = {f"image{i + 1}": discord_fake.attachment(f"p{i}.png", png()) for i in range(4)}
    sent = await command(discord_fake, "blend", **files, model="gemini-2.5-flash-image", prompt="mix")
    assert await private_error(discord_fake, sent) == (
        "gemini-2.5-flash-image takes at most 3 pictures, and you gave 4. Remove some, or pick a model that takes more."
    )
    assert discord_fake.callback(sent).payload["data"]["flags"] == EPHEMERAL  # type: ignore[union-attr]
    assert not [c for c in discord_fake.calls if c.path.startswith("/cdn/")] and not relay.calls


BROKEN = [
    (
        "notes.png",
        pictures.text_named_png(),
        "image/png",
        "notes.png can't be used: it is a text file, not a picture.",
    ),
    ("empty.png", b"", "image/png", "empty.png can't be used: the file is empty."),
    (
        "cut.png",
        pictures.truncated_png(),
        "image/png",
        "cut.png can't be used: the file is damaged or cut off.",
    ),
    (
        "bad.jpg",
        pictures.jpeg_then_garbage(),
        "image/jpeg",
        "bad.jpg can't be used: the file is damaged or cut off.",
    ),
    (
        "bomb.png",
        pictures.png_bomb(),
        "image/png",
        "bomb.png can't be used: it has too many pixels (the limit is 64 megapixels).",
    ),
    (
        "logo.svg",
        pictures.svg(),
        "image/svg+xml",
        "logo.svg can't be used: it is an SVG drawing, which image APIs do not take. Export it as PNG first.",
    ),
    (
        "page.pdf",
        pictures.pdf(),
        "application/pdf",
        "page.pdf can't be used: it is a PDF document, not a picture. Take a screenshot of the page instead.",
    ),
]


@pytest.mark.parametrize(("name", "data", "content_type", "message"), BROKEN)
async def test_broken_inputs_get_a_private_reason_that_names_the_file(
    start,
    discord_fake: FakeDiscord,
    relay: FakeRelay,
    name: str,
    data: bytes,
    content_type: str,
    message: str,
) -> None:
    await start()
    image = discord_fake.attachment(name, data, content_type)
    sent = await command(discord_fake, "edit", image=image, prompt="fix it")
    assert await private_error(discord_fake, sent) == message
    assert not relay.calls


async def test_a_200_mb_file_is_refused_from_its_declared_size(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    image = discord_fake.attachment("huge.png", png(), "image/png", size=200 * 1024 * 1024)
    sent = await command(discord_fake, "edit", image=image, prompt="fix it")
    assert (
        await private_error(discord_fake, sent)
        == "huge.png is too big (200 MB); pictures may be up to 25 MB."
    )
    assert not [c for c in discord_fake.calls if c.path.startswith("/cdn/")]


async def test_a_file_larger_than_declared_is_cut_off_while_downloading(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start(max_input_bytes=1024 * 1024)
    image = discord_fake.attachment("liar.png", pictures.noisy_rgba_png(900), "image/png", size=1000)
    sent = await command(discord_fake, "edit", image=image, prompt="fix it")
    assert (
        await private_error(discord_fake, sent) == "liar.png is too big (> 1 MB); pictures may be up to 1 MB."
    )
    assert not relay.calls


async def test_empty_prompt_and_too_long_prompt(start, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start()
    image = discord_fake.attachment("a.png", png())
    sent = await command(discord_fake, "edit", image=image, prompt="   ")
    assert (await private_error(discord_fake, sent)).startswith("Your prompt is empty.")
    sent = await command(discord_fake, "edit", image=image, prompt="x" * 1500, model="dall-e-2")
    assert await private_error(discord_fake, sent) == (
        "That prompt is too long for dall-e-2: keep it under 1000 characters."
    )
    assert not relay.calls


UNUSUAL = [
    ("cmyk.jpg", pictures.cmyk_jpeg(), "image/jpeg", (64, 48)),
    ("scan.png", pictures.grey16_png(), "image/png", (40, 30)),
    ("logo.png", pictures.grey_alpha_png(), "image/png", (40, 30)),
    ("dance.gif", pictures.animated_gif(), "image/gif", (32, 32)),
    ("IMG_1234.jpg", pictures.exif_rotated_jpeg(), "image/jpeg", (40, 80)),
    ("sprite.png", pictures.palette_transparent_png(), "image/png", (20, 20)),
]


@pytest.mark.parametrize(("name", "data", "content_type", "size"), UNUSUAL)
async def test_unusual_but_valid_inputs_work(
    start,
    discord_fake: FakeDiscord,
    relay: FakeRelay,
    name: str,
    data: bytes,
    content_type: str,
    size: tuple[int, int],
) -> None:
    await start()
    image = discord_fake.attachment(name, data, content_type)
    final = await wait_result(
        discord_fake, await command(discord_fake, "edit", image=image, prompt="tidy up")
    )
    assert final.files
    (sent,) = decoded_inline(relay.generate_calls()[0])
    assert sent.size == size and sent.mode in ("RGB", "RGBA", "L")


# --- context menus --------------------------------------------------------------------------------


async def open_menu(
    discord_fake: FakeDiscord, name: str, message: dict[str, Any]
) -> tuple[SentInteraction, Any]:
    sent = await discord_fake.send_interaction(discord_fake.message_menu(name, message))
    callback = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    return sent, callback


async def submit(discord_fake: FakeDiscord, modal: Any, text: str) -> SentInteraction:
    (row,) = modal.payload["data"]["components"]
    field = row["components"][0]
    payload = discord_fake.modal_submit(modal.payload["data"]["custom_id"], {field["custom_id"]: text})
    return await discord_fake.send_interaction(payload)


async def test_edit_image_menu_asks_for_a_prompt_then_edits(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    message = discord_fake.message(
        "look at this",
        attachments=[
            discord_fake.attachment("cat.png", png(64, 64, (255, 0, 0))),
            discord_fake.attachment("notes.txt", b"hello", "text/plain"),
            discord_fake.attachment("dog.png", png(32, 32, (0, 0, 255))),
        ],
        embeds=[
            {
                "type": "image",
                "image": {
                    "url": "http://members-own-server.invalid/linked.png",
                    "proxy_url": discord_fake.add_cdn_file("linked.png", png(16, 16)),
                },
            }
        ],
    )
    _, modal = await open_menu(discord_fake, "Edit image", message)
    assert modal.payload["type"] == 9 and modal.payload["data"]["title"] == "Edit image"
    field = modal.payload["data"]["components"][0]["components"][0]
    assert field["required"] is True and field["label"] == "Prompt"

    final = await wait_result(discord_fake, await submit(discord_fake, modal, "give it a hat"))
    (call,) = relay.generate_calls()
    assert [i.size for i in decoded_inline(call)] == [(64, 64), (32, 32), (16, 16)]
    assert card_of(final.payload).prompt == "give it a hat"


async def test_blend_images_menu_blends_every_picture_up_to_the_limit(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start(default_model="gemini-3-pro-image-preview")
    message = discord_fake.message(
        attachments=[discord_fake.attachment(f"{i}.png", png(20 + i, 20)) for i in range(7)]
    )
    _, modal = await open_menu(discord_fake, "Blend images", message)
    assert modal.payload["data"]["components"][0]["components"][0]["required"] is False
    final = await wait_result(discord_fake, await submit(discord_fake, modal, ""))
    (call,) = relay.generate_calls()
    assert [i.size[0] for i in decoded_inline(call)] == [20, 21, 22, 23, 24]
    assert final.files


async def test_menu_on_a_message_without_pictures(start, discord_fake: FakeDiscord) -> None:
    await start()
    _, callback = await open_menu(discord_fake, "Edit image", discord_fake.message("just words"))
    assert callback.payload["type"] == 4 and callback.payload["data"]["flags"] == EPHEMERAL
    assert callback.payload["data"]["content"].startswith("There is no picture to work on here.")


async def test_edit_menu_on_the_bots_own_result(start, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start()
    first = await wait_result(discord_fake, await command(discord_fake, "imagine", prompt="a red barn"))
    result = discord_fake.original_message(first.path.split("/")[-3])
    _, modal = await open_menu(discord_fake, "Edit image", result)
    await wait_result(discord_fake, await submit(discord_fake, modal, "make it blue"))
    first_call, edit_call = relay.generate_calls()
    # Gemini continues its own result in conversation: the picture goes back in the model's turn.
    asked, answered, now = edit_call.body["contents"]
    assert asked == first_call.body["contents"][0] and now["parts"] == [{"text": "make it blue"}]
    (part,) = [p for p in answered["parts"] if "inlineData" in p]
    picture = Image.open(io.BytesIO(base64.b64decode(part["inlineData"]["data"])))
    assert picture.size == (128, 128), "the bot's own picture went back in"


async def test_blend_menu_on_one_picture_is_refused_before_the_form(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    message = discord_fake.message(attachments=[discord_fake.attachment("only.png", png())])
    _, callback = await open_menu(discord_fake, "Blend images", message)
    assert callback.payload["type"] == 4 and callback.payload["data"]["flags"] == EPHEMERAL
    assert callback.payload["data"]["content"] == (
        "gemini-2.5-flash-image blends 2 to 5 pictures, and you gave 1. Give it 2 to 5, or pick another model."
    )
    assert not [c for c in discord_fake.calls if c.path.startswith("/cdn/")] and not relay.calls
