"""Reading the bot's result card by its parts (the ids `bot/ui/card.py` gives them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.ui.card import FACTS_ID, GALLERY_ID, HEADING_ID, LINEAGE_ID, NOTES_ID, PROMPT_ID, SAID_ID
from tests.e2e.helpers import Sent, _body, buttons_of, is_card
from tests.fakes.discord_components import walk


@dataclass
class Card:
    prompt: str
    facts: dict[str, str]
    requested_by: str
    gallery: list[str]
    buttons: list[dict[str, Any]]
    said: str | None = None
    notes: str | None = None
    lineage: str | None = None
    heading: str | None = None
    texts: list[str] = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [b["label"] or (b["emoji"] or {}).get("name", "") for b in self.buttons]


def card_of(source: Sent) -> Card:
    """The parts of a result card; fails when the message is not one."""
    body = _body(source)
    assert is_card(source), "a result is a Components V2 card"
    assert not body.get("content") and not body.get("embeds"), "a card carries no content or embeds"
    by_id = {c.get("id"): c for _, c in walk(body["components"])}
    *pairs, requested_by = by_id[FACTS_ID]["content"].removeprefix("-# ").split(" · ")

    def text(part: int, prefix: str = "") -> str | None:
        found = by_id.get(part)
        return found["content"].removeprefix(prefix) if found else None

    return Card(
        prompt=by_id[PROMPT_ID]["content"],
        facts=dict(pair.split(": ", 1) for pair in pairs),
        requested_by=requested_by,
        gallery=[item["media"]["url"] for item in by_id[GALLERY_ID]["items"]],
        buttons=buttons_of(source),
        said=text(SAID_ID, "**The model said:** "),
        notes=text(NOTES_ID, "-# "),
        lineage=text(LINEAGE_ID, "-# "),
        heading=text(HEADING_ID),
        texts=[c["content"] for _, c in walk(body["components"]) if c.get("type") == 10],
    )
