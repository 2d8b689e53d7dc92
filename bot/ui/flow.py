"""The one way every command answers: check and accept a job, defer, and hand it to the job engine."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

import discord

from bot.directory import LISTED
from bot.errors import BotError, NoPictures
from bot.providers.base import COMMON_RATIOS
from bot.request import GenerateRequest, Kind, SourceImage
from bot.ui.client import BananaBot
from bot.ui.who import member_of, origin_of

# Discord's own cap on a text option or a modal's text input is 6000; image APIs take less.
MAX_PROMPT = 4000
_IMAGE_NAME = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif", ".heic", ".heif")


async def generate(
    interaction: discord.Interaction[BananaBot],
    kind: Kind,
    prompt: str,
    *,
    model: str | None = None,
    aspect_ratio: str | None = None,
    size: str | None = None,
    count: int = 1,
    sources: Sequence[SourceImage] = (),
) -> None:
    """Turn a member's request into a job; errors go to the tree's handler, which answers privately."""
    request = GenerateRequest(
        prompt, model or "", aspect_ratio, size, count=count, kind=kind, sources=tuple(sources)
    )
    await run_job(interaction, request)


async def run_job(interaction: discord.Interaction[BananaBot], request: GenerateRequest) -> None:
    """Accept (refusals stay private and come before the defer), defer, then hand the job over."""
    jobs = interaction.client.jobs
    job = await jobs.accept(request, origin_of(interaction), member_of(interaction))
    try:
        answer = await interaction.response.defer(thinking=True)
    except Exception:
        await jobs.abandon(job)
        raise
    # The command's message, known from the defer's answer: a late or refused result replies to it
    # and tidies it, even when no progress edit ever named it.
    await jobs.submit(job, message_id=answer.message_id if answer is not None else None)


def attachment_source(attachment: discord.Attachment) -> SourceImage:
    return SourceImage(attachment.filename, attachment.url, attachment.content_type, attachment.size)


def message_sources(message: discord.Message) -> list[SourceImage]:
    """The pictures a message carries: its image attachments, then its embeds' pictures."""
    sources = [
        attachment_source(a)
        for a in message.attachments
        if (a.content_type or "").startswith("image/") or a.filename.lower().endswith(_IMAGE_NAME)
    ]
    if not sources:
        # Nothing looks like a picture: take the files anyway, so the member learns why each is unusable.
        sources = [attachment_source(a) for a in message.attachments]
    seen = {s.url for s in sources}
    for embed in message.embeds:
        # Discord's media proxy copy, never the link's own server: members choose those.
        for url in (embed.image.proxy_url, embed.thumbnail.proxy_url):
            if url and url.startswith(("https://", "http://")) and url not in seen:
                seen.add(url)
                name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]) or "image"
                sources.append(SourceImage(name, url))
    return sources


def require_pictures(sources: Sequence[SourceImage]) -> None:
    if not sources:
        raise NoPictures()


# Discord drops an autocomplete answer after 3 s; the relay's model list gets at most this long.
AUTOCOMPLETE_WAIT = 1.5


async def model_autocomplete(
    interaction: discord.Interaction[BananaBot], current: str
) -> list[discord.app_commands.Choice[str]]:
    routes = await interaction.client.images.directory.suggestions(current, wait=AUTOCOMPLETE_WAIT)
    return [discord.app_commands.Choice(name=r.name, value=r.name) for r in routes[:LISTED]]


async def ratio_autocomplete(
    interaction: discord.Interaction[BananaBot], current: str
) -> list[discord.app_commands.Choice[str]]:
    """The shapes the chosen model makes (the `model` option, else the default), named in the
    member's language; the common ones while the model is not known."""
    bot = interaction.client
    try:
        ratios = bot.images.capabilities(getattr(interaction.namespace, "model", None)).aspect_ratios
    except BotError:
        ratios = COMMON_RATIOS
    locale, wanted = interaction.locale.value, current.strip().lower()
    choices = [
        discord.app_commands.Choice(name=bot.catalog.text(f"choice.ratio.{r}", locale), value=r)
        for r in ratios
    ]
    return [c for c in choices if wanted in c.name.lower() or wanted in c.value][:LISTED]
