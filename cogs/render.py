"""Turn a finished delivery into the message members see."""

from __future__ import annotations

import contextlib
import io
import time
from typing import Any

import discord

from bot.i18n import Catalog
from bot.providers.base import Progress
from bot.service import Delivery

BANANA_YELLOW = 0xFFD43B


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def result_message(
    delivery: Delivery, catalog: Catalog, locale: str, requester: discord.abc.User
) -> dict[str, Any]:
    """Keyword arguments for `edit_original_response`: the pictures and an embed describing them."""
    request = delivery.plan.request
    files = [
        discord.File(
            io.BytesIO(image.data),
            filename=f"bananabot_{index + 1}.{image.filename_extension}",
            description=_clip(request.prompt, 1000),
        )
        for index, image in enumerate(delivery.images)
    ]
    embed = discord.Embed(
        description=_clip(discord.utils.escape_markdown(request.prompt), 1500), colour=BANANA_YELLOW
    )
    embed.set_author(
        name=catalog.text("embed.requested_by", locale, name=requester.display_name),
        icon_url=requester.display_avatar.url,
    )
    embed.add_field(name=catalog.text("embed.model", locale), value=request.model)
    ratio = request.aspect_ratio or catalog.text("embed.ratio_default", locale)
    embed.add_field(name=catalog.text("embed.aspect_ratio", locale), value=ratio)
    if request.size:
        embed.add_field(name=catalog.text("embed.size", locale), value=request.size)
    seconds = f"{delivery.seconds:.1f}"
    embed.add_field(
        name=catalog.text("embed.time", locale), value=catalog.text("embed.seconds", locale, seconds=seconds)
    )
    if delivery.text:
        embed.add_field(
            name=catalog.text("embed.model_said", locale),
            value=_clip(discord.utils.escape_markdown(delivery.text), 1000),
            inline=False,
        )
    if delivery.notes:
        embed.set_footer(text=" ".join(catalog.text(n.key, locale, **n.params) for n in delivery.notes))
    embed.set_image(url=f"attachment://{files[0].filename}")
    return {"content": None, "embed": embed, "attachments": files}


class ProgressReporter:
    """Shows a long job's progress in the deferred message, at most once every `EVERY` seconds."""

    # Discord rate-limits edits of one message; every couple of seconds reads as live.
    EVERY = 2.0

    def __init__(self, interaction: discord.Interaction, catalog: Catalog) -> None:
        self.interaction = interaction
        self.catalog = catalog
        self._last = 0.0

    async def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self.EVERY:
            return
        self._last = now
        locale = self.interaction.locale.value
        if progress.percent is not None:
            text = self.catalog.text("progress.percent", locale, percent=progress.percent)
        else:
            text = self.catalog.text("progress.waiting", locale)
        embed = None
        if progress.preview_url and progress.preview_url.startswith("https://"):
            embed = discord.Embed(colour=BANANA_YELLOW).set_image(url=progress.preview_url)
        # Progress is a courtesy: a failed edit must not end the job, whose result still follows.
        with contextlib.suppress(discord.HTTPException):
            await self.interaction.edit_original_response(content=text, embed=embed)
