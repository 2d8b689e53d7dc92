"""Reading the bot's result cards (Components V2) the way members see them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

IS_COMPONENTS_V2 = 1 << 15
PROMPT, FACTS, SAID, NOTES, LINEAGE, GALLERY, HEADING = 1, 2, 3, 4, 5, 6, 7


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

    def button(self, label: str) -> dict[str, Any]:
        (found,) = [b for b in self.buttons if b.get("label") == label]
        return found

    @property
    def labels(self) -> list[str]:
        return [b.get("label") or b.get("emoji", {}).get("name", "") for b in self.buttons]


def walk(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every component of a message, nested ones included (containers, rows, sections)."""
    for component in components:
        yield component
        yield from walk(component.get("components") or [])
        if component.get("accessory"):
            yield from walk([component["accessory"]])


def buttons_in(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in walk(message.get("components") or []) if c.get("type") == 2]


def card_of(payload: dict[str, Any]) -> Card:
    """The parts of a result card; fails when the message is not one."""
    assert (payload.get("flags") or 0) & IS_COMPONENTS_V2, "a result is a Components V2 card"
    assert not payload.get("content") and not payload.get("embeds"), "a card carries no content or embeds"
    by_id = {c.get("id"): c for c in walk(payload["components"])}
    facts_line = by_id[FACTS]["content"].removeprefix("-# ")
    *pairs, requested_by = facts_line.split(" · ")
    facts = dict(pair.split(": ", 1) for pair in pairs)

    def text(part: int, prefix: str = "") -> str | None:
        found = by_id.get(part)
        return found["content"].removeprefix(prefix) if found else None

    return Card(
        prompt=by_id[PROMPT]["content"],
        facts=facts,
        requested_by=requested_by,
        gallery=[item["media"]["url"] for item in by_id[GALLERY]["items"]],
        buttons=buttons_in(payload),
        said=text(SAID, "**The model said:** "),
        notes=text(NOTES, "-# "),
        lineage=text(LINEAGE, "-# "),
        heading=text(HEADING),
        texts=[c["content"] for c in walk(payload["components"]) if c.get("type") == 10],
    )
