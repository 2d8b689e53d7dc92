"""The buttons under the bot's messages. Each rebuilds itself from its custom_id alone
(discord.py's DynamicItem), so buttons keep working after a restart.

- Cancel, on a job's progress message.
- Follow-up actions that a task API offers on its results (upscale, vary, zoom, pan …). Their
  custom_id carries only a short key into the bot's database, where the API's long id is kept.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace

import discord

from bot.errors import TaskExpired
from bot.jobs.model import Job
from bot.request import FollowUp, GenerateRequest, Kind, Parent
from bot.service import Delivery
from bot.storage import StoredAction
from bot.ui.client import BananaBot
from bot.ui.flow import run_job
from bot.ui.guard import GuardedButton, GuardedModal
from bot.ui.who import member_of

MAX_BUTTONS = 25  # 5 rows of 5


def is_live(job: Job) -> bool:
    """Whether the job's interaction token can still edit its message."""
    return job.origin.application_id is not None and job.origin.token_usable(time.time())


class CancelButton(
    GuardedButton, discord.ui.DynamicItem[discord.ui.Button], template=r"bb:cancel:(?P<id>\d+)"
):
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

    async def pressed(self, interaction: discord.Interaction[BananaBot]) -> None:
        bot = interaction.client
        job = bot.jobs.cancel(self.job_id, member_of(interaction))
        if is_live(job):
            # The job's own message is updated to "Cancelled"; the press needs only acknowledging.
            await interaction.response.defer()
        else:
            # The job's token is gone: this press's own token can still edit the message.
            text = bot.catalog.text("job.cancelled", job.origin.locale, name=f"<@{interaction.user.id}>")
            await interaction.response.edit_message(content=text, embed=None, attachments=[], view=None)


class ActionButton(GuardedButton, discord.ui.DynamicItem[discord.ui.Button], template=r"bb:act:(?P<id>\d+)"):
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

    async def pressed(self, interaction: discord.Interaction[BananaBot]) -> None:
        stored = await interaction.client.actions.get(self.action_id)
        if stored is None:
            raise TaskExpired(f"no stored action {self.action_id}")
        if interaction.client.images.action_needs_prompt(stored.model, stored.action.custom_id):
            modal = ActionPromptModal(stored, interaction.client, interaction.locale.value)
            await interaction.response.send_modal(modal)
            return
        await run_action(interaction, stored, None)


class ActionPromptModal(GuardedModal):
    """Asks for the words a follow-up action needs (a custom zoom's prompt)."""

    def __init__(self, stored: StoredAction, bot: BananaBot, locale: str) -> None:
        title = bot.catalog.text("actions.zoom_title", locale)
        super().__init__(title=title, custom_id=f"bb:zoom:{stored.id}")
        self.stored = stored
        self.prompt: discord.ui.TextInput[ActionPromptModal] = discord.ui.TextInput(
            label=bot.catalog.text("actions.zoom_label", locale),
            style=discord.TextStyle.paragraph,
            max_length=4000,
        )
        self.add_item(self.prompt)

    async def submitted(self, interaction: discord.Interaction[BananaBot]) -> None:
        await run_action(interaction, self.stored, self.prompt.value)


async def run_action(
    interaction: discord.Interaction[BananaBot], stored: StoredAction, prompt: str | None
) -> None:
    bot = interaction.client
    label = native_label(bot, stored.action.label, interaction.locale.value) or stored.action.emoji
    caption = bot.catalog.text("actions.from", interaction.locale.value, label=label)
    follow_up = FollowUp(stored.task_id, stored.action.custom_id, caption)
    request = GenerateRequest(prompt or "", stored.model, kind=Kind.ACTION, follow_up=follow_up)
    # The card the button is on names the request it came from: its prompt and shape carry on.
    parent = await bot.jobs.for_message(interaction.message.id) if interaction.message else None
    if parent is not None:
        how = bot.images.action_derivation(stored.model, stored.action.custom_id)
        request = replace(
            request,
            aspect_ratio=parent.request.aspect_ratio,
            shown=prompt or parent.request.caption,
            parent=Parent(parent.id, 0, how),
        )
    await run_job(interaction, request)


# Midjourney's own button labels the catalog translates (`mj.<key>`); others (U1, V2, a label this
# table does not know yet) are shown as Midjourney wrote them.
NATIVE_LABELS = {
    "Vary (Strong)": "vary_strong",
    "Vary (Subtle)": "vary_subtle",
    "Vary (Region)": "vary_region",
    "Zoom Out 2x": "zoom_2x",
    "Zoom Out 1.5x": "zoom_1_5x",
    "Custom Zoom": "custom_zoom",
    "Make Square": "make_square",
    "Upscale (Subtle)": "upscale_subtle",
    "Upscale (Creative)": "upscale_creative",
    "Redo Upscale (Subtle)": "redo_upscale_subtle",
    "Redo Upscale (Creative)": "redo_upscale_creative",
}


def native_label(bot: BananaBot, label: str, locale: str) -> str:
    key = NATIVE_LABELS.get(label)
    return bot.catalog.text(f"mj.{key}", locale) if key else label


async def task_buttons(bot: BananaBot, delivery: Delivery, locale: str) -> list[ActionButton]:
    """A task API's own follow-up buttons on its result (none when it offers none)."""
    actions = delivery.actions[:MAX_BUTTONS]
    if not actions or delivery.task_id is None:
        return []
    ids = await bot.actions.add(delivery.plan.route.name, delivery.task_id, actions)
    return [
        ActionButton(i, native_label(bot, a.label, locale), a.emoji)
        for i, a in zip(ids, actions, strict=True)
    ]
