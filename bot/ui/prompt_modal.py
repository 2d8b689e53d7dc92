"""The modal that asks for the prompt of a context-menu edit or blend."""

from __future__ import annotations

import discord

from bot.request import Kind, SourceImage
from bot.ui.client import BananaBot
from bot.ui.flow import MAX_PROMPT, generate
from bot.ui.guard import GuardedModal


class PromptModal(GuardedModal):
    """Asks for the prompt of a context-menu edit or blend, then runs it."""

    def __init__(
        self, kind: Kind, sources: list[SourceImage], interaction: discord.Interaction[BananaBot]
    ) -> None:
        catalog, locale = interaction.client.catalog, interaction.locale.value
        blend = kind is Kind.BLEND
        super().__init__(title=catalog.text("modal.blend_title" if blend else "modal.edit_title", locale))
        self.kind = kind
        self.sources = sources
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
        await generate(interaction, self.kind, self.prompt.value, sources=self.sources)
