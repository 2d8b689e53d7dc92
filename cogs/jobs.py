"""/usage and /status, the Cancel button, and the sink that shows jobs in Discord."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.balance import Balance
from bot.i18n import Catalog
from bot.jobs.admission import Usage
from bot.pricing import money
from bot.relays import BreakerState, RelayStatus
from bot.ui.buttons import CancelButton
from bot.ui.client import BananaBot
from bot.ui.render import BANANA_YELLOW
from bot.ui.scaled import workers_field
from bot.ui.shards import gateway_state, shards_text
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
        workers = await workers_field(self.bot, catalog, locale)
        slots, queued = state.slots, state.queued
        if workers is not None:
            slots, queued, _ = workers  # the whole bot's room and everything waiting for it
        embed.add_field(
            name=catalog.text("status.queue", locale),
            value=catalog.text(
                "status.queue_value", locale, running=state.running, slots=slots, queued=queued
            ),
            inline=False,
        )
        if workers is not None:
            embed.add_field(
                name=catalog.text("status.workers", locale), value=workers[2][:1024], inline=False
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
        currency = self.bot.settings.currency
        if state.month_spend:
            embed.add_field(
                name=catalog.text("status.spend", locale),
                value=catalog.text(
                    "status.spend_value", locale, spent=money(state.month_spend), currency=currency
                ),
                inline=False,
            )
        unknown = sorted(self.bot.images.prices.unknown)
        if unknown:
            embed.add_field(
                name=catalog.text("status.unknown_prices", locale),
                value="\n".join(catalog.text("status.unknown_price", locale, model=m) for m in unknown)[
                    :1024
                ],
                inline=False,
            )
        balances = list(self.bot.balances.balances.values())
        if any(b.remaining is not None or b.unlimited for b in balances):
            embed.add_field(
                name=catalog.text("status.balance", locale),
                value="\n".join(balance_line(b, currency, catalog, locale) for b in balances)[:1024],
                inline=False,
            )
        relays = self.bot.images.relays.status()
        if len(relays) > 1:
            embed.add_field(
                name=catalog.text("status.relays", locale),
                value="\n".join(relay_line(r, catalog, locale) for r in relays)[:1024],
                inline=False,
            )
        shards = gateway_state(self.bot, self.bot.settings).shards
        if shards is not None:
            embed.add_field(
                name=catalog.text("status.shards", locale),
                value=shards_text(shards, self.bot.settings.shard_count, catalog, locale),
                inline=False,
            )
        if not state.accepting:
            embed.set_footer(text=catalog.text("status.restarting", locale))
        await interaction.response.send_message(embed=embed, ephemeral=True)


def balance_line(balance: Balance, currency: str, catalog: Catalog, locale: str) -> str:
    if balance.unlimited:
        return catalog.text("status.balance_unlimited", locale, relay=balance.relay)
    if balance.remaining is None:
        return catalog.text("status.balance_unknown", locale, relay=balance.relay)
    return catalog.text(
        "status.balance_line", locale, relay=balance.relay, left=money(balance.remaining), currency=currency
    )


def relay_line(relay: RelayStatus, catalog: Catalog, locale: str) -> str:
    if relay.state is BreakerState.OPEN and relay.until is not None:
        return catalog.text(
            "status.relay_open", locale, relay=relay.name, failures=relay.failures, until=int(relay.until)
        )
    if relay.state is BreakerState.PROBING:
        return catalog.text("status.relay_probing", locale, relay=relay.name)
    return catalog.text("status.relay_closed", locale, relay=relay.name)


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
    if usage.spend is not None:
        embed.add_field(
            name=catalog.text("usage.money", locale),
            value="\n".join(spend_lines(usage, catalog, locale)),
            inline=False,
        )
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
        if usage.spend is not None and usage.spend.guild_month is not None:
            embed.add_field(
                name=catalog.text("usage.guild_money", locale),
                value="\n".join(guild_spend_lines(usage, catalog, locale))[:1024],
                inline=False,
            )
    return embed


def spend_lines(usage: Usage, catalog: Catalog, locale: str) -> list[str]:
    """What the member spent today and this month, with what is left of each budget."""
    spend, currency = usage.spend, usage.currency
    assert spend is not None
    lines = []
    for key, spent, budget, renews in (
        ("usage.spent_day", spend.day, spend.day_budget, spend.day_ends),
        ("usage.spent_month", spend.month, spend.month_budget, spend.month_ends),
    ):
        if budget and not usage.exempt:
            lines.append(
                catalog.text(
                    f"{key}_budget",
                    locale,
                    spent=money(spent),
                    budget=money(budget),
                    left=money(max(0.0, budget - spent)),
                    currency=currency,
                    renews=int(renews),
                )
            )
        else:
            lines.append(catalog.text(key, locale, spent=money(spent), currency=currency))
    return lines


def guild_spend_lines(usage: Usage, catalog: Catalog, locale: str) -> list[str]:
    """The server's month for managers: its spend and budget, by model, and its top spenders."""
    spend, currency = usage.spend, usage.currency
    assert spend is not None and spend.guild_month is not None
    if spend.guild_budget:
        total = catalog.text(
            "usage.guild_spent_budget",
            locale,
            spent=money(spend.guild_month),
            budget=money(spend.guild_budget),
            currency=currency,
        )
    else:
        total = catalog.text("usage.guild_spent", locale, spent=money(spend.guild_month), currency=currency)
    lines = [total]
    lines += [
        catalog.text("usage.model_spend", locale, model=model, spent=money(amount), currency=currency)
        for model, amount in usage.guild_models
    ]
    if usage.top_spenders:
        lines.append(catalog.text("usage.top_spenders", locale))
        lines += [
            catalog.text("usage.spender_line", locale, user=user, spent=money(amount), currency=currency)
            for user, amount in usage.top_spenders
        ]
    return lines


async def setup(bot: BananaBot) -> None:
    bot.add_dynamic_items(CancelButton)
    bot.attach_job_sink(DiscordSink(bot))
    await bot.add_cog(Jobs(bot))
