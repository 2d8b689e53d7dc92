"""/history's pages: a member's recent results with their prompt, model, time and a jump link."""

from __future__ import annotations

import re

import discord

from bot.errors import NotAllowedToLook
from bot.jobs.engine import HistoryPage
from bot.ui.card import jump_link
from bot.ui.client import BananaBot
from bot.ui.guard import GuardedButton
from bot.ui.render import BANANA_YELLOW, clip
from bot.ui.who import member_of

PROMPT_CHARS = 80


async def history_message(
    bot: BananaBot, locale: str, user_id: int, page: int
) -> tuple[discord.Embed, discord.ui.View]:
    found = await bot.jobs.history(user_id, page)
    return history_embed(bot, locale, user_id, found), history_buttons(bot, locale, user_id, found)


def history_embed(bot: BananaBot, locale: str, user_id: int, found: HistoryPage) -> discord.Embed:
    catalog = bot.catalog
    embed = discord.Embed(title=catalog.text("history.title", locale), colour=BANANA_YELLOW)
    lines = [catalog.text("history.whose", locale, user=f"<@{user_id}>")]
    for job in found.jobs:
        origin = job.origin
        link = jump_link(origin.guild_id, origin.channel_id, job.message_id or 0)
        prompt = clip(discord.utils.escape_markdown(job.request.caption), PROMPT_CHARS) or "…"
        lines.append(
            catalog.text(
                "history.line",
                locale,
                prompt=prompt,
                model=job.model,
                when=f"<t:{int(job.finished_at or 0)}:R>",
                link=link,
            )
        )
    hours = round(bot.settings.result_retention_hours)
    if not found.jobs:
        lines.append(catalog.text("history.empty", locale, hours=hours))
    embed.description = "\n".join(lines)
    embed.set_footer(text=catalog.text("history.page", locale, page=found.page + 1, pages=found.pages))
    return embed


def history_buttons(bot: BananaBot, locale: str, user_id: int, found: HistoryPage) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for page, key, emoji in (
        (found.page - 1, "history.previous", "◀️"),
        (found.page + 1, "history.next", "▶️"),
    ):
        button = HistoryButton(user_id, max(0, page), bot.catalog.text(key, locale), emoji)
        button.item.disabled = not 0 <= page < found.pages
        view.add_item(button)
    return view


class HistoryButton(
    GuardedButton, discord.ui.DynamicItem[discord.ui.Button], template=r"bb:hist:(?P<user>\d+):(?P<page>\d+)"
):
    def __init__(self, user_id: int, page: int, label: str | None = None, emoji: str | None = None) -> None:
        # Previous names a page below Next's, so the two ids differ on every page.
        super().__init__(discord.ui.Button(label=label, emoji=emoji, custom_id=f"bb:hist:{user_id}:{page}"))
        self.user_id, self.page = user_id, page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> HistoryButton:
        return cls(int(match["user"]), int(match["page"]))

    async def pressed(self, interaction: discord.Interaction[BananaBot]) -> None:
        bot, locale = interaction.client, interaction.locale.value
        viewer = member_of(interaction)
        if viewer.user_id != self.user_id and not viewer.is_moderator:
            raise NotAllowedToLook(f"history of {self.user_id}")
        embed, view = await history_message(bot, locale, self.user_id, self.page)
        await interaction.response.edit_message(embed=embed, view=view)
