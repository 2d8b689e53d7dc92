"""The result card on its own: the biggest one the bot makes stays within Discord's limits."""

from __future__ import annotations

import discord

from bot.i18n import Catalog
from bot.imaging import FittedImage
from bot.jobs.model import Job, Origin
from bot.request import Derivation, GenerateRequest, Note
from bot.routing import ModelRoute
from bot.service import Delivery, Lineage, Plan
from bot.ui.card import result_card
from bot.ui.result_buttons import ResultButton
from tests.fakes.discord_components import message_problems
from tests.fakes.relay import png


def test_a_card_with_four_pictures_and_ten_buttons_is_one_discord_accepts() -> None:
    request = GenerateRequest("x" * 4000, "gemini-3-pro-image-preview", "16:9", "2K", count=4)
    job = Job(7, request, Origin(1, "alice", 2, guild_id=3), 4)
    images = tuple(FittedImage(png(16, 9), "image/png", 16, 9) for _ in range(4))
    delivery = Delivery(
        images,
        "y" * 3000,
        Plan(request, ModelRoute(request.model, "gemini")),
        12.5,
        (Note("note.some_failed", {"failed": 1, "count": 5}),),
        lineage=Lineage(Derivation.VARY, 2, 99, 3),
    )
    buttons = [ResultButton(7, "pick", i, label=f"U{i + 1}") for i in range(4)]
    buttons += [ResultButton(7, "vary", i, label=f"V{i + 1}") for i in range(4)]
    buttons += [
        ResultButton(7, "reroll", label="Reroll", emoji="🔄"),
        ResultButton(7, "delete", label="Delete"),
    ]
    view, files = result_card(job, delivery, Catalog.load(), "en-US", buttons, heading="<@1>, ready:")
    payload = {"flags": 1 << 15, "components": view.to_components(), "content": None, "embeds": []}
    assert message_problems(payload, [f.filename for f in files]) == []
    assert [f.filename for f in files] == [f"bananabot_{i}.png" for i in range(1, 5)]
    assert isinstance(view, discord.ui.LayoutView) and view.total_children_count <= 40
