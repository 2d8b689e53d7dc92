"""The modal that asks for the prompt of a context-menu edit or blend."""

from __future__ import annotations

import discord

from bot.jobs.model import Job
from bot.request import Derivation, GenerateRequest, Kind, Parent, SourceImage
from bot.ui.client import BananaBot
from bot.ui.flow import MAX_PROMPT, generate, run_job
from bot.ui.guard import GuardedModal


class PromptModal(GuardedModal):
    """Asks for the prompt of a context-menu edit or blend, then runs it."""

    def __init__(
        self,
        kind: Kind,
        sources: list[SourceImage],
        interaction: discord.Interaction[BananaBot],
        *,
        parent: Job | None = None,
    ) -> None:
        catalog, locale = interaction.client.catalog, interaction.locale.value
        blend = kind is Kind.BLEND
        super().__init__(title=catalog.text("modal.blend_title" if blend else "modal.edit_title", locale))
        self.kind = kind
        self.sources = sources
        self.parent = parent  # the bot's own result the menu was used on
        self.prompt: discord.ui.TextInput[PromptModal] = discord.ui.TextInput(
            label=catalog.text("modal.prompt_label", locale),
            placeholder=catalog.text(
                "modal.blend_placeholder" if blend else "modal.edit_placeholder", locale
            ),
            style=discord.TextStyle.paragraph,
            required=not blend,
            max_length=MAX_PROMPT,
        )
        self.add_item(self.prompt)

    async def submitted(self, interaction: discord.Interaction[BananaBot]) -> None:
        if self.parent is not None:
            lineage = Parent(self.parent.id, 0, Derivation.MENU)
            request = GenerateRequest(self.prompt.value, self.parent.model, kind=Kind.EDIT, parent=lineage)
            await run_job(interaction, request)
            return
        await generate(interaction, self.kind, self.prompt.value, sources=self.sources)
