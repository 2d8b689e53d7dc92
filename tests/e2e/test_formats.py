"""/imagine on every API format, through the fake Discord gateway and the fake relay."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from typing import Any

import pytest
from PIL import Image

from bot.jobs.engine import JobEngine
from bot.routing import parse_models
from tests.conftest import API_KEY
from tests.e2e.cards import card_of
from tests.e2e.helpers import buttons_of, images_of, imagine, private_error, wait_result
from tests.fakes.discord import FakeDiscord, is_progress
from tests.fakes.relay import FakeRelay, MjTask

ALL_FORMATS = (
    "gemini-2.5-flash-image,gpt-image-1,dall-e-3,gpt-4o-image,sora_image,midjourney,banana-pro=gemini"
)


@pytest.fixture
def start_multi(start_bot):
    async def start(**changes: Any):
        changes.setdefault("models", tuple(parse_models(ALL_FORMATS)))
        changes.setdefault("mj_poll_seconds", 0.01)
        return await start_bot(**changes)

    return start


def colour(image: Image.Image) -> tuple[int, ...]:
    return image.convert("RGB").getpixel((image.width - 1, image.height - 1))  # type: ignore[return-value]


# --- OpenAI Images API ----------------------------------------------------------------------------


async def test_gpt_image_generation(start_multi, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start_multi()
    sent = await imagine(discord_fake, prompt="a red fox", model="gpt-image-1", aspect_ratio="3:2")
    final = await wait_result(discord_fake, sent)
    (call,) = relay.calls_to("/v1/images/generations")
    assert call.headers["Authorization"] == f"Bearer {API_KEY}"
    assert call.body == {"model": "gpt-image-1", "prompt": "a red fox", "n": 1, "size": "1536x1024"}
    (picture,) = images_of(final)
    assert picture.size == (128, 85)
    fields = card_of(final.payload).facts
    assert fields["Model"] == "gpt-image-1" and fields["Aspect ratio"] == "3:2"


async def test_count_uses_n_and_posts_every_picture_in_one_message(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    sent = await imagine(discord_fake, prompt="three owls", model="gpt-image-1", count=3)
    final = await wait_result(discord_fake, sent)
    (call,) = relay.calls_to("/v1/images/generations")
    assert call.body["n"] == 3 and "size" not in call.body
    assert [f.filename for f in final.files] == ["bananabot_1.png", "bananabot_2.png", "bananabot_3.png"]
    assert len({colour(p) for p in images_of(final)}) == 3, "three different pictures"


async def test_count_on_a_one_picture_model_runs_parallel_calls(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    sent = await imagine(discord_fake, prompt="two moons", model="dall-e-3", count=2, aspect_ratio="9:16")
    final = await wait_result(discord_fake, sent)
    calls = relay.calls_to("/v1/images/generations")
    assert [c.body for c in calls] == [
        {
            "model": "dall-e-3",
            "prompt": "two moons",
            "n": 1,
            "size": "1024x1792",
            "response_format": "b64_json",
        }
    ] * 2
    assert len(final.files) == 2
    assert card_of(final.payload).notes == (
        "dall-e-3 makes square, landscape and portrait pictures only; the closest shape to 9:16 was used."
    )


@pytest.mark.parametrize("mode", ["images_b64", "images_url", "images_wrapper"])
async def test_images_answer_shapes(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay, mode: str
) -> None:
    await start_multi()
    relay.queue(mode)
    final = await wait_result(discord_fake, await imagine(discord_fake, prompt="a boat", model="gpt-image-1"))
    (picture,) = images_of(final)
    assert picture.format == "PNG" and picture.size == (128, 128)
    downloads = [c.path for c in relay.calls if c.path.startswith("/files/")]
    assert downloads == (["/files/gen_0.png"] if mode == "images_url" else [])


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (
            "images_moderation",
            "The image service's safety filter stopped this: the request was rejected by its content "
            "policy. Try rephrasing your prompt.",
        ),
        ("images_empty", "The model answered without a picture. Try rephrasing your prompt."),
    ],
)
async def test_images_failures(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay, mode: str, message: str
) -> None:
    await start_multi()
    relay.queue(mode)
    sent = await imagine(discord_fake, prompt="a boat", model="gpt-image-1")
    assert await private_error(discord_fake, sent) == message
    assert len(relay.calls_to("/v1/images/")) == 1, "not retried"


# --- OpenAI chat completions ----------------------------------------------------------------------


async def test_chat_model_request_and_markdown_answer(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    sent = await imagine(discord_fake, prompt="a green tea cup", model="gpt-4o-image", aspect_ratio="16:9")
    final = await wait_result(discord_fake, sent)
    (call,) = relay.calls_to("/v1/chat/completions")
    assert call.headers["Authorization"] == f"Bearer {API_KEY}"
    assert call.body == {
        "model": "gpt-4o-image",
        "stream": False,
        "messages": [{"role": "user", "content": "a green tea cup\n\nAspect ratio: 16:9."}],
    }
    assert [c.path for c in relay.calls if c.path.startswith("/files/")] == ["/files/chat.png"]
    (picture,) = images_of(final)
    assert colour(picture) == (10, 200, 10)
    assert "16:9" in (card_of(final.payload).notes or "")


@pytest.mark.parametrize(
    ("mode", "size"),
    [
        ("chat_progress_log", (96, 64)),
        ("chat_data_url", (64, 64)),
        ("chat_images_field", (72, 48)),
        ("chat_stream", (80, 80)),
    ],
)
async def test_chat_answer_shapes(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay, mode: str, size: tuple[int, int]
) -> None:
    await start_multi()
    relay.queue(mode)
    final = await wait_result(discord_fake, await imagine(discord_fake, prompt="a cat", model="sora_image"))
    (picture,) = images_of(final)
    assert picture.size == size


async def test_chat_answers_without_a_picture(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    relay.queue("chat_refusal", "chat_policy")
    sent = await imagine(discord_fake, prompt="a harbour", model="gpt-4o-image")
    assert await private_error(discord_fake, sent) == (
        'The model answered without a picture. It said: "I can only describe this scene in words: a quiet '
        'harbour at night, boats asleep."'
    )
    sent = await imagine(discord_fake, prompt="a harbour", model="gpt-4o-image")
    assert "safety filter" in await private_error(discord_fake, sent)


# --- Midjourney-proxy -----------------------------------------------------------------------------


def button_ids(call: Any) -> list[tuple[str, str]]:
    return [(b.get("label") or b.get("emoji", {}).get("name", ""), b["custom_id"]) for b in buttons_of(call)]


async def test_midjourney_imagine_progress_grid_and_buttons(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    sent = await imagine(discord_fake, prompt="a koi pond", model="midjourney", aspect_ratio="16:9")
    final = await wait_result(discord_fake, sent)

    (submit,) = relay.calls_to("/mj/submit/")
    assert submit.path == "/mj/submit/imagine"
    assert submit.body == {"prompt": "a koi pond --ar 16:9", "base64Array": [], "botType": "MID_JOURNEY"}
    assert submit.headers["Authorization"] == f"Bearer {API_KEY}"
    assert submit.headers["mj-api-secret"] == API_KEY
    task_id = relay.calls_to("/mj/task/")[0].path.split("/")[3]
    assert len(relay.calls_to(f"/mj/task/{task_id}/fetch")) == 4

    assert Image.open(io.BytesIO(final.files[0].data)).size == (256, 256)
    assert final.payload["content"] is None
    buttons = button_ids(final)
    assert [label for label, _ in buttons] == ["U1", "U2", "U3", "U4", "🔄", "V1", "V2", "V3", "V4"]
    assert all(len(custom_id) <= 100 and custom_id.startswith("bb:act:") for _, custom_id in buttons)
    assert not any("MJ::" in custom_id for _, custom_id in buttons), "the proxy's ids stay on the bot"


async def press(discord_fake: FakeDiscord, message_of: Any, label: str) -> Any:
    custom_id = dict(button_ids(message_of))[label]
    message = discord_fake.original_message(message_of.path.split("/")[-3])
    return await discord_fake.send_interaction(discord_fake.button(custom_id, message))


async def test_midjourney_button_runs_the_action_and_posts_the_result(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    grid = await wait_result(
        discord_fake, await imagine(discord_fake, prompt="a koi pond", model="midjourney")
    )
    parent = relay.calls_to("/mj/task/")[0].path.split("/")[3]

    sent = await press(discord_fake, grid, "U2")
    upscaled = await wait_result(discord_fake, sent)

    callback = discord_fake.callback(sent)
    assert callback is not None and callback.payload == {"type": 5}, "a new message, not an edit of the grid"
    (action,) = relay.calls_to("/mj/submit/action")
    assert action.body == {
        "taskId": parent,
        "customId": "MJ::JOB::upsample::2::82c51c9d-bc33-4c07-a471-36c3dcb1a6f0",
    }
    assert Image.open(io.BytesIO(upscaled.files[0].data)).size == (200, 200)
    labels = [label for label, _ in button_ids(upscaled)]
    assert labels == ["Vary (Strong)", "Zoom Out 2x", "Custom Zoom"], "no region or bookmark buttons"


async def test_midjourney_buttons_work_after_a_restart(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    bot = await start_multi()
    grid = await wait_result(
        discord_fake, await imagine(discord_fake, prompt="a koi pond", model="midjourney")
    )
    await bot.close()
    discord_fake.ready.clear()
    await start_multi()

    upscaled = await wait_result(discord_fake, await press(discord_fake, grid, "V3"))
    (action,) = relay.calls_to("/mj/submit/action")
    assert action.body["customId"].startswith("MJ::JOB::variation::3::")
    assert upscaled.files


async def test_midjourney_custom_zoom_asks_for_a_prompt_in_a_modal(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    grid = await wait_result(
        discord_fake, await imagine(discord_fake, prompt="a koi pond", model="midjourney")
    )
    upscaled = await wait_result(discord_fake, await press(discord_fake, grid, "U1"))

    sent = await press(discord_fake, upscaled, "Custom Zoom")
    modal = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    assert modal.payload["type"] == 9
    custom_id = modal.payload["data"]["custom_id"]
    (row,) = modal.payload["data"]["components"]
    field = row["components"][0]
    submitted = await discord_fake.send_interaction(
        discord_fake.modal_submit(custom_id, {field["custom_id"]: "a koi pond far below --zoom 2"})
    )
    zoomed = await wait_result(discord_fake, submitted)

    zoom_action = relay.calls_to("/mj/submit/action")[-1]
    assert zoom_action.body["customId"].startswith("MJ::CustomZoom::")
    (confirm,) = relay.calls_to("/mj/submit/modal")
    assert confirm.body == {"taskId": zoom_action_task(relay), "prompt": "a koi pond far below --zoom 2"}
    assert zoomed.files


def zoom_action_task(relay: FakeRelay) -> str:
    return next(t for t, task in relay.mj_tasks.items() if task.fields.get("action") == "ZOOM")


async def test_midjourney_queued_submit_with_a_numeric_id(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    relay.queue("mj_queued")
    final = await wait_result(discord_fake, await imagine(discord_fake, prompt="a koi", model="midjourney"))
    assert final.files


@pytest.mark.parametrize(
    ("modes", "message"),
    [
        (
            ["mj_failure"],
            "The image service could not finish this picture: Invalid parameter: --ar 99:1 (key ***)",
        ),
        (
            ["mj_banned"],
            "The image service's safety filter stopped this: Midjourney does not allow the word "
            '"bloody" in prompts. Try rephrasing your prompt.',
        ),
        (
            ["mj_banned_late"],
            "The image service's safety filter stopped this: Midjourney does not allow the word "
            '"bloody" in prompts. Try rephrasing your prompt.',
        ),
        (
            ["mj_queue_full"] * 3,
            "The image service is busy right now (rate limited). Please try again in a minute.",
        ),
        (
            ["mj_unknown"],
            "The image service sent an answer the bot could not read. Please try again.",
        ),
        (
            ["mj_validation"],
            "The image service refused this request as invalid. Try other wording or other options.",
        ),
    ],
)
async def test_midjourney_failures(
    start_multi,
    discord_fake: FakeDiscord,
    relay: FakeRelay,
    caplog: pytest.LogCaptureFixture,
    modes: list[str],
    message: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    await start_multi()
    relay.queue(*modes)
    sent = await imagine(discord_fake, prompt="a koi", model="midjourney")
    assert await private_error(discord_fake, sent) == message
    assert len(relay.calls_to("/mj/submit/")) == len(modes)
    assert API_KEY not in caplog.text


async def test_midjourney_takes_one_grid_only(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    sent = await imagine(discord_fake, prompt="a koi", model="midjourney", count=2)
    assert await private_error(discord_fake, sent) == (
        "You asked for 2 pictures, but midjourney makes 1 picture per command. Ask for fewer, or pick another model."
    )
    assert not relay.calls


# --- routing, keys and redaction ------------------------------------------------------------------


async def test_per_format_base_url_and_key_override(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    from bot.config import ApiTarget

    other = FakeRelay()
    await other.start()
    try:
        await start_multi(overrides={"OPENAI": ApiTarget(other.base_url, "sk-openai-only")})
        await wait_result(discord_fake, await imagine(discord_fake, prompt="a", model="gpt-image-1"))
        await wait_result(discord_fake, await imagine(discord_fake, prompt="b", model="banana-pro"))
    finally:
        await other.close()
    (images_call,) = other.calls_to("/v1/images/generations")
    assert images_call.headers["Authorization"] == "Bearer sk-openai-only"
    (gemini_call,) = relay.generate_calls()
    assert gemini_call.path == "/v1beta/models/banana-pro:generateContent"
    assert not relay.calls_to("/v1/images/")


@pytest.mark.parametrize("model", ["gpt-image-1", "gpt-4o-image", "midjourney"])
async def test_a_relay_that_echoes_the_key_leaks_it_nowhere(
    start_multi,
    discord_fake: FakeDiscord,
    relay: FakeRelay,
    caplog: pytest.LogCaptureFixture,
    model: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    await start_multi()
    relay.queue("key_echo")
    sent = await imagine(discord_fake, prompt="a castle", model=model)
    shown = await private_error(discord_fake, sent)
    assert "invalid request for key" in caplog.text, "the upstream body is logged"
    to_discord = json.dumps([c.payload for c in discord_fake.calls if c.payload is not None])
    assert API_KEY not in to_discord and API_KEY not in caplog.text and API_KEY not in shown
    # Also not base64-encoded, as in a Basic header echoed back.
    assert base64.b64encode(API_KEY.encode()).decode() not in caplog.text


# --- model list and autocomplete ------------------------------------------------------------------


async def autocomplete(discord_fake: FakeDiscord, current: str) -> tuple[Any, float]:
    payload = discord_fake.autocomplete("imagine", {"prompt": "x", "model": current}, focused="model")
    sent = await discord_fake.send_interaction(payload)
    callback = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    return callback, callback.at - sent.sent_at


async def test_autocomplete_adds_the_relays_image_models(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.model_list = [
        "gpt-4o",
        "gemini-2.5-pro",
        "gemini-3-pro-image-preview",
        "gpt-image-1",
        "flux-kontext-pro",
    ]
    await start_multi()
    callback, _ = await autocomplete(discord_fake, "")
    names = [c["value"] for c in callback.payload["data"]["choices"]]
    configured = ALL_FORMATS.replace("=gemini", "").split(",")
    assert names == [*configured, "gemini-3-pro-image-preview", "flux-kontext-pro"]
    (listing,) = relay.calls_to("/v1/models")
    assert listing.headers["Authorization"] == f"Bearer {API_KEY}"

    # A discovered model works like a configured one, and the list is cached.
    final = await wait_result(discord_fake, await imagine(discord_fake, prompt="x", model="flux-kontext-pro"))
    assert final.files
    await autocomplete(discord_fake, "flux")
    assert len(relay.calls_to("/v1/models")) == 1


async def test_autocomplete_answers_in_time_when_the_model_list_hangs(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.model_list = ["gpt-image-1"]
    relay.models_delay = 6.0
    await start_multi()
    callback, took = await autocomplete(discord_fake, "gpt")
    assert took < 2.5, "Discord drops autocomplete answers after 3 s"
    assert [c["value"] for c in callback.payload["data"]["choices"]] == ["gpt-image-1", "gpt-4o-image"]


async def test_autocomplete_without_a_model_list_endpoint(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    callback, took = await autocomplete(discord_fake, "mid")
    assert [c["value"] for c in callback.payload["data"]["choices"]] == ["midjourney"]
    await autocomplete(discord_fake, "gpt")
    assert len(relay.calls_to("/v1/models")) == 1, "a missing endpoint is not asked again at once"
    assert took < 1.0


async def test_models_command_speaks_to_members(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.model_list = ["gemini-3-pro-image-preview", "text-embedding-3-small"]
    await start_multi(model_notes={"gemini-2.5-flash-image": "quick edits of your photos"})
    sent = await discord_fake.send_interaction(discord_fake.slash("models"))
    final = await discord_fake.wait_final(sent)
    callback = discord_fake.callback(sent)
    assert callback is not None and callback.payload == {"type": 5, "data": {"flags": 64}}
    (embed,) = final.payload["embeds"]
    assert embed["description"] == "Default: gemini-2.5-flash-image"
    configured, discovered = embed["fields"]
    entries = configured["value"].split("\n• ")
    assert entries[0] == (
        "• `gemini-2.5-flash-image` — quick edits of your photos\n\u2003works from up to 3 of your pictures · "
        "up to 4 pictures per command · 10 shapes"
    )
    # A model of three fixed shapes with sizes that are qualities is described as such.
    assert entries[1] == (
        "`gpt-image-1`\n\u2003works from up to 16 of your pictures · up to 4 pictures per command · "
        "square, landscape or portrait only · standard or best quality (size 2K or 4K picks the best)"
    )
    assert entries[5] == (
        "`midjourney`\n\u2003works from up to 5 of your pictures · 4 pictures at once as a 2×2 grid, with "
        "buttons to pick one · 14 shapes"
    )
    assert "openai-images" not in json.dumps(embed) and "· gemini ·" not in json.dumps(embed), (
        "no format jargon"
    )
    assert discovered["name"] == "Also offered by the image service"
    assert discovered["value"].startswith("• `gemini-3-pro-image-preview`\n")
    assert discovered["value"].endswith("(guessed from its name)")
    assert "text-embedding" not in json.dumps(embed)


class SteppedTasks(dict[str, MjTask]):
    """The relay's Midjourney tasks, each held on its first state (a last state repeats on every
    fetch) until the test moves it on: every state lasts until the bot has shown it."""

    def __init__(self) -> None:
        super().__init__()
        self.planned: dict[str, list[dict[str, Any]]] = {}

    def __setitem__(self, task_id: str, task: MjTask) -> None:
        self.planned[task_id] = task.states
        super().__setitem__(task_id, MjTask(task.fields, task.states[:1]))

    def move_on(self, task_id: str, step: int) -> None:
        self[task_id].states = [self.planned[task_id][step]]


async def test_midjourney_progress_is_shown_as_it_moves(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(JobEngine, "progress_every", 0.02)
    relay.mj_tasks = tasks = SteppedTasks()
    await start_multi(mj_poll_seconds=0.02)
    sent = await imagine(discord_fake, prompt="a koi pond", model="midjourney")
    for step, percent in enumerate((0, 45, 80)):
        await discord_fake.wait_for(
            lambda c, p=percent: (
                sent.token in c.path and is_progress(c) and f"… {p}% (" in c.payload["content"]
            )
        )
        if percent == 80:
            # The preview came with 45 %; the bot shows its own copy of it before the task ends.
            await discord_fake.wait_for(lambda c: sent.token in c.path and is_progress(c) and bool(c.files))
        (task_id,) = tasks.planned
        tasks.move_on(task_id, step + 1)
    final = await wait_result(discord_fake, sent)
    progress = [c for c in discord_fake.calls_for(sent.token) if is_progress(c) and c.at < final.at]
    shown = [c.payload["content"] for c in progress]
    # The proxy's preview is shown as the bot's own copy, uploaded once: never the relay's link.
    (uploaded,) = [c for c in progress if c.files]
    assert [f.filename for f in uploaded.files] == ["preview.png"]
    assert uploaded.payload["embeds"][0]["image"]["url"] == "attachment://preview.png"
    assert relay.base_url not in json.dumps([c.payload for c in progress])
    # A running job shows its seconds from its first tick, so a tick can come before the proxy's first
    # percentage: such lines may only lead; from the first percentage on, every line shows one.
    percent_lines = [re.match(r"🎨 Generating… (\d+)% \(\d+ s\)$", t) for t in shown]
    first = next((n for n, m in enumerate(percent_lines) if m), None)
    assert first is not None, shown
    assert all(re.match(r"🎨 Generating… \d+ s$", t) for t in shown[:first]), shown
    assert all(percent_lines[first:]), shown
    percents = [int(m[1]) for m in percent_lines[first:] if m]
    assert list(dict.fromkeys(percents)) == [0, 45, 80]
    assert final.payload["components"] != [] and "bb:cancel" not in json.dumps(final.payload["components"])


async def test_midjourney_remix_confirmation_keeps_the_parents_prompt(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.mj_remix = True
    await start_multi()
    grid = await wait_result(
        discord_fake, await imagine(discord_fake, prompt="a koi pond", model="midjourney")
    )
    result = await wait_result(discord_fake, await press(discord_fake, grid, "V2"))
    (confirm,) = relay.calls_to("/mj/submit/modal")
    assert confirm.body["prompt"] == "", "an empty prompt tells the proxy to keep the parent's"
    card = card_of(result.payload)
    assert card.prompt == "a koi pond", "the follow-up card shows the prompt it came from"
    assert card.lineage is not None and card.lineage.startswith("🎲 A subtle variation of")


async def test_parallel_calls_with_one_failure_post_the_rest_and_say_so(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    relay.queue("ok", "http_400")
    final = await wait_result(discord_fake, await imagine(discord_fake, prompt="pears", count=2))
    assert len(final.files) == 1 and len(relay.generate_calls()) == 2
    assert card_of(final.payload).notes == "1 of the 2 pictures could not be made."


async def test_size_asks_a_fixed_size_family_for_its_best_quality(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_multi()
    final = await wait_result(
        discord_fake, await imagine(discord_fake, prompt="x", model="dall-e-3", size="4K")
    )
    (call,) = relay.calls_to("/v1/images/generations")
    assert call.body["quality"] == "hd" and call.body["size"] == "1024x1024"
    assert card_of(final.payload).notes == (
        "dall-e-3 has a few fixed picture sizes, so 4K asked for its best quality instead."
    )


@pytest.mark.parametrize(
    ("mode", "model"),
    [("text_with_key", "gemini-2.5-flash-image"), ("chat_refusal_with_key", "gpt-4o-image")],
)
async def test_model_text_that_repeats_the_key_is_masked(
    start_multi, discord_fake: FakeDiscord, relay: FakeRelay, mode: str, model: str
) -> None:
    await start_multi()
    relay.queue(mode)
    sent = await imagine(discord_fake, prompt="x", model=model)
    # The answer, not a progress edit a slow run may show first.
    shown = await discord_fake.wait_final(sent)
    text = json.dumps(shown.payload, ensure_ascii=False).replace("\\\\", "")
    assert "Made with key ***." in text or "Your token *** may not use this model" in text
    to_discord = json.dumps([c.payload for c in discord_fake.calls if c.payload is not None])
    assert API_KEY not in to_discord
