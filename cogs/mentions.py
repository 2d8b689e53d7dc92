"""Mentioning the bot: "@bananabot make it night" on a message with pictures, or in reply to one.

Works without the privileged message-content intent: Discord still sends the content, attachments
and replied-to message of messages that mention the bot.
"""

from __future__ import annotations

import contextlib
import logging
import re

import discord
from discord.ext import commands

from bot.errors import MentionWithoutWords
from bot.request import Derivation, GenerateRequest, Kind, Parent, SourceImage
from bot.ui.client import BananaBot
from bot.ui.flow import message_sources
from bot.ui.sink import mention_error_seconds
from bot.ui.tree import error_text, log_error
from bot.ui.who import guild_locale, message_member, message_origin

log = logging.getLogger(__name__)


class Mentions(commands.Cog):
    def __init__(self, bot: BananaBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or me not in message.mentions:
            return
        # A mention is read by the whole channel: it speaks the server's language, else the owner's
        # DEFAULT_LOCALE.
        locale = guild_locale(message) or self.bot.catalog.default
        try:
            await self._run(message, me, locale)
        except Exception as exc:
            log_error("mention", exc)
            try:
                # Public, so short-lived; a reply that does not ping (AllowedMentions.none()).
                await message.reply(
                    error_text(exc, self.bot.catalog, locale),
                    mention_author=False,
                    delete_after=mention_error_seconds(),
                )
            except discord.HTTPException as send_error:
                log.warning("Could not answer a mention (%s %s)", send_error.status, send_error.code)

    async def _run(self, message: discord.Message, me: discord.ClientUser, locale: str) -> None:
        member = message_member(message)
        prompt = re.sub(rf"<@!?{me.id}>", "", message.content).strip()
        request = await self._continued(message, me, prompt)
        if request is None:
            sources = await self._pictures(message, me)
            kind = Kind.IMAGINE if not sources else Kind.EDIT if len(sources) == 1 else Kind.BLEND
            request = GenerateRequest(prompt, "", kind=kind, sources=tuple(sources))
        if not prompt and (request.sources or request.parent):
            raise MentionWithoutWords(name=me.display_name)
        jobs = self.bot.jobs
        job = await jobs.accept(request, message_origin(message, locale), member)  # allowlists, limits
        # The answer is a reply that comes later; typing shows the bot is on it meanwhile (a courtesy:
        # without the right to type, the job still runs).
        with contextlib.suppress(discord.HTTPException):
            await message.channel.typing()
        await jobs.submit(job)

    async def _continued(
        self, message: discord.Message, me: discord.ClientUser, prompt: str
    ) -> GenerateRequest | None:
        """A reply to one of the bot's results edits that result as kept (full quality, on its own
        model, in conversation where the model keeps one); None when it is not such a reply."""
        reference = message.reference
        if reference is None or reference.message_id is None:
            return None
        replied = reference.resolved
        if isinstance(replied, discord.Message) and replied.author.id != me.id:
            return None
        parent = await self.bot.jobs.for_message(reference.message_id)
        if parent is None:
            return None  # not a result, or too old: its pictures are taken as they are posted
        return GenerateRequest(
            prompt,
            parent.model,
            kind=Kind.EDIT,
            sources=tuple(message_sources(message)),
            parent=Parent(parent.id, 0, Derivation.REPLY),
        )

    async def _pictures(self, message: discord.Message, me: discord.ClientUser) -> list[SourceImage]:
        """The message's own pictures; a reply adds the replied-to message's (a reply to one of the
        bot's results puts that result first, so the edit continues from it)."""
        own = message_sources(message)
        if message.reference is None or message.reference.message_id is None:
            return own
        replied = message.reference.resolved
        if not isinstance(replied, discord.Message):
            try:
                replied = await message.channel.fetch_message(message.reference.message_id)
            except discord.HTTPException:
                return own
        theirs = message_sources(replied)
        if replied.author.id == me.id:
            return theirs[:1] + own
        return own + theirs


async def setup(bot: BananaBot) -> None:
    await bot.add_cog(Mentions(bot))
