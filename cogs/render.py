"""Turn a finished delivery into the message members see."""

from __future__ import annotations

import io
from typing import Any

import discord

from bot.i18n import Catalog
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
    if delivery.plan.notes:
        embed.set_footer(text=" ".join(catalog.text(n.key, locale, **n.params) for n in delivery.plan.notes))
    embed.set_image(url=f"attachment://{files[0].filename}")
    return {"content": None, "embed": embed, "attachments": files}
