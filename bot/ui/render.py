"""The progress message of a running job, and what the Discord side's messages share."""

from __future__ import annotations

from typing import Any

import discord

from bot.i18n import Catalog
from bot.imaging import extension, sniff
from bot.jobs.model import JobStatus
from bot.jobs.state import ProgressView
from bot.pricing import money

BANANA_YELLOW = 0xFFD43B


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    if view.estimate and not view.restarting:
        estimate = catalog.text("job.estimate", locale, amount=money(view.estimate), currency=view.currency)
        text = f"{text} · {estimate}"
    embed = None
    if view.preview:
        embed = discord.Embed(colour=BANANA_YELLOW).set_image(
            url=f"attachment://{preview_name(view.preview)}"
        )
    return {"content": text, "embed": embed}


def preview_name(data: bytes) -> str:
    return f"preview.{extension(sniff(data) or 'image/png')}"
