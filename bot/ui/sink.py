"""Shows jobs in Discord for the job engine: progress edits, the result card, failures, cancels."""

from __future__ import annotations

import contextlib
import io
import logging
from typing import Any

import aiohttp
import discord

from bot.jobs.model import Job
from bot.jobs.state import ProgressView
from bot.service import Delivery
from bot.ui.buttons import CancelButton, is_live, task_buttons
from bot.ui.card import result_card
from bot.ui.client import BananaBot
from bot.ui.render import preview_name, progress_message
from bot.ui.result_buttons import result_buttons
from bot.ui.tree import error_text

log = logging.getLogger(__name__)

# Interaction webhooks answer these once the 15-minute token is gone.
_TOKEN_GONE = (401, 404)
# Discord shows "typing…" for about 10 s after each call.
TYPING_LASTS = 8
# An error answering a mention is public: it goes away after this long (read at each use, so a
# test can shorten it).
MENTION_ERROR_SECONDS = 60.0


def mention_error_seconds() -> float:
    return MENTION_ERROR_SECONDS


class DiscordSink:
    """Shows jobs in Discord: edits of the deferred message while the token lives, channel
    messages (replying to the original, never pinging) after it."""

    def __init__(self, bot: BananaBot) -> None:
        self.bot = bot
        self._typing: dict[int, int] = {}
        self._previews: dict[int, int] = {}  # per job: the preview its message already shows

    def _webhook(self, job: Job) -> discord.Webhook:
        origin = job.origin
        data: Any = {"id": str(origin.application_id), "type": 3, "token": origin.token}
        return discord.Webhook.from_state(data, self.bot._connection)

    async def progress(self, job: Job, view: ProgressView) -> int | None:
        if not is_live(job):
            if job.origin.token is None and view.seconds // TYPING_LASTS != self._typing.get(job.id):
                # A mention has no message of its own to edit: "bananabot is typing…" is its progress.
                self._typing[job.id] = view.seconds // TYPING_LASTS
                await self.bot.http.send_typing(job.origin.channel_id)
            return None
        shown = progress_message(view, self.bot.catalog, job.origin.locale)
        cancel = None
        if not view.restarting:
            cancel = discord.ui.View(timeout=None)
            cancel.add_item(CancelButton(job.id, self.bot.catalog.text("job.cancel", job.origin.locale)))
        upload: dict[str, Any] = {}
        if view.preview is not None and self._previews.get(job.id) != hash(view.preview):
            # A new preview goes up once; later edits keep the attachment the message already has.
            name = preview_name(view.preview)
            upload["attachments"] = [discord.File(io.BytesIO(view.preview), filename=name)]
        message = await self._webhook(job).edit_message(
            "@original",  # type: ignore[arg-type]
            content=shown["content"],
            embed=shown["embed"],
            view=cancel,
            **upload,
        )
        if upload and view.preview is not None:
            self._previews[job.id] = hash(view.preview)
        return message.id

    async def deliver(self, job: Job, delivery: Delivery) -> int | None:
        self._typing.pop(job.id, None)
        self._previews.pop(job.id, None)
        origin = job.origin
        # The buttons are labelled for whoever reads the card: the member, or the channel when late.
        buttons = await self._buttons(job, delivery, origin.locale if is_live(job) else origin.channel_locale)
        if is_live(job):
            card, files = result_card(job, delivery, self.bot.catalog, origin.locale, buttons)
            try:
                # The progress message becomes the card: its text and embed go, the flag stays.
                message = await self._webhook(job).edit_message(
                    "@original",  # type: ignore[arg-type]
                    content=None,
                    embed=None,
                    attachments=files,
                    view=card,
                )
                return message.id
            except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                # Token gone, Discord failing or the network: the channel is the way left.
                log.info(
                    "Job %d: editing the command's message failed (%s); posting in the channel", job.id, exc
                )
        late = None
        if origin.token is not None:
            late = self.bot.catalog.text("job.late", origin.channel_locale, mention=f"<@{origin.user_id}>")
        card, files = result_card(
            job, delivery, self.bot.catalog, origin.channel_locale, buttons, heading=late
        )
        posted = await self._post(job, files=files, view=card)
        await self._settle_original(job)
        return posted.id

    async def _buttons(
        self, job: Job, delivery: Delivery, locale: str
    ) -> list[discord.ui.Item[discord.ui.LayoutView]]:
        # A task API's own buttons where it offers them (they act on its task), else the bot's.
        native = await task_buttons(self.bot, delivery, locale)
        if native:
            return list(native)
        return list(result_buttons(self.bot, job, delivery, locale))

    async def _settle_original(self, job: Job) -> None:
        """After a late post, take the progress text and Cancel button off the command's message."""
        if job.origin.token is None or job.message_id is None:
            return
        channel = self.bot.get_partial_messageable(job.origin.channel_id, guild_id=job.origin.guild_id)
        text = self.bot.catalog.text("job.answered_below", job.origin.channel_locale)
        with contextlib.suppress(discord.HTTPException):
            await channel.get_partial_message(job.message_id).edit(content=text, embed=None, view=None)

    async def fail(self, job: Job, error: BaseException) -> None:
        self._typing.pop(job.id, None)
        self._previews.pop(job.id, None)
        if is_live(job):
            text = error_text(error, self.bot.catalog, job.origin.locale)
            webhook = self._webhook(job)
            try:
                # The public "thinking…" message would stay forever: remove it so the error is private.
                await webhook.delete_message("@original")  # type: ignore[arg-type]
            except discord.NotFound:
                pass
            except discord.HTTPException as exc:
                if exc.status not in _TOKEN_GONE:
                    raise
            else:
                await webhook.send(text, ephemeral=True)
                return
        locale = job.origin.channel_locale
        content = error_text(error, self.bot.catalog, locale)
        if job.origin.token is not None:
            content = self.bot.catalog.text(
                "job.failed_for", locale, mention=f"<@{job.origin.user_id}>", reason=content
            )
            await self._post(job, content=content)
            return
        # A mention's failure is a public reply: it does not stay in the channel.
        await self._post(job, content=content, delete_after=mention_error_seconds())

    async def cancelled(self, job: Job) -> None:
        self._previews.pop(job.id, None)
        if not is_live(job):
            return  # only the Cancel button cancels, and it lives on the interaction's message
        text = self.bot.catalog.text("job.cancelled", job.origin.locale, name=f"<@{job.cancelled_by}>")
        await self._webhook(job).edit_message(
            "@original",  # type: ignore[arg-type]
            content=text,
            embed=None,
            view=None,
        )

    async def was_delivered(self, job: Job) -> bool:
        if not is_live(job):
            return False  # a channel post carries the job's nonce, so Discord drops a second one
        try:
            message = await self._webhook(job).fetch_message("@original")  # type: ignore[arg-type]
        except discord.HTTPException:
            return False
        return bool(message.attachments)

    async def _post(self, job: Job, **fields: Any) -> discord.Message:
        origin = job.origin
        channel = self.bot.get_partial_messageable(origin.channel_id, guild_id=origin.guild_id)
        target = origin.reply_to or job.message_id
        reference = None
        if target is not None:
            reference = discord.MessageReference(
                message_id=target,
                channel_id=origin.channel_id,
                guild_id=origin.guild_id,
                fail_if_not_exists=False,
            )
        if fields.get("view") is discord.utils.MISSING:
            del fields["view"]
        # The nonce makes Discord drop a second copy of the same job's post (a retry after a restart).
        return await channel.send(reference=reference, mention_author=False, nonce=f"bb{job.id}", **fields)
