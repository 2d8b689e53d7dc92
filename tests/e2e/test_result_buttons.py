"""The buttons under every result card, pressed through the fake Discord against the fake relay."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from typing import Any

import pytest
from PIL import Image

from bot.followups import UPSCALE, VARY_STRONG, VARY_SUBTLE, ZOOM_OUT
from bot.jobs.engine import JobEngine
from bot.routing import parse_models
from tests.e2e.cards import card_of
from tests.e2e.helpers import button_labelled, private_error, wait_result
from tests.fakes.discord import GUILD_ID, PLAIN_PERMISSIONS, FakeDiscord, SentInteraction, user
from tests.fakes.relay import FakeRelay, png

BOB = user("100000000000000006", "bob")
MODELS = "gemini-2.5-flash-image,gemini-3-pro-image-preview,gpt-image-1,gpt-4o-image"


@pytest.fixture(autouse=True)
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(JobEngine, "progress_every", 0.05)


@pytest.fixture
def start(start_bot):
    async def start(**changes: Any):
        changes.setdefault("models", tuple(parse_models(MODELS)))
        return await start_bot(**changes)

    return start


async def first_card(discord_fake: FakeDiscord, **options: Any) -> tuple[str, Any]:
    """The token of a command's interaction, and the call that made its result card."""
    extra = {k: options.pop(k) for k in ("roles",) if k in options}
    sent = await discord_fake.send_interaction(discord_fake.slash("imagine", options, **extra))
    return sent.token, await wait_result(discord_fake, sent)


def token_of(call: Any) -> str:
    """The token of the interaction whose message a result call edited."""
    return call.path.split("/")[-3]


async def press(discord_fake: FakeDiscord, token: str, label: str, **who: Any) -> SentInteraction:
    message = discord_fake.original_message(token)
    custom_id = button_labelled(message, label)["custom_id"]
    return await discord_fake.send_interaction(discord_fake.button(custom_id, message, **who))


def inline_pictures(call: Any) -> list[Image.Image]:
    parts = call.body["contents"][-1]["parts"]
    return [
        Image.open(io.BytesIO(base64.b64decode(p["inline_data"]["data"])))
        for p in parts
        if "inline_data" in p
    ]


def picture_in(content: dict[str, Any]) -> Image.Image:
    """The final (non-thought) picture of a model turn."""
    (last,) = [p for p in content["parts"] if "inlineData" in p and not p.get("thought")][-1:]
    return Image.open(io.BytesIO(base64.b64decode(last["inlineData"]["data"])))


def text_of(call: Any) -> str:
    return " ".join(p["text"] for p in call.body["contents"][-1]["parts"] if "text" in p)


async def test_every_result_card_offers_the_loop(start, discord_fake: FakeDiscord) -> None:
    await start()
    _, final = await first_card(discord_fake, prompt="a lighthouse")
    assert card_of(final.payload).labels == [
        "Reroll",
        "Vary (Subtle)",
        "Vary (Strong)",
        "Edit…",
        "Zoom out",
        "Delete",
    ], "gemini-2.5-flash-image has one size: no Upscale"
    emoji = [b["emoji"]["name"] for b in card_of(final.payload).buttons]
    assert emoji == ["🔄", "🎲", "🎲", "✏️", "🔍", "🗑️"]


async def test_reroll_sends_the_same_request_again_as_a_new_card(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    sent, _ = await first_card(discord_fake, prompt="a lighthouse", aspect_ratio="16:9")
    rerolled = await wait_result(discord_fake, await press(discord_fake, sent, "Reroll"))
    first, again = relay.generate_calls()
    assert again.body == first.body
    card = card_of(rerolled.payload)
    assert card.prompt == "a lighthouse" and card.facts["Aspect ratio"] == "16:9"
    original = discord_fake.original_message(sent)
    assert card.lineage == (
        f"🔄 Rerolled from [an earlier picture](https://discord.com/channels/{GUILD_ID}"
        f"/{original['channel_id']}/{original['id']})"
    )


@pytest.mark.parametrize(
    ("label", "instruction"), [("Vary (Subtle)", VARY_SUBTLE), ("Vary (Strong)", VARY_STRONG)]
)
async def test_vary_edits_the_stored_picture_with_the_original_prompt(
    start, discord_fake: FakeDiscord, relay: FakeRelay, label: str, instruction: str
) -> None:
    await start()
    sent, final = await first_card(discord_fake, prompt="a lighthouse", aspect_ratio="3:2")
    varied = await wait_result(discord_fake, await press(discord_fake, sent, label))
    first, call = relay.generate_calls()
    # Gemini edits its own result in conversation: the first turn, the answer as received, the ask.
    asked, answered, _ = call.body["contents"]
    assert asked == first.body["contents"][0]
    assert answered["role"] == "model"
    assert picture_in(answered).size == Image.open(io.BytesIO(final.files[0].data)).size == (128, 85)
    assert inline_pictures(call) == [], "the picture is in the conversation, not sent twice"
    assert text_of(call) == f"{instruction} The picture was made for: a lighthouse"
    assert call.body["generationConfig"]["imageConfig"] == {"aspectRatio": "3:2"}
    card = card_of(varied.payload)
    assert card.prompt == "a lighthouse" and card.lineage is not None and card.lineage.startswith("🎲")


async def test_upscale_asks_the_next_size_and_keeps_every_detail(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    sent, first = await first_card(discord_fake, prompt="a map", model="gemini-3-pro-image-preview")
    assert "Upscale" in card_of(first.payload).labels
    bigger = await wait_result(discord_fake, await press(discord_fake, sent, "Upscale"))
    _, call = relay.generate_calls()
    assert call.body["generationConfig"]["imageConfig"] == {"imageSize": "2K"}
    assert text_of(call).startswith(UPSCALE) and len(call.body["contents"]) == 3
    signed = [p for p in call.body["contents"][1]["parts"] if "thoughtSignature" in p]
    assert signed and all(p["thoughtSignature"] in relay.signatures for p in signed)
    assert card_of(bigger.payload).facts["Size"] == "2K"
    again = await wait_result(discord_fake, await press(discord_fake, token_of(bigger), "Upscale"))
    assert relay.generate_calls()[-1].body["generationConfig"]["imageConfig"] == {"imageSize": "4K"}
    assert "Upscale" not in card_of(again.payload).labels, "4K is the largest"


async def test_zoom_out_extends_the_stored_picture(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    sent, _ = await first_card(discord_fake, prompt="a cabin")
    await wait_result(discord_fake, await press(discord_fake, sent, "Zoom out"))
    _, call = relay.generate_calls()
    assert text_of(call) == f"{ZOOM_OUT} The picture was made for: a cabin"
    assert [c["role"] for c in call.body["contents"]] == ["user", "model", "user"]


async def test_edit_asks_in_a_modal_and_sends_the_picture_then_the_uploads(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    sent, _ = await first_card(discord_fake, prompt="a cabin")
    opened = await press(discord_fake, sent, "Edit…")
    modal = await discord_fake.wait_for(lambda c: c.path.endswith(f"{opened.token}/callback"))
    assert modal.payload["type"] == 9 and modal.payload["data"]["title"] == "Change this picture"
    upload = discord_fake.attachment("hat.png", png(40, 30, (0, 0, 255)))
    text_id, files_id = (row["component"]["custom_id"] for row in modal.payload["data"]["components"])
    submitted = await discord_fake.send_interaction(
        discord_fake.modal_submit(
            modal.payload["data"]["custom_id"],
            {text_id: "give it a red roof", files_id: [upload]},
            modal=modal.payload["data"],
        )
    )
    edited = await wait_result(discord_fake, submitted)
    _, call = relay.generate_calls()
    assert text_of(call) == "give it a red roof"
    assert picture_in(call.body["contents"][1]).size == (128, 128)
    assert [p.size for p in inline_pictures(call)] == [(40, 30)], "the upload follows the words"
    card = card_of(edited.payload)
    assert card.prompt == "give it a red roof" and card.lineage is not None and card.lineage.startswith("✏️")


async def test_the_images_api_and_a_chat_model_edit_the_stored_picture_too(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    sent, _ = await first_card(discord_fake, prompt="a fox", model="gpt-image-1")
    await wait_result(discord_fake, await press(discord_fake, sent, "Vary (Subtle)"))
    (edit,) = relay.calls_to("/v1/images/edits")
    assert edit.body["prompt"] == f"{VARY_SUBTLE} The picture was made for: a fox"
    assert edit.body["model"] == "gpt-image-1"
    assert [f.name for f in edit.body["_files"]] == ["image"]

    sent, _ = await first_card(discord_fake, prompt="a fox", model="gpt-4o-image")
    await wait_result(discord_fake, await press(discord_fake, sent, "Zoom out"))
    chat = relay.calls_to("/v1/chat/completions")[-1]
    parts = chat.body["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    assert parts[1]["image_url"]["url"].startswith("data:image/")


async def test_a_set_offers_u_and_v_for_each_picture(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    sent, final = await first_card(discord_fake, prompt="pears", count=3)
    card = card_of(final.payload)
    assert len(card.gallery) == 3
    assert card.labels == ["U1", "U2", "U3", "V1", "V2", "V3", "Reroll", "Delete"]
    calls = len(relay.generate_calls())
    alone = await wait_result(discord_fake, await press(discord_fake, sent, "U2"))
    assert len(relay.generate_calls()) == calls, "taking one picture makes no API call"
    single = card_of(alone.payload)
    assert len(single.gallery) == 1 and "Vary (Subtle)" in single.labels
    assert alone.files[0].data == final.files[1].data
    await wait_result(discord_fake, await press(discord_fake, sent, "V3"))
    # A set keeps no conversation (three calls made it): V3 edits the third picture as sent.
    varied = relay.generate_calls()[-1]
    (picture,) = inline_pictures(varied)
    assert picture.size == Image.open(io.BytesIO(final.files[2].data)).size
    assert len(varied.body["contents"]) == 1


async def test_delete_is_for_the_requester_or_a_moderator(start, discord_fake: FakeDiscord) -> None:
    await start()
    sent, _ = await first_card(discord_fake, prompt="a cabin")
    refused = await press(discord_fake, sent, "Delete", member=BOB, permissions=PLAIN_PERMISSIONS)
    assert await private_error(discord_fake, refused) == (
        "Only the member who asked for this picture, or a moderator, can delete it."
    )
    deleted = await press(discord_fake, sent, "Delete", permissions=PLAIN_PERMISSIONS)
    gone = await discord_fake.wait_for(lambda c: c.method == "DELETE" and deleted.token in c.path)
    assert gone.path.endswith("/messages/@original")

    sent, _ = await first_card(discord_fake, prompt="a barn")
    by_moderator = await press(discord_fake, sent, "Delete", member=BOB)
    await discord_fake.wait_for(lambda c: c.method == "DELETE" and by_moderator.token in c.path)


async def test_a_press_is_the_pressers_job(start, discord_fake: FakeDiscord) -> None:
    bot = await start(user_daily_limit=1)
    sent, _ = await first_card(discord_fake, prompt="a cabin")
    by_bob = await press(discord_fake, sent, "Reroll", member=BOB)
    await wait_result(discord_fake, by_bob)
    job = await bot.jobs.store.get(2)
    assert job is not None and job.origin.user_id == int(BOB["id"])
    again = await press(discord_fake, sent, "Reroll", member=BOB)
    assert "You've made your 1 picture for today" in await private_error(discord_fake, again)


async def test_buttons_work_after_a_restart(start, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    bot = await start()
    sent, _ = await first_card(discord_fake, prompt="a cabin")
    await bot.close()
    discord_fake.ready.clear()
    await start()
    await wait_result(discord_fake, await press(discord_fake, sent, "Vary (Subtle)"))
    assert [c["role"] for c in relay.generate_calls()[-1].body["contents"]] == ["user", "model", "user"]


async def test_a_press_after_the_retention_is_told_how_to_start_again(
    start, discord_fake: FakeDiscord
) -> None:
    bot = await start(result_retention_hours=1)
    sent, _ = await first_card(discord_fake, prompt="a cabin")
    real = bot.jobs.clock
    bot.jobs.clock = lambda: real() + 3601
    late = await press(discord_fake, sent, "Vary (Subtle)")
    assert await private_error(discord_fake, late) == (
        "This picture is too old to change: the bot keeps pictures for 1 hour."
        " Start again with /imagine, or attach the picture to /edit."
    )


async def test_a_double_click_is_one_job(start, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start()
    sent, _ = await first_card(discord_fake, prompt="a cabin")
    relay.hold = asyncio.Event()
    first = await press(discord_fake, sent, "Vary (Subtle)")
    deadline = time.monotonic() + 5
    while relay.in_flight < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    second = await press(discord_fake, sent, "Vary (Subtle)")
    assert await private_error(discord_fake, second) == (
        "That's already on its way: your picture from this button is being made."
    )
    relay.hold.set()
    await wait_result(discord_fake, first)
    assert len(relay.generate_calls()) == 2


async def test_a_press_outside_the_allowlists_is_refused(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start(allowed_roles=frozenset({444444444444444444}))
    sent, _ = await first_card(discord_fake, prompt="a cabin", roles=["444444444444444444"])
    refused = await press(discord_fake, sent, "Reroll", member=BOB)
    assert await private_error(discord_fake, refused) == "You can't use this bot here."
    assert len(relay.generate_calls()) == 1


async def test_the_edit_menu_on_a_result_edits_the_kept_picture(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    sent, _ = await first_card(discord_fake, prompt="a cabin", model="gpt-image-1")
    message = discord_fake.original_message(sent)
    opened = await discord_fake.send_interaction(discord_fake.message_menu("Edit image", message))
    modal = await discord_fake.wait_for(lambda c: c.path.endswith(f"{opened.token}/callback"))
    field = modal.payload["data"]["components"][0]["components"][0]
    submitted = await discord_fake.send_interaction(
        discord_fake.modal_submit(modal.payload["data"]["custom_id"], {field["custom_id"]: "paint it blue"})
    )
    edited = await wait_result(discord_fake, submitted)
    (edit,) = relay.calls_to("/v1/images/edits")
    assert edit.body["prompt"] == "paint it blue" and edit.body["model"] == "gpt-image-1"
    assert [f.name for f in edit.body["_files"]] == ["image"]
    lineage = card_of(edited.payload).lineage
    assert lineage is not None and lineage.startswith("✏️ Changed from [an earlier picture](")


async def test_a_reroll_of_a_variation_asks_exactly_what_the_variation_asked(
    start, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start()
    sent, _ = await first_card(discord_fake, prompt="a cabin")
    varied = await wait_result(discord_fake, await press(discord_fake, sent, "Vary (Subtle)"))
    await wait_result(discord_fake, await press(discord_fake, token_of(varied), "Reroll"))
    _, variation, again = relay.generate_calls()
    assert again.body == variation.body, "the same conversation and words again"

    sent, _ = await first_card(discord_fake, prompt="a fox", model="gpt-image-1")
    varied = await wait_result(discord_fake, await press(discord_fake, sent, "Vary (Subtle)"))
    await wait_result(discord_fake, await press(discord_fake, token_of(varied), "Reroll"))
    first_edit, second_edit = relay.calls_to("/v1/images/edits")
    assert second_edit.body["prompt"] == first_edit.body["prompt"]
    assert [f.data for f in second_edit.body["_files"]] == [f.data for f in first_edit.body["_files"]]
