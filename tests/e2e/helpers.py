"""What the end-to-end tests share: sending commands and reading back what members saw."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from tests.fakes.discord import Call, FakeDiscord, SentInteraction

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
    """The edit or message that carried the pictures (progress edits carry none)."""
    return await discord_fake.wait_for(
        lambda c: (
            sent.token in c.path
            and c.method in ("PATCH", "POST")
            and "/webhooks/" in c.path
            and bool(c.files)
        ),
        timeout,
    )


def images_of(call: Call) -> list[Image.Image]:
    return [Image.open(io.BytesIO(f.data)) for f in call.files]
