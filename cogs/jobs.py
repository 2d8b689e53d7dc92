"""/usage and /status, the Cancel button, and the sink that shows jobs in Discord."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.i18n import Catalog
from bot.jobs.admission import Usage
from bot.ui.buttons import CancelButton
from bot.ui.client import BananaBot
from bot.ui.render import BANANA_YELLOW
from bot.ui.sink import DiscordSink
from bot.ui.translator import text as _
from bot.ui.who import member_of


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
        refused = sum(m.refused for m in state.models)
        if done + failed + refused:
            # The rate is the service's: a safety block or a request the model cannot take is not
            # the service failing.
            rate = round(100 * done / (done + failed)) if done + failed else 100
            value = catalog.text("status.success_value", locale, done=done, failed=failed, rate=rate)
            if refused:
                value += "\n" + catalog.text("status.refused_value", locale, refused=refused)
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
    embed = discord.Embed(title=catalog.text("usage.title", locale), colour=BANANA_YELLOW)
    lines = []
    if usage.exempt:
        lines.append(catalog.text("usage.used_unlimited", locale, used=usage.used))
        lines.append(catalog.text("usage.exempt", locale))
    elif usage.limit:
        lines.append(catalog.text("usage.used", locale, used=usage.used, limit=usage.limit))
        lines.append(catalog.text("usage.left", locale, left=usage.left, reset_at=usage.resets_at))
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
