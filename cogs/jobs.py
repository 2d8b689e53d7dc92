"""The Discord side of the job engine: showing a job's progress and outcome, its Cancel button,
and the /usage and /status commands."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.client import BananaBot
from bot.i18n import Catalog
from bot.jobs.admission import Usage, duration
from bot.jobs.model import Job
from bot.jobs.state import ProgressView
from bot.service import Delivery
from bot.translator import text as _
from bot.tree import error_text, report_error
from bot.who import member_of
from cogs.actions import action_view
from cogs.render import BANANA_YELLOW, progress_message, result_message

log = logging.getLogger(__name__)

# Interaction webhooks answer these once the 15-minute token is gone.
_TOKEN_GONE = (401, 404)
# Discord shows "typing…" for about 10 s after each call.
TYPING_LASTS = 8


def is_live(job: Job) -> bool:
    """Whether the job's interaction token can still edit its message."""
    return job.origin.application_id is not None and job.origin.token_usable(time.time())


class CancelButton(discord.ui.DynamicItem[discord.ui.Button], template=r"bb:cancel:(?P<id>\d+)"):
    def __init__(self, job_id: int, label: str = "Cancel") -> None:
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.danger, custom_id=f"bb:cancel:{job_id}")
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> CancelButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[BananaBot]) -> None:  # type: ignore[override]
        bot = interaction.client
        try:
            job = bot.jobs.cancel(self.job_id, member_of(interaction))
        except Exception as exc:
            await report_error(interaction, exc)
            return
        if is_live(job):
            # The job's own message is updated to "Cancelled"; the press needs only acknowledging.
            await interaction.response.defer()
        else:
            # The job's token is gone: this press's own token can still edit the message.
            text = bot.catalog.text("job.cancelled", job.origin.locale, name=f"<@{interaction.user.id}>")
            await interaction.response.edit_message(content=text, embed=None, attachments=[], view=None)


class DiscordSink:
    """Shows jobs in Discord: edits of the deferred message while the token lives, channel
    messages (replying to the original, never pinging) after it."""

    def __init__(self, bot: BananaBot) -> None:
        self.bot = bot
        self._typing: dict[int, int] = {}

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
        message = await self._webhook(job).edit_message(
            "@original",  # type: ignore[arg-type]
            content=shown["content"],
            embed=shown["embed"],
            view=cancel,
        )
        return message.id

    async def deliver(self, job: Job, delivery: Delivery) -> None:
        self._typing.pop(job.id, None)
        origin = job.origin
        shown = result_message(delivery, self.bot.catalog, origin.locale, origin.user_name, origin.avatar_url)
        view = await action_view(self.bot, delivery)
        if is_live(job):
            try:
                await self._webhook(job).edit_message(
                    "@original",  # type: ignore[arg-type]
                    content=None,
                    embed=shown["embed"],
                    attachments=shown["attachments"],
                    view=None if view is discord.utils.MISSING else view,
                )
                return
            except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
                # Token gone, Discord failing or the network: the channel is the way left.
                log.info(
                    "Job %d: editing the command's message failed (%s); posting in the channel", job.id, exc
                )
                for file in shown["attachments"]:
                    file.reset()
        late = None
        if origin.token is not None:
            late = self.bot.catalog.text("job.late", origin.locale, mention=f"<@{origin.user_id}>")
        await self._post(job, content=late, embed=shown["embed"], files=shown["attachments"], view=view)
        await self._settle_original(job)

    async def _settle_original(self, job: Job) -> None:
        """After a late post, take the progress text and Cancel button off the command's message."""
        if job.origin.token is None or job.message_id is None:
            return
        channel = self.bot.get_partial_messageable(job.origin.channel_id, guild_id=job.origin.guild_id)
        text = self.bot.catalog.text("job.answered_below", job.origin.locale)
        with contextlib.suppress(discord.HTTPException):
            await channel.get_partial_message(job.message_id).edit(content=text, embed=None, view=None)

    async def fail(self, job: Job, error: BaseException) -> None:
        self._typing.pop(job.id, None)
        text = error_text(error, self.bot.catalog, job.origin.locale)
        if is_live(job):
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
        content = text
        if job.origin.token is not None:
            content = self.bot.catalog.text(
                "job.failed_for", job.origin.locale, mention=f"<@{job.origin.user_id}>", reason=text
            )
        await self._post(job, content=content)

    async def cancelled(self, job: Job) -> None:
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

    async def _post(self, job: Job, **fields: Any) -> None:
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
        await channel.send(reference=reference, mention_author=False, nonce=f"bb{job.id}", **fields)


class Jobs(commands.Cog):
    def __init__(self, bot: BananaBot) -> None:
        self.bot = bot

    @app_commands.command(name="usage", description=_("cmd.usage.description"))
    async def usage(self, interaction: discord.Interaction[BananaBot]) -> None:
        member = member_of(interaction)
        usage = await self.bot.jobs.usage(member, with_guild=member.is_manager)
        embed = usage_embed(usage, self.bot.catalog, interaction.locale.value)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @app_commands.command(name="status", description=_("cmd.status.description"))
    async def status(self, interaction: discord.Interaction[BananaBot]) -> None:
        catalog, locale = self.bot.catalog, interaction.locale.value
        state = await self.bot.jobs.status()
        embed = discord.Embed(title=catalog.text("status.title", locale), colour=BANANA_YELLOW)
        embed.add_field(
            name=catalog.text("status.queue", locale),
            value=catalog.text(
                "status.queue_value", locale, running=state.running, slots=state.slots, queued=state.queued
            ),
            inline=False,
        )
        done = sum(m.done for m in state.models)
        failed = sum(m.failed for m in state.models)
        if done + failed:
            rate = round(100 * done / (done + failed))
            value = catalog.text("status.success_value", locale, done=done, failed=failed, rate=rate)
        else:
            value = catalog.text("status.none", locale)
        embed.add_field(name=catalog.text("status.success", locale), value=value, inline=False)
        lines = [
            catalog.text(
                "status.model_line", locale, model=m.model, seconds=f"{m.median_seconds:.1f}", count=m.done
            )
            for m in state.models
            if m.median_seconds is not None
        ]
        if lines:
            embed.add_field(
                name=catalog.text("status.models", locale), value="\n".join(lines)[:1024], inline=False
            )
        if not state.accepting:
            embed.set_footer(text=catalog.text("status.restarting", locale))
        await interaction.response.send_message(embed=embed, ephemeral=True)


def usage_embed(usage: Usage, catalog: Catalog, locale: str) -> discord.Embed:
    hours = duration(usage.resets_in)
    embed = discord.Embed(title=catalog.text("usage.title", locale), colour=BANANA_YELLOW)
    lines = []
    if usage.exempt:
        lines.append(catalog.text("usage.used_unlimited", locale, used=usage.used))
        lines.append(catalog.text("usage.exempt", locale))
    elif usage.limit:
        lines.append(catalog.text("usage.used", locale, used=usage.used, limit=usage.limit))
        lines.append(catalog.text("usage.left", locale, left=usage.left, hours=hours))
    else:
        lines.append(catalog.text("usage.used_unlimited", locale, used=usage.used))
    if usage.cooldown and not usage.exempt:
        lines.append(catalog.text("usage.cooldown", locale, seconds=f"{usage.cooldown:g}"))
    embed.description = "\n".join(lines)
    if usage.guild_used is not None:
        if usage.guild_limit:
            value = catalog.text("usage.guild_used", locale, used=usage.guild_used, limit=usage.guild_limit)
        else:
            value = catalog.text("usage.guild_unlimited", locale, used=usage.guild_used)
        embed.add_field(name=catalog.text("usage.guild_title", locale), value=value, inline=False)
        top = "\n".join(catalog.text("usage.top_line", locale, user=u, used=n) for u, n in usage.top)
        embed.add_field(
            name=catalog.text("usage.top", locale),
            value=top or catalog.text("usage.nobody", locale),
            inline=False,
        )
    return embed


async def setup(bot: BananaBot) -> None:
    bot.add_dynamic_items(CancelButton)
    bot.attach_job_sink(DiscordSink(bot))
    await bot.add_cog(Jobs(bot))
