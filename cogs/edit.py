"""/edit and /blend, and the message context menus **Edit image** and **Blend images**."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.request import Kind, SourceImage
from bot.ui.client import BananaBot
from bot.ui.flow import (
    MAX_PROMPT,
    attachment_source,
    generate,
    message_sources,
    model_autocomplete,
    ratio_autocomplete,
    require_pictures,
)
from bot.ui.prompt_modal import PromptModal
from bot.ui.translator import text as _


class Edit(commands.Cog):
    def __init__(self, bot: BananaBot) -> None:
        self.bot = bot
        # Context menus cannot be methods (discord.py), so they are built here and added to the tree.
        self.menus = (
            app_commands.ContextMenu(name=_("menu.edit"), callback=self.edit_menu),
            app_commands.ContextMenu(name=_("menu.blend"), callback=self.blend_menu),
        )

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)

    @app_commands.command(name="edit", description=_("cmd.edit.description"))
    @app_commands.describe(
        image=_("cmd.edit.image"),
        prompt=_("cmd.edit.prompt"),
        image2=_("cmd.edit.reference"),
        image3=_("cmd.edit.reference"),
        model=_("cmd.imagine.model"),
        aspect_ratio=_("cmd.edit.aspect_ratio"),
    )
    @app_commands.autocomplete(model=model_autocomplete, aspect_ratio=ratio_autocomplete)
    async def edit(
        self,
        interaction: discord.Interaction[BananaBot],
        image: discord.Attachment,
        prompt: app_commands.Range[str, 1, MAX_PROMPT],
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        model: str | None = None,
        aspect_ratio: str | None = None,
    ) -> None:
        sources = [attachment_source(a) for a in (image, image2, image3) if a is not None]
        await generate(
            interaction, Kind.EDIT, prompt, model=model, aspect_ratio=aspect_ratio, sources=sources
        )

    @app_commands.command(name="blend", description=_("cmd.blend.description"))
    @app_commands.describe(
        image1=_("cmd.blend.image"),
        image2=_("cmd.blend.image"),
        image3=_("cmd.blend.image"),
        image4=_("cmd.blend.image"),
        image5=_("cmd.blend.image"),
        prompt=_("cmd.blend.prompt"),
        model=_("cmd.imagine.model"),
        aspect_ratio=_("cmd.edit.aspect_ratio"),
    )
    @app_commands.autocomplete(model=model_autocomplete, aspect_ratio=ratio_autocomplete)
    async def blend(
        self,
        interaction: discord.Interaction[BananaBot],
        image1: discord.Attachment,
        image2: discord.Attachment,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        prompt: app_commands.Range[str, 0, MAX_PROMPT] = "",
        model: str | None = None,
        aspect_ratio: str | None = None,
    ) -> None:
        attachments = (image1, image2, image3, image4, image5)
        sources = [attachment_source(a) for a in attachments if a is not None]
        await generate(
            interaction, Kind.BLEND, prompt, model=model, aspect_ratio=aspect_ratio, sources=sources
        )

    async def edit_menu(self, interaction: discord.Interaction[BananaBot], message: discord.Message) -> None:
        if self.bot.user is not None and message.author.id == self.bot.user.id:
            parent = await self.bot.jobs.for_message(message.id)
            if parent is not None:
                # One of the bot's results: its kept picture (full quality), on its own model.
                await interaction.response.send_modal(PromptModal(Kind.EDIT, [], interaction, parent=parent))
                return
        sources = message_sources(message)
        require_pictures(sources)
        # The first picture is edited; the others are references, as many as the model takes.
        limit = max(1, self.bot.images.capabilities(None).max_input_images)
        await self._ask_prompt(interaction, Kind.EDIT, sources[:limit])

    async def blend_menu(self, interaction: discord.Interaction[BananaBot], message: discord.Message) -> None:
        sources = message_sources(message)
        require_pictures(sources)
        high = self.bot.images.capabilities(None).blend_images[1]
        await self._ask_prompt(interaction, Kind.BLEND, sources[:high])

    async def _ask_prompt(
        self, interaction: discord.Interaction[BananaBot], kind: Kind, sources: list[SourceImage]
    ) -> None:
        # Refuse what the pictures alone rule out before the member types a prompt for nothing.
        self.bot.images.check_pictures(kind, None, sources)
        await interaction.response.send_modal(PromptModal(kind, sources, interaction))


async def setup(bot: BananaBot) -> None:
    await bot.add_cog(Edit(bot))
