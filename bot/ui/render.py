"""Turn a finished delivery into the message members see."""

from __future__ import annotations

import io
from typing import Any

import discord

from bot.i18n import Catalog
from bot.jobs.model import JobStatus
from bot.jobs.state import ProgressView
from bot.service import Delivery

BANANA_YELLOW = 0xFFD43B


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def result_message(
    delivery: Delivery, catalog: Catalog, locale: str, requester: str, avatar_url: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for a message edit or send: the pictures and an embed describing them."""
    request = delivery.plan.request
    files = [
        discord.File(
            io.BytesIO(image.data),
            filename=f"bananabot_{index + 1}.{image.filename_extension}",
            description=clip(request.caption, 1000),
        )
        for index, image in enumerate(delivery.images)
    ]
    embed = discord.Embed(
        description=clip(discord.utils.escape_markdown(request.caption), 1500), colour=BANANA_YELLOW
    )
    embed.set_author(name=catalog.text("embed.requested_by", locale, name=requester), icon_url=avatar_url)
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
            value=clip(discord.utils.escape_markdown(delivery.text), 1000),
            inline=False,
        )
    if delivery.notes:
        embed.set_footer(text=" ".join(catalog.text(n.key, locale, **n.params) for n in delivery.notes))
    embed.set_image(url=f"attachment://{files[0].filename}")
    return {"content": None, "embed": embed, "attachments": files}


def progress_message(view: ProgressView, catalog: Catalog, locale: str) -> dict[str, Any]:
    """Keyword arguments for the edit that shows where a job stands (its Cancel button aside)."""
    if view.restarting:
        text = catalog.text("job.restarting", locale)
    elif view.status is JobStatus.QUEUED:
        text = (
            catalog.text("job.queued", locale, ahead=view.ahead)
            if view.ahead
            else catalog.text("job.queued_next", locale)
        )
    elif view.percent is not None:
        text = catalog.text("job.percent", locale, percent=view.percent, seconds=view.seconds)
    else:
        text = catalog.text("job.generating", locale, seconds=view.seconds)
    embed = None
    if view.preview_url and view.preview_url.startswith("https://"):
        embed = discord.Embed(colour=BANANA_YELLOW).set_image(url=view.preview_url)
    return {"content": text, "embed": embed}
