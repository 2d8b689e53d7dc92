"""The buttons under every result: reroll, vary, edit, upscale, zoom out, delete, and U/V on a set.

Each custom_id is `bb:res:<job>:<how>:<picture>`: the press finds the result's job in the journal and
its picture on disk, so the buttons work after a restart and until RESULT_RETENTION_HOURS.
"""

from __future__ import annotations

import re

import discord

from bot.errors import NotYourPicture
from bot.followups import Offer, follow_up, offers
from bot.jobs.model import Job
from bot.request import Derivation
from bot.service import Delivery
from bot.ui.client import BananaBot
from bot.ui.flow import MAX_PROMPT, attachment_source, run_job
from bot.ui.guard import GuardedButton, GuardedModal
from bot.ui.who import member_of, origin_of

DELETE = "delete"
# The emoji are what members know these buttons by; the labels come from the catalog.
EMOJI = {
    Derivation.REROLL: "🔄",
    Derivation.VARY: "🎲",
    Derivation.VARY_STRONG: "🎲",
    Derivation.EDIT: "✏️",
    Derivation.UPSCALE: "⬆️",
    Derivation.ZOOM: "🔍",
}
MAX_UPLOADS = 3


class ResultButton(
    GuardedButton,
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"bb:res:(?P<job>\d+):(?P<how>[a-z_]+):(?P<index>\d+)",
):
    def __init__(
        self, job_id: int, how: str, index: int = 0, *, label: str | None = None, emoji: str | None = None
    ) -> None:
        style = discord.ButtonStyle.danger if how == DELETE else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(
                label=label, emoji=emoji, style=style, custom_id=f"bb:res:{job_id}:{how}:{index}"
            )
        )
        self.job_id, self.how, self.index = job_id, how, index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> ResultButton:
        return cls(int(match["job"]), match["how"], int(match["index"]))

    async def pressed(self, interaction: discord.Interaction[BananaBot]) -> None:
        jobs = interaction.client.jobs
        if self.how == DELETE:
            await delete_result(interaction, self.job_id)
            return
        how = Derivation(self.how)
        parent = await jobs.result_of(self.job_id)
        if how is Derivation.EDIT:
            await interaction.response.send_modal(ChangeModal(parent, self.index, interaction))
            return
        if how is Derivation.PICK:
            member, origin = member_of(interaction), origin_of(interaction)
            await interaction.response.defer(thinking=True)
            await jobs.pick(parent, self.index, origin, member)
            return
        caps = interaction.client.images.capabilities(parent.model)
        await run_job(interaction, follow_up(parent, how, self.index, caps))


async def delete_result(interaction: discord.Interaction[BananaBot], job_id: int) -> None:
    member = member_of(interaction)
    requester = await interaction.client.jobs.requester(job_id)
    if requester != member.user_id and not member.is_moderator:
        raise NotYourPicture(f"job {job_id}")
    await interaction.response.defer()
    # For a button, the interaction's "original" message is the one the button is on.
    await interaction.delete_original_response()


class ChangeModal(GuardedModal):
    """✏️ Edit…: what to change, and optionally more pictures to draw from."""

    def __init__(self, parent: Job, index: int, interaction: discord.Interaction[BananaBot]) -> None:
        catalog, locale = interaction.client.catalog, interaction.locale.value
        super().__init__(title=catalog.text("modal.change_title", locale))
        self.parent, self.index = parent, index
        self.words: discord.ui.TextInput[ChangeModal] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            placeholder=catalog.text("modal.change_placeholder", locale),
            max_length=MAX_PROMPT,
        )
        self.uploads: discord.ui.FileUpload[ChangeModal] = discord.ui.FileUpload(
            required=False, max_values=MAX_UPLOADS
        )
        self.add_item(discord.ui.Label(text=catalog.text("modal.change_label", locale), component=self.words))
        self.add_item(
            discord.ui.Label(text=catalog.text("modal.references_label", locale), component=self.uploads)
        )

    async def submitted(self, interaction: discord.Interaction[BananaBot]) -> None:
        caps = interaction.client.images.capabilities(self.parent.model)
        uploads = tuple(attachment_source(a) for a in self.uploads.values)
        request = follow_up(
            self.parent, Derivation.EDIT, self.index, caps, words=self.words.value, uploads=uploads
        )
        await run_job(interaction, request)


def result_buttons(bot: BananaBot, job: Job, delivery: Delivery, locale: str) -> list[ResultButton]:
    """The buttons of a result made by the bot's own follow-ups (not a task API's native ones)."""
    caps = bot.images.capabilities(job.model)
    found = [
        _button(bot, job.id, offer, locale, len(delivery.images))
        for offer in offers(job.request, caps, len(delivery.images))
    ]
    found.append(ResultButton(job.id, DELETE, label=bot.catalog.text("button.delete", locale), emoji="🗑️"))
    return found


def _button(bot: BananaBot, job_id: int, offer: Offer, locale: str, pictures: int) -> ResultButton:
    catalog, how = bot.catalog, offer.how
    if pictures > 1 and how in (Derivation.PICK, Derivation.VARY):
        key = "button.pick" if how is Derivation.PICK else "button.vary_one"
        label = catalog.text(key, locale, number=offer.index + 1)
        return ResultButton(job_id, how.value, offer.index, label=label)
    label = catalog.text(f"button.{how.value}", locale)
    return ResultButton(job_id, how.value, offer.index, label=label, emoji=EMOJI.get(how))
