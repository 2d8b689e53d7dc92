"""What a picture costs: the owner's PRICES, else the API's reported usage at list token rates, else
the list price per picture (`bot/data/prices.json`, with the source and date of each number).

Amounts are in the owner's unit (CURRENCY, a label only). The list is in US dollars, so it is used
only when CURRENCY is USD; with another currency, a model costs what PRICES says or is unknown.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

log = logging.getLogger(__name__)

LIST_FILE = Path(__file__).with_name("data") / "prices.json"
LIST_CURRENCY = "USD"
MILLION = 1_000_000
# A bigger size asks GPT image models for their best quality (bot.providers.openai_images).
_HIGH_QUALITY_SIZES = ("2K", "4K")


@dataclass(frozen=True)
class TokenUsage:
    """What one API call reports it used, in tokens (Gemini `usageMetadata`, OpenAI `usage`)."""

    input_text: int = 0
    input_image: int = 0
    output: int = 0


@dataclass(frozen=True)
class ListPrice:
    """One model's list prices: per picture by variant (size or quality), and per million tokens."""

    model: str
    picture: Mapping[str, float]
    default: str
    source: str
    date: str
    tokens: Mapping[str, float] = field(default_factory=dict)

    def variant(self, size: str | None) -> str:
        if size and size in self.picture:
            return size
        if size in _HIGH_QUALITY_SIZES and "high" in self.picture:
            return "high"
        return self.default


class CostBasis(StrEnum):
    OWNER = "owner"  # the owner's PRICES
    USAGE = "usage"  # the API's reported tokens at the list's rates
    LIST = "list"  # the list's price per picture


@dataclass(frozen=True)
class Cost:
    amount: float
    basis: CostBasis


def load_list(path: Path = LIST_FILE) -> tuple[ListPrice, ...]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(
        ListPrice(
            model=entry["model"],
            picture={str(k): float(v) for k, v in entry["picture"].items()},
            default=entry["default"],
            source=entry["source"],
            date=entry["date"],
            tokens={str(k): float(v) for k, v in entry.get("tokens", {}).items()},
        )
        for entry in data["models"]
    )


class Prices:
    def __init__(
        self, owner: Mapping[str, float], currency: str, table: Iterable[ListPrice] | None = None
    ) -> None:
        self.owner = dict(owner)
        self.currency = currency
        listed = tuple(load_list() if table is None else table)
        # Longest name first: a relay's alias (gemini-2.5-flash-image-preview) takes its family's.
        self._list = sorted(listed, key=lambda p: len(p.model), reverse=True)
        self._use_list = currency.upper() == LIST_CURRENCY
        self.unknown: set[str] = set()

    def listed(self, model: str) -> ListPrice | None:
        if not self._use_list:
            return None
        lowered = model.lower()
        return next((p for p in self._list if lowered.startswith(p.model)), None)

    def _owner_price(self, model: str, size: str | None) -> float | None:
        listed = self.listed(model)
        variant = listed.variant(size) if listed else None
        for key in (f"{model}:{size}" if size else None, f"{model}:{variant}" if variant else None, model):
            if key is not None and key in self.owner:
                return self.owner[key]
        return None

    def per_picture(self, model: str, size: str | None) -> float | None:
        """What one picture is expected to cost, or None when nobody knows."""
        owner = self._owner_price(model, size)
        if owner is not None:
            return owner
        listed = self.listed(model)
        return None if listed is None else self._list_price(listed, size)

    @staticmethod
    def _list_price(listed: ListPrice, size: str | None) -> float:
        return listed.picture.get(listed.variant(size), listed.picture[listed.default])

    def estimate(self, model: str, count: int, size: str | None) -> float | None:
        """A job's expected cost before it runs; None (and the model noted once) when unknown."""
        price = self.per_picture(model, size)
        if price is None:
            self._note_unknown(model)
            return None
        return price * count

    def cost(
        self, model: str, pictures: int, size: str | None, usage: Iterable[TokenUsage | None] = ()
    ) -> Cost | None:
        """What a finished job cost: the owner's price, else its reported usage, else the list."""
        owner = self._owner_price(model, size)
        if owner is not None:
            return Cost(owner * pictures, CostBasis.OWNER)
        listed = self.listed(model)
        if listed is None:
            self._note_unknown(model)
            return None
        reported = list(usage)
        if listed.tokens.get("output") and reported and all(u is not None for u in reported):
            total = sum(_at_rates(u, listed.tokens) for u in reported if u is not None)
            return Cost(total, CostBasis.USAGE)
        return Cost(self._list_price(listed, size) * pictures, CostBasis.LIST)

    def _note_unknown(self, model: str) -> None:
        if model not in self.unknown:
            self.unknown.add(model)
            log.info(
                "No price known for %s: its pictures count as costing nothing (set PRICES=%s=...)",
                model,
                model,
            )


def _at_rates(usage: TokenUsage, rates: Mapping[str, float]) -> float:
    return (
        usage.input_text * rates.get("input_text", 0.0)
        + usage.input_image * rates.get("input_image", 0.0)
        + usage.output * rates["output"]
    ) / MILLION


def money(amount: float) -> str:
    """An amount as owners read it: 1.50, 0.10, 0.039 (three significant digits under 0.1)."""
    if amount >= 0.1 or amount == 0:
        return f"{amount:.2f}"
    return f"{amount:.3g}" if amount >= 0.001 else f"{amount:.1e}"
