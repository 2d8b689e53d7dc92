"""Reading one declared setting from the raw values, each problem kept as one readable line."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.settings_hints import base_url_shape
from bot.settings_spec import CAP_EXAMPLE, NUMBER_KINDS, Kind, Setting

DISCORD_ID = re.compile(r"\d{15,21}")


def shown(number: float) -> str:
    """A range bound as an owner would write it: 840, 0.05, 1000000 (never 1e+06)."""
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


class Parser:
    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.problems: list[str] = []

    def raw(self, name: str) -> str:
        return self.values.get(name, "").strip()

    def read(self, setting: Setting) -> Any:
        """The attribute's value: the declared default when unset, else the parsed value.

        A bad value adds a problem and gives the default, so every problem is found in one pass.
        """
        raw = self.raw(setting.name)
        if setting.kind in NUMBER_KINDS:
            return setting.attribute_value(self.number(setting, raw))
        match setting.kind:
            case Kind.TEXT:
                return raw or setting.default
            case Kind.PATH:
                return Path(raw or setting.default)
            case Kind.CHOICE:
                return self.choice(setting, raw)
            case Kind.URL:
                return self.url(setting, raw)
            case Kind.BASE_URL:
                return self.base_url(setting.name, raw or setting.default)
            case Kind.GUILD_ID:
                return self.guild_id(setting.name, raw)
            case Kind.IDS:
                return self.ids(setting.name, raw)
            case Kind.LIMITS:
                return self.limits(setting.name, raw)
            case Kind.NOTES:
                return self.notes(setting.name, raw)
            case Kind.CHAT_MODEL:
                return self.chat_model(setting.name, raw)
            case Kind.SWITCH:
                return self.switch(setting, raw)
            case Kind.PRICES:
                return self.prices(setting.name, raw)
            case Kind.ROLE_AMOUNTS:
                return self.role_amounts(setting.name, raw)
        raise TypeError(f"{setting.name} ({setting.kind.name}) is read by bot.config")

    def switch(self, setting: Setting, raw: str) -> bool:
        if not raw:
            return bool(setting.default)
        lowered = raw.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        self.problems.append(f"{setting.name} must be 0 or 1, got '{raw}'")
        return bool(setting.default)

    def number(self, setting: Setting, raw: str) -> float:
        if not raw:
            return setting.default
        assert setting.low is not None and setting.high is not None, setting.name
        low, high = shown(setting.low), shown(setting.high)
        problem = f"{setting.name} must be {setting.kind.value} from {low} to {high}, got '{raw}'"
        if setting.kind is Kind.WHOLE and not re.fullmatch(r"\d+", raw):
            self.problems.append(problem)
            return setting.default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not setting.low <= value <= setting.high:
            self.problems.append(problem)
            return setting.default
        return value

    def choice(self, setting: Setting, raw: str) -> Any:
        if not raw:
            return setting.default
        # Matched, and echoed when wrong, in the case the choices are declared in (INFO, header).
        value = raw.upper() if all(c.isupper() for c in setting.choices) else raw.lower()
        for choice in setting.choices:
            if choice == value:
                return choice
        self.problems.append(f"{setting.name} must be one of {', '.join(setting.choices)}, got '{value}'")
        return setting.default

    def url(self, setting: Setting, raw: str) -> str | None:
        if not raw:
            return setting.default
        parts = urlsplit(raw)
        if parts.scheme not in setting.choices or not parts.netloc:
            # A database URL may carry a password: the message shows it masked.
            shown_url = raw.replace(f":{parts.password}@", ":***@") if parts.password else raw
            self.problems.append(
                f"{setting.name} must be a {'/'.join(setting.choices)} URL, got '{shown_url}'"
            )
        return raw.rstrip("/")

    def base_url(self, name: str, raw: str) -> str:
        if not raw:
            return ""
        # Owners often paste the URL with the version path (or a whole endpoint) their relay's docs
        # show; the bot adds those itself (bot.settings_hints).
        shape = base_url_shape(name, raw)
        if shape.problem:
            self.problems.append(shape.problem)
        return shape.base

    def guild_id(self, name: str, raw: str) -> int | None:
        if not raw:
            return None
        if not DISCORD_ID.fullmatch(raw):
            self.problems.append(f"{name} must be a server id (15 to 21 digits), got '{raw}'")
            return None
        return int(raw)

    def ids(self, name: str, raw: str) -> frozenset[int]:
        """A comma-separated list of Discord ids (servers, channels, roles or members)."""
        parts = [p.strip() for p in raw.replace(" ", ",").split(",") if p.strip()]
        bad = [p for p in parts if not DISCORD_ID.fullmatch(p)]
        if bad:
            self.problems.append(
                f"{name} must be Discord ids (15 to 21 digits) separated by commas, got '{bad[0]}'"
            )
        return frozenset(int(p) for p in parts if p not in bad)

    def limits(self, name: str, raw: str) -> dict[str, int]:
        """`format_or_model=N` pairs, comma-separated (CAP_EXAMPLE)."""
        limits: dict[str, int] = {}
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            key, _, value = part.rpartition("=")
            if not key.strip() or not value.strip().isdigit() or int(value) < 1:
                self.problems.append(
                    f"{name} entries must look like {' or '.join(CAP_EXAMPLE)}, got '{part}'"
                )
                continue
            limits[key.strip()] = int(value)
        return limits

    def notes(self, name: str, raw: str) -> dict[str, str]:
        """`model=words` pairs separated by semicolons (the words may hold commas)."""
        notes: dict[str, str] = {}
        for part in (p.strip() for p in raw.split(";")):
            if not part:
                continue
            model, _, words = part.partition("=")
            if not model.strip() or not words.strip():
                self.problems.append(f"{name} entries must look like model=what it is good at, got '{part}'")
                continue
            notes[model.strip()] = words.strip()
        return notes

    def chat_model(self, name: str, raw: str) -> str:
        """A model name, written like a MODELS entry; it is reached through chat completions."""
        model, _, api_format = raw.partition("=")
        if api_format.strip() and api_format.strip() != "openai-chat":
            self.problems.append(
                f"{name} is called through chat completions: write '{model.strip()}' or "
                f"'{model.strip()}=openai-chat', not '={api_format.strip()}'"
            )
        return model.strip()

    def prices(self, name: str, raw: str) -> dict[str, float]:
        """`model=price` or `model:variant=price` (a quality or size), comma-separated."""
        prices: dict[str, float] = {}
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            key, _, value = part.rpartition("=")
            amount = _amount(value)
            if not key.strip() or amount is None:
                self.problems.append(
                    f"{name} entries must look like gemini-2.5-flash-image=0.039 or "
                    f"gpt-image-1:high=0.167, got '{part}'"
                )
                continue
            prices[key.strip()] = amount
        return prices

    def role_amounts(self, name: str, raw: str) -> dict[int, float]:
        """`roleid:amount` pairs, comma-separated."""
        amounts: dict[int, float] = {}
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            role, _, value = part.partition(":")
            amount = _amount(value)
            if not DISCORD_ID.fullmatch(role.strip()) or amount is None:
                self.problems.append(
                    f"{name} entries must look like 123456789012345678:20 (a role id, an amount), "
                    f"got '{part}'"
                )
                continue
            amounts[int(role.strip())] = amount
        return amounts


def _amount(text: str) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value >= 0 and value == value and value != float("inf") else None
