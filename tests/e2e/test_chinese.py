"""A member whose Discord speaks Simplified Chinese (zh-CN) meets no English sentence: each text the
bot sends is the zh-CN catalog's, rendered here from its keys, never copied by hand.

English speakers (en-US, en-GB) and members whose language has no catalog get English; an owner's
DEFAULT_LOCALE picks that fallback; mentions and channel posts speak the server's language."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from bot.config import GeminiAuth, Relay
from bot.i18n import Catalog
from bot.jobs.engine import JobEngine
from bot.routing import ModelRoute
from tests.e2e.helpers import private_error, wait_result
from tests.e2e.test_jobs import until
from tests.e2e.test_mentions import reply_to
from tests.fakes import pictures
from tests.fakes.discord import APP_ID, BOT_USER, CHANNEL_ID, FakeDiscord, SentInteraction, user
from tests.fakes.relay import FakeRelay, png

ZH = "zh-CN"
CATALOG = Catalog.load()
BOB = user("100000000000000006", "bob")
# Three English words in a row: a sentence, or what is left of one. Model names, file names,
# MB and PNG are single tokens and pass.
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?:[ ,]+[A-Za-z]{2,}){2,}\b")
TEXT_FIELDS = ("content", "title", "description", "name", "value", "text", "label", "placeholder")


def zh(key: str, **params: Any) -> str:
    return CATALOG.text(key, ZH, **params)


@pytest.fixture(autouse=True)
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(JobEngine, "progress_every", 0.05)


def texts_in(value: Any) -> Iterator[str]:
    """Every text a member reads in a payload: contents, embeds, card displays, labels, modals."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key in TEXT_FIELDS and isinstance(item, str):
                yield item
            elif key not in ("custom_id", "url", "proxy_url", "media", "allowed_mentions", "attachments"):
                yield from texts_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts_in(item)


def no_english(texts: Iterator[str] | list[str]) -> list[str]:
    """The texts (all of them must be Chinese) that keep an English sentence; prompts are the member's."""
    seen = list(texts)
    assert seen, "the bot sent nothing to read"
    # What the model itself said is quoted as it said it (the fake relay's model speaks English).
    said = zh("embed.labelled", label=zh("embed.model_said"), text="")
    seen = [said if t.startswith(said) else t for t in seen]
    return [t for t in seen if ENGLISH_RUN.search(re.sub(r"<[@#:t][^>]*>|`[^`]*`|\(http[^)]*\)", "", t))]


def sent_for(discord_fake: FakeDiscord, sent: SentInteraction) -> list[str]:
    return [t for c in discord_fake.calls_for(sent.token) for t in texts_in(c.payload or {})]


async def answer(discord_fake: FakeDiscord, sent: SentInteraction) -> dict[str, Any]:
    """The first answer to a command: its message callback, or the follow-up after a defer."""
    call = await discord_fake.wait_for(
        lambda c: (
            sent.token in c.path
            and c.method in ("POST", "PATCH")
            and (c.payload or {}).get("type") != 5
            and bool(texts_in_list(c.payload))
        )
    )
    return call.payload["data"] if "callback" in call.path else call.payload


def texts_in_list(payload: Any) -> list[str]:
    return list(texts_in(payload or {}))


async def slash(discord_fake: FakeDiscord, name: str, options: dict[str, Any] | None = None, **kw: Any):
    kw.setdefault("locale", ZH)
    return await discord_fake.send_interaction(discord_fake.slash(name, options or {}, **kw))


# --- interactions use interaction.locale -----------------------------------------------------------


async def test_imagine_in_chinese(start_bot, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start_bot()
    sent = await slash(discord_fake, "imagine", {"prompt": "一只猫"})
    final = await wait_result(discord_fake, sent)
    shown = list(texts_in(final.payload))
    facts = next(t for t in shown if t.startswith("-# "))
    for key in ("embed.model", "embed.aspect_ratio", "embed.time"):
        assert zh("embed.fact", name=zh(key), value="") in facts
    assert zh("embed.ratio_default") in facts and zh("embed.requested_by", name="alice") in facts
    labels = [b.get("label") for b in _buttons(final.payload)]
    assert [zh("button.reroll"), zh("button.edit"), zh("button.delete")] == [
        label for label in labels if label in (zh("button.reroll"), zh("button.edit"), zh("button.delete"))
    ]
    assert not no_english(sent_for(discord_fake, sent))


def _buttons(payload: dict[str, Any]) -> list[dict[str, Any]]:
    from tests.fakes.discord_components import buttons_in

    return buttons_in(payload.get("components") or [])


async def test_edit_with_a_bad_file_in_chinese(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    bad = discord_fake.attachment("notes.png", pictures.text_named_png(), "image/png")
    sent = await slash(discord_fake, "edit", {"image": bad, "prompt": "加顶帽子"})
    text = await private_error(discord_fake, sent)
    assert text == zh("error.unusable_image", name="notes.png", reason_key=zh("image.text"))
    assert not no_english([text])


async def test_usage_and_status_and_models_in_chinese(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(user_daily_limit=5, guild_daily_limit=20, user_cooldown=0)
    await wait_result(discord_fake, await slash(discord_fake, "imagine", {"prompt": "一"}))
    usage = await answer(discord_fake, await slash(discord_fake, "usage"))
    (embed,) = usage["embeds"]
    assert embed["title"] == zh("usage.title")
    assert embed["description"].splitlines()[0] == zh("usage.used", used=1, limit=5)
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields[zh("usage.guild_title")] == zh("usage.guild_used", used=1, limit=20)
    assert not no_english(texts_in(usage))

    status = await answer(discord_fake, await slash(discord_fake, "status"))
    (embed,) = status["embeds"]
    assert embed["title"] == zh("status.title")
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields[zh("status.queue")] == zh("status.queue_value", running=0, slots=4, queued=0)
    assert not no_english(texts_in(status))

    listed = await answer(discord_fake, await slash(discord_fake, "models"))
    (embed,) = listed["embeds"]
    assert embed["title"] == zh("models.title")
    assert not no_english(texts_in(listed))


async def test_a_queue_message_in_chinese(start_bot, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    relay.hold = asyncio.Event()
    await start_bot(max_concurrent_jobs=1)
    await slash(discord_fake, "imagine", {"prompt": "一"})
    await until(lambda: relay.in_flight == 1)
    second = await slash(discord_fake, "imagine", {"prompt": "二"}, member=BOB)
    queued = await discord_fake.wait_for(
        lambda c: (
            second.token in c.path
            and c.method == "PATCH"
            and "⏳" in ((c.payload or {}).get("content") or "")
        )
    )
    estimate = zh("job.estimate", amount="0.039", currency="USD")
    assert queued.payload["content"] == f"{zh('job.queued_next')} · {estimate}"
    assert zh("job.cancel") in [b.get("label") for b in _buttons(queued.payload)]
    relay.hold.set()
    await wait_result(discord_fake, second)
    assert not no_english(sent_for(discord_fake, second))


async def test_a_cooldown_in_chinese(start_bot, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start_bot(user_cooldown=60)
    await wait_result(discord_fake, await slash(discord_fake, "imagine", {"prompt": "一"}))
    text = await private_error(discord_fake, await slash(discord_fake, "imagine", {"prompt": "二"}))
    found = re.search(r"<t:(\d+):R>", text)
    assert found and text == zh("error.cooldown", retry_at=int(found[1]))
    assert 0 < int(found[1]) - time.time() <= 61
    assert not no_english([text])


async def test_the_edit_image_modal_in_chinese(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    message = discord_fake.message("看", attachments=[discord_fake.attachment("cat.png", png(64, 64))])
    sent = await discord_fake.send_interaction(discord_fake.message_menu("Edit image", message, locale=ZH))
    modal = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    assert modal.payload["type"] == 9 and modal.payload["data"]["title"] == zh("modal.edit_title")
    field = modal.payload["data"]["components"][0]["components"][0]
    assert field["label"] == zh("modal.prompt_label") and field["placeholder"] == zh("modal.edit_placeholder")
    assert not no_english(texts_in(modal.payload))
    submitted = discord_fake.modal_submit(
        modal.payload["data"]["custom_id"], {field["custom_id"]: "戴帽子"}, locale=ZH
    )
    done = await discord_fake.send_interaction(submitted)
    await wait_result(discord_fake, done)
    assert not no_english(sent_for(discord_fake, done))


# --- mentions and channel posts use the server's language -----------------------------------------

MENTION = f"<@{APP_ID}>"


async def test_a_mention_speaks_the_servers_language(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    await discord_fake.set_guild_locale(ZH)
    files = [discord_fake.attachment("street.png", png(40, 40))]
    card = await reply_to(
        discord_fake, discord_fake.message(f"{MENTION} 变成夜晚", mentions=[BOT_USER], attachments=files)
    )
    facts = next(t for t in texts_in(card.payload) if t.startswith("-# "))
    assert zh("embed.fact", name=zh("embed.model"), value="") in facts
    assert not no_english([t for t in texts_in(card.payload) if t != "变成夜晚"])


async def test_a_late_result_in_the_channel_speaks_the_servers_language(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    # The member reads English, the server prefers Chinese: the post in the channel is Chinese.
    await start_bot()
    await discord_fake.set_guild_locale(ZH)
    old = time.time() - 15 * 60 + 10  # its token is past the bot's margin: the answer goes to the channel
    sent = await discord_fake.send_interaction(
        discord_fake.slash("imagine", {"prompt": "cat"}, locale="en-US", created_at=old)
    )
    post = await discord_fake.wait_for(
        lambda c: c.method == "POST" and c.path.endswith(f"/channels/{CHANNEL_ID}/messages")
    )
    shown = list(texts_in(post.payload))
    assert shown[0] == zh("job.late", mention="<@100000000000000005>")
    assert not no_english(t for t in shown if t != "cat")
    assert sent.token


# --- English, and the owner's fallback -------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en-US", "en-GB", "fr", "zz-ZZ"])
async def test_english_speakers_and_languages_without_a_catalog_get_english(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, locale: str
) -> None:
    await start_bot()
    text = await private_error(
        discord_fake, await slash(discord_fake, "imagine", {"prompt": " "}, locale=locale)
    )
    assert text == CATALOG.text("error.empty_prompt", "en-US")
    assert text.startswith("Your prompt is empty.")


@pytest.mark.parametrize(("locale", "expected"), [("fr", ZH), ("en-GB", "en-US"), ("zh-TW", ZH)])
async def test_default_locale_picks_the_fallback(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, locale: str, expected: str
) -> None:
    await start_bot(default_locale=ZH)
    text = await private_error(
        discord_fake, await slash(discord_fake, "imagine", {"prompt": " "}, locale=locale)
    )
    assert text == CATALOG.text("error.empty_prompt", expected)


async def test_midjourneys_own_buttons_in_chinese(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    from bot.routing import parse_models
    from tests.e2e.test_formats import button_ids

    await start_bot(models=tuple(parse_models("gemini-2.5-flash-image,midjourney")), mj_poll_seconds=0.01)
    grid = await wait_result(
        discord_fake, await slash(discord_fake, "imagine", {"prompt": "锦鲤", "model": "midjourney"})
    )
    labels = [label for label, _ in button_ids(grid)]
    assert {"U1", "U4", "V2"} <= set(labels), "U and V stay as Midjourney writes them"
    press = dict(button_ids(grid))["U1"]
    message = discord_fake.original_message(grid.path.split("/")[-3])
    upscaled = await wait_result(
        discord_fake, await discord_fake.send_interaction(discord_fake.button(press, message, locale=ZH))
    )
    labels = [label for label, _ in button_ids(upscaled)]
    assert labels == [zh("mj.vary_strong"), zh("mj.zoom_2x"), zh("mj.custom_zoom")]
    zoom = dict(button_ids(upscaled))[zh("mj.custom_zoom")]
    message = discord_fake.original_message(upscaled.path.split("/")[-3])
    sent = await discord_fake.send_interaction(discord_fake.button(zoom, message, locale=ZH))
    modal = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    assert modal.payload["data"]["title"] == zh("actions.zoom_title")
    assert not no_english(texts_in(modal.payload))
    assert not no_english([t for t in texts_in(upscaled.payload) if t != "锦鲤"])


async def test_a_server_that_chose_no_language_gets_the_owners_default_for_mentions(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    # Discord reports en-US for every server that is not a Community server: that is no choice.
    await start_bot(default_locale=ZH)
    await discord_fake.set_guild_locale("en-US")
    message = discord_fake.message(
        MENTION, mentions=[BOT_USER], attachments=[discord_fake.attachment("a.png", png(20, 20))]
    )
    answer = await reply_to(discord_fake, message)
    assert answer.payload["content"] == zh("error.mention_hint", name="bananabot")


async def test_a_late_post_on_such_a_server_speaks_the_members_language(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    await discord_fake.set_guild_locale("en-US")
    old = time.time() - 15 * 60 + 10
    await discord_fake.send_interaction(
        discord_fake.slash("imagine", {"prompt": "猫"}, locale=ZH, created_at=old)
    )
    post = await discord_fake.wait_for(
        lambda c: c.method == "POST" and c.path.endswith(f"/channels/{CHANNEL_ID}/messages")
    )
    assert next(texts_in(post.payload)) == zh("job.late", mention="<@100000000000000005>")


async def test_the_result_buttons_their_form_and_history_in_chinese(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    from tests.e2e.helpers import button_labelled

    await start_bot()
    first = await slash(discord_fake, "imagine", {"prompt": "小木屋"})
    await wait_result(discord_fake, first)
    message = discord_fake.original_message(first.token)
    edit = button_labelled(message, zh("button.edit"))["custom_id"]
    opened = await discord_fake.send_interaction(discord_fake.button(edit, message, locale=ZH))
    modal = await discord_fake.wait_for(lambda c: c.path.endswith(f"{opened.token}/callback"))
    assert modal.payload["data"]["title"] == zh("modal.change_title")
    assert not no_english(texts_in(modal.payload))
    text_id = modal.payload["data"]["components"][0]["component"]["custom_id"]
    submitted = await discord_fake.send_interaction(
        discord_fake.modal_submit(
            modal.payload["data"]["custom_id"], {text_id: "红色屋顶"}, modal=modal.payload["data"], locale=ZH
        )
    )
    edited = await wait_result(discord_fake, submitted)
    shown = list(texts_in(edited.payload))
    assert any(t.startswith("-# ✏️") and "[之前的图片]" in t for t in shown), "the lineage line is Chinese"
    assert not no_english([t for t in shown if t != "红色屋顶"])

    history = await slash(discord_fake, "history")
    call = await discord_fake.wait_for(lambda c: c.path.endswith(f"{history.token}/callback"))
    (embed,) = call.payload["data"]["embeds"]
    assert embed["title"] == zh("history.title")
    assert not no_english([t for t in texts_in(call.payload) if "小木屋" not in t and "红色屋顶" not in t])


async def test_a_budget_refusal_and_the_relays_in_chinese(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    backup = FakeRelay()
    await backup.start()
    try:
        await start_bot(
            user_daily_budget=0.05,
            extra_relays=(Relay("backup", backup.base_url, "sk-backup-0000000001", {}, GeminiAuth.BEARER),),
            models=(ModelRoute("gemini-2.5-flash-image", "gemini", ("main", "backup")),),
        )
        relay.outage = "http_503"
        done = await slash(discord_fake, "imagine", {"prompt": "一"})
        await wait_result(discord_fake, done)
        assert zh("note.served_by_relay", relay="backup") in "\n".join(sent_for(discord_fake, done))
        assert not no_english(sent_for(discord_fake, done))
        refused = await private_error(discord_fake, await slash(discord_fake, "imagine", {"prompt": "二"}))
        found = re.search(r"<t:(\d+):R>", refused)
        assert found and refused == zh(
            "error.budget_user_day", left="0.0113", currency="USD", reset_at=int(found[1])
        )
        status = await answer(discord_fake, await slash(discord_fake, "status"))
        assert not no_english(texts_in(status))
        (embed,) = status["embeds"]
        fields = {f["name"]: f["value"] for f in embed["fields"]}
        assert fields[zh("status.relays")].splitlines()[1] == zh("status.relay_closed", relay="backup")
    finally:
        await backup.close()
