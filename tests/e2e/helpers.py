"""What the end-to-end tests share: sending commands and reading back what members saw."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

from PIL import Image

from tests.fakes.discord import Call, FakeDiscord, SentInteraction, is_progress
from tests.fakes.discord_components import IS_COMPONENTS_V2, MEDIA_GALLERY, TEXT_DISPLAY, buttons_in, walk

EPHEMERAL = 64


async def imagine(discord_fake: FakeDiscord, **options: Any) -> SentInteraction:
    extra = {k: options.pop(k) for k in ("locale", "upload_limit", "member") if k in options}
    return await discord_fake.send_interaction(discord_fake.slash("imagine", options, **extra))


async def private_error(discord_fake: FakeDiscord, sent: SentInteraction) -> str:
    """The ephemeral error a member saw, checking the public placeholder did not stay."""
    final = await discord_fake.wait_for(
        lambda c: (
            sent.token in c.path
            and (c.method == "POST")
            and ("/webhooks/" in c.path or "callback" in c.path)
            and (
                (c.payload.get("flags") or 0) & EPHEMERAL
                or (c.payload.get("data") or {}).get("flags", 0) & EPHEMERAL
            )
        )
    )
    if "callback" in final.path:
        assert final.payload["type"] == 4
        return final.payload["data"]["content"]
    deleted = [c for c in discord_fake.calls_for(sent.token) if c.method == "DELETE"]
    assert [c.path.rsplit("/", 1)[1] for c in deleted] == ["@original"], "the public placeholder must go"
    assert deleted[0].at <= final.at
    # Progress edits may come first; the error itself never goes into the public message.
    assert not [c for c in discord_fake.calls_for(sent.token) if c.method == "PATCH" and c.at > deleted[0].at]
    return final.payload["content"]


def image_of(call: Call) -> Image.Image:
    return Image.open(io.BytesIO(call.files[0].data))


async def wait_result(discord_fake: FakeDiscord, sent: SentInteraction, timeout: float = 10.0) -> Call:
    """The edit or message that carried the pictures (a progress edit may carry a task's preview:
    it is not the result)."""
    return await discord_fake.wait_for(
        lambda c: (
            sent.token in c.path
            and c.method in ("PATCH", "POST")
            and "/webhooks/" in c.path
            and bool(c.files)
            and not is_progress(c)
        ),
        timeout,
    )


def images_of(call: Call) -> list[Image.Image]:
    return [Image.open(io.BytesIO(f.data)) for f in call.files]


# --- reading messages and Components V2 cards -----------------------------------------------------
#
# Each reader takes what the bot sent (a `Call`, or its payload: a message body or an interaction
# callback `{"type": 4 | 7, "data": ...}`) or a message as Discord stored it (`original_message`,
# `bot_posts`). Stored messages show gallery media as CDN URLs, what the bot sent as `attachment://`.

Sent = Call | Mapping[str, Any]


def _body(source: Sent) -> Mapping[str, Any]:
    body = (source.payload if isinstance(source, Call) else source) or {}
    if "components" not in body and isinstance(body.get("data"), Mapping):
        return body["data"]  # an interaction callback
    return body


def is_card(source: Sent) -> bool:
    """Whether it is a Components V2 message (flag IS_COMPONENTS_V2). An edit may leave the flag out
    and still be a card: read the stored message for that."""
    return bool((_body(source).get("flags") or 0) & IS_COMPONENTS_V2)


def buttons_of(source: Sent) -> list[dict[str, Any]]:
    """Every button, in order, wherever it sits: action rows, containers, sections' accessories.
    Each has `label`, `emoji`, `custom_id`, `style` and `disabled` (None or False when absent)."""
    return [
        {"label": None, "emoji": None, "custom_id": None, "disabled": False, **button}
        for button in buttons_in(_body(source).get("components") or [])
    ]


def button_labelled(source: Sent, label: str) -> dict[str, Any]:
    """The one button whose label (or emoji name) is `label`."""
    found = [b for b in buttons_of(source) if label in (b["label"], (b["emoji"] or {}).get("name"))]
    assert len(found) == 1, f"{len(found)} buttons labelled {label!r} in {buttons_of(source)}"
    return found[0]


def card_texts(source: Sent) -> list[str]:
    """Every text display's content, in document order."""
    return [c["content"] for _, c in walk(_body(source).get("components") or []) if c["type"] == TEXT_DISPLAY]


def gallery_of(source: Sent) -> list[str]:
    """The media URLs of every media gallery, in order."""
    return [
        item["media"]["url"]
        for _, c in walk(_body(source).get("components") or [])
        if c["type"] == MEDIA_GALLERY
        for item in c.get("items") or []
    ]
