"""Follow-up buttons that a task API offers on its results (upscale, vary, zoom, pan …); they
survive restarts.

A button's custom_id carries only a short key into the bot's database, where the API's long
follow-up id is kept; DynamicItem rebuilds the button from that key after a restart.
"""

from __future__ import annotations

import re

import discord

from bot.client import BananaBot
from bot.errors import TaskExpired
from bot.request import FollowUp, GenerateRequest, Kind
from bot.service import Delivery
from bot.storage import StoredAction
from bot.tree import report_error
from cogs.flow import run_job

MAX_BUTTONS = 25  # 5 rows of 5


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=r"bb:act:(?P<id>\d+)"):
    def __init__(self, action_id: int, label: str = "", emoji: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or None,
                emoji=emoji or None,
                style=discord.ButtonStyle.secondary,
                custom_id=f"bb:act:{action_id}",
            )
        )
        self.action_id = action_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> ActionButton:
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction[BananaBot]) -> None:  # type: ignore[override]
        try:
            stored = await interaction.client.actions.get(self.action_id)
            if stored is None:
                raise TaskExpired(f"no stored action {self.action_id}")
            if interaction.client.images.action_needs_prompt(stored.model, stored.action.custom_id):
                await interaction.response.send_modal(PromptModal(stored, interaction.client))
                return
            await run_action(interaction, stored, None)
        except Exception as exc:
            await report_error(interaction, exc)


class PromptModal(discord.ui.Modal):
    def __init__(self, stored: StoredAction, bot: BananaBot) -> None:
        super().__init__(title=bot.catalog.text("actions.zoom_title"), custom_id=f"bb:zoom:{stored.id}")
        self.stored = stored
        self.prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
            label=bot.catalog.text("actions.zoom_label"), style=discord.TextStyle.paragraph, max_length=4000
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction[BananaBot]) -> None:  # type: ignore[override]
        await run_action(interaction, self.stored, self.prompt.value)

    async def on_error(self, interaction: discord.Interaction[BananaBot], error: Exception) -> None:  # type: ignore[override]
        await report_error(interaction, error)


async def run_action(
    interaction: discord.Interaction[BananaBot], stored: StoredAction, prompt: str | None
) -> None:
    label = stored.action.label or stored.action.emoji
    caption = interaction.client.catalog.text("actions.from", interaction.locale.value, label=label)
    follow_up = FollowUp(stored.task_id, stored.action.custom_id, caption)
    request = GenerateRequest(prompt or "", stored.model, kind=Kind.ACTION, follow_up=follow_up)
    await run_job(interaction, request)


async def action_view(bot: BananaBot, delivery: Delivery) -> discord.ui.View | discord.utils._MissingSentinel:
    """Buttons for a result's follow-ups, or MISSING when it has none."""
    actions = delivery.actions[:MAX_BUTTONS]
    if not actions or delivery.task_id is None:
        return discord.utils.MISSING
    ids = await bot.actions.add(delivery.plan.route.name, delivery.task_id, actions)
    view = discord.ui.View(timeout=None)
    for action_id, action in zip(ids, actions, strict=True):
        view.add_item(ActionButton(action_id, action.label, action.emoji))
    return view


async def setup(bot: BananaBot) -> None:
    bot.add_dynamic_items(ActionButton)
