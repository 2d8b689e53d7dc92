"""The result card: one Components V2 message with the prompt, the facts, the pictures in one
gallery and the buttons under them."""

from __future__ import annotations

import io

import discord

from bot.i18n import Catalog
from bot.jobs.model import Job
from bot.service import Delivery
from bot.ui.render import BANANA_YELLOW, clip

# Stable ids of the card's parts, so tests and later edits can find each one.
PROMPT_ID, FACTS_ID, SAID_ID, NOTES_ID, LINEAGE_ID, GALLERY_ID, HEADING_ID = 1, 2, 3, 4, 5, 6, 7
USED_PROMPT_ID = 8
# Discord allows 4000 characters of text displays in a message; the prompt and the model's words
# share what the facts leave.
PROMPT_CHARS = 1500
SAID_CHARS = 1000
BUTTONS_PER_ROW = 5


def jump_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def result_card(
    job: Job,
    delivery: Delivery,
    catalog: Catalog,
    locale: str,
    buttons: list[discord.ui.Item[discord.ui.LayoutView]],
    *,
    heading: str | None = None,
) -> tuple[discord.ui.LayoutView, list[discord.File]]:
    """The card and the files it shows (`attachment://` names); `heading` goes above it (a card
    carries no message content)."""
    request = delivery.plan.request
    files = [
        discord.File(
            io.BytesIO(image.data),
            filename=f"bananabot_{index + 1}.{image.filename_extension}",
            description=clip(request.caption, 1000),
        )
        for index, image in enumerate(delivery.images)
    ]
    card = discord.ui.Container(accent_colour=BANANA_YELLOW)
    card.add_item(
        discord.ui.TextDisplay(
            clip(discord.utils.escape_markdown(request.caption), PROMPT_CHARS) or "\u200b", id=PROMPT_ID
        )
    )
    card.add_item(discord.ui.TextDisplay(f"-# {facts(job, delivery, catalog, locale)}", id=FACTS_ID))
    if delivery.text:
        said = clip(discord.utils.escape_markdown(delivery.text), SAID_CHARS)
        label = catalog.text("embed.model_said", locale)
        card.add_item(
            discord.ui.TextDisplay(catalog.text("embed.labelled", locale, label=label, text=said), id=SAID_ID)
        )
    if rewritten(request.prompt, delivery.used_prompt):
        used = clip(discord.utils.escape_markdown(delivery.used_prompt), SAID_CHARS)
        label = catalog.text("embed.prompt_used", locale)
        shown = catalog.text("embed.labelled", locale, label=label, text=used)
        card.add_item(discord.ui.TextDisplay(shown, id=USED_PROMPT_ID))
    if delivery.notes:
        notes = " ".join(catalog.text(n.key, locale, **n.params) for n in delivery.notes)
        card.add_item(discord.ui.TextDisplay(f"-# {notes}", id=NOTES_ID))
    if delivery.lineage is not None:
        lineage = delivery.lineage
        link = jump_link(lineage.guild_id, lineage.channel_id, lineage.message_id)
        text = catalog.text(f"lineage.{lineage.how.value}", locale, link=link)
        card.add_item(discord.ui.TextDisplay(f"-# {text}", id=LINEAGE_ID))
    gallery = discord.ui.MediaGallery(id=GALLERY_ID)
    for file in files:
        gallery.add_item(media=f"attachment://{file.filename}")
    card.add_item(gallery)
    view = discord.ui.LayoutView(timeout=None)
    if heading:
        view.add_item(discord.ui.TextDisplay(heading, id=HEADING_ID))
    view.add_item(card)
    for start in range(0, len(buttons), BUTTONS_PER_ROW):
        view.add_item(discord.ui.ActionRow(*buttons[start : start + BUTTONS_PER_ROW]))
    return view, files


def rewritten(prompt: str, used: str) -> bool:
    """Whether the model drew from other words than the member's (not just case, spaces, a full stop)."""

    def plain(text: str) -> str:
        return " ".join(text.casefold().split()).rstrip(".。!！ ")

    return bool(used.strip()) and plain(used) != plain(prompt)


def facts(job: Job, delivery: Delivery, catalog: Catalog, locale: str) -> str:
    request = delivery.plan.request
    parts = [
        (catalog.text("embed.model", locale), request.model),
        (
            catalog.text("embed.aspect_ratio", locale),
            request.aspect_ratio or catalog.text("embed.ratio_default", locale),
        ),
    ]
    if request.size:
        parts.append((catalog.text("embed.size", locale), request.size))
    seconds = catalog.text("embed.seconds", locale, seconds=f"{delivery.seconds:.1f}")
    parts.append((catalog.text("embed.time", locale), seconds))
    # "Name: value" with the language's own colon (Chinese writes a full-width one).
    facts_line = " · ".join(
        catalog.text("embed.fact", locale, name=name, value=value) for name, value in parts
    )
    who = catalog.text("embed.requested_by", locale, name=job.origin.user_name)
    return f"{facts_line} · {discord.utils.escape_markdown(who)}"
