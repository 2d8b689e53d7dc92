"""The message catalog: every sentence members see, keyed by locale.

Built-in catalogs are `bot/locales/<locale>.json`; an owner can add or override one by dropping a
file of the same shape into `DATA_DIR/locales/`. Locales are Discord's codes (`en-US`, `zh-CN`).

An entry is a string, or, when its wording depends on a number, an object of plural forms:

    "error.user_busy": {
        "count": "limit",
        "one": "You already have {limit} picture on the way.",
        "other": "You already have {limit} pictures on the way."
    }

`"count"` names the placeholder whose number picks the form. It may be left out when the
placeholder is `{count}` itself, or when the built-in English entry for the key names it, so a
translator, or an owner rewording English, writes only the forms. The forms are CLDR's
categories (`zero`, `one`, `two`, `few`, `many`, `other`) and `bot.plural` says which one a
number takes in each language; a language without plurals (zh, ja, ko...) needs only `"other"`,
or a plain string. A form an entry lacks falls back to its `"other"`, then to the English entry.
Callers pass counts as numbers.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import plural

log = logging.getLogger(__name__)

FALLBACK_LOCALE = "en-US"
BUILTIN_DIR = Path(__file__).with_name("locales")
COUNT_KEY = "count"  # in a plural entry: which placeholder holds the number
DEFAULT_COUNT = "count"  # the placeholder that holds it when nobody says


@dataclass(frozen=True)
class Plural:
    """A message with one text per plural category; `count` is the entry's own say, if any."""

    forms: Mapping[str, str]
    count: str | None = None


Entry = str | Plural


class _KeepMissing(dict[str, Any]):
    """Leave an unknown `{placeholder}` as it is rather than fail on a translator's typo."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Catalog:
    def __init__(self, tables: Mapping[str, Mapping[str, Any]], default: str = FALLBACK_LOCALE) -> None:
        """`tables` maps a locale to its entries, as read from JSON (strings or plural objects).

        `default` is the owner's `DEFAULT_LOCALE`: the language for a member whose own has no
        catalog. English stays the last resort for a key the default's catalog lacks."""
        if FALLBACK_LOCALE not in tables:
            raise ValueError(f"the catalog needs {FALLBACK_LOCALE}")
        self.default = default
        self._tables: dict[str, dict[str, Entry]] = {}
        for locale, table in tables.items():
            entries = ((key, _entry(value, f"{locale}:{key}")) for key, value in table.items())
            self._tables[locale] = {str(key): entry for key, entry in entries if entry is not None}

    @classmethod
    def load(cls, extra_dirs: Iterable[Path] = (), default: str = FALLBACK_LOCALE) -> Catalog:
        tables: dict[str, dict[str, Any]] = {}
        for directory in (BUILTIN_DIR, *extra_dirs):
            if not directory.is_dir():
                continue
            for path in sorted(directory.glob("*.json")):
                try:
                    table = json.loads(path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    log.warning("Skipping message catalog %s: %s", path, exc)
                    continue
                if not isinstance(table, dict):
                    log.warning("Skipping message catalog %s: not a JSON object", path)
                    continue
                _merge(tables.setdefault(path.stem, {}), table)
        if default not in tables:
            log.warning(
                "DEFAULT_LOCALE %s has no message catalog; falling back to %s", default, FALLBACK_LOCALE
            )
        return cls(tables, default)

    @property
    def locales(self) -> list[str]:
        return sorted(self._tables)

    def exact(self, key: str, locale: str) -> str | None:
        """The text for exactly this locale, or None (what Discord's translator hook wants).

        A plural entry gives its `other` form: command names and descriptions have no count.
        """
        entry = self._tables.get(locale, {}).get(key)
        return entry.forms.get("other") if isinstance(entry, Plural) else entry

    def text(self, key: str, locale: str | None = None, /, **params: Any) -> str:
        """The text for `key` in the closest locale available, formatted with `params`."""
        for found_in, entry in self._candidates(key, locale or self.default):
            template = entry if isinstance(entry, str) else self._form(key, entry, found_in, params)
            if template is not None:
                return template.format_map(_KeepMissing(params))
        log.error("Message key %r is missing from the catalog", key)
        return key

    def _candidates(self, key: str, locale: str) -> Iterator[tuple[str, Entry]]:
        """Every entry for `key`, closest first: this locale, its language, the owner's default
        (with its language), then English."""
        order = [*self._language_of(locale), *self._language_of(self.default), FALLBACK_LOCALE]
        for other in dict.fromkeys(order):
            if (entry := self._tables.get(other, {}).get(key)) is not None:
                yield other, entry

    def _language_of(self, locale: str) -> list[str]:
        """`locale`, then the other catalogs of its language (en-GB finds en-US, zh-TW zh-CN)."""
        language = locale.split("-")[0]
        return [locale, *(other for other in sorted(self._tables) if other.split("-")[0] == language)]

    def _form(self, key: str, entry: Plural, locale: str, params: Mapping[str, Any]) -> str | None:
        # The plural rule is the language the text is written in, not the member's: an English
        # fallback shown to a French member says "0 pictures", not "0 picture".
        number = _number(params.get(self._count_param(key, entry)))
        wanted = plural.category(locale, number) if number is not None else "other"
        return entry.forms.get(wanted) or entry.forms.get("other")

    def _count_param(self, key: str, entry: Plural) -> str:
        english = self._tables[FALLBACK_LOCALE].get(key)
        return entry.count or (english.count if isinstance(english, Plural) else None) or DEFAULT_COUNT


def _merge(table: dict[str, Any], override: Mapping[str, Any]) -> None:
    """An owner's entry replaces the built-in one whole, except that it keeps the built-in count."""
    for key, value in override.items():
        before = table.get(key)
        if (
            isinstance(value, dict)
            and COUNT_KEY not in value
            and isinstance(before, dict)
            and COUNT_KEY in before
        ):
            value = {COUNT_KEY: before[COUNT_KEY], **value}
        table[key] = value


def _entry(value: Any, where: str) -> Entry | None:
    if not isinstance(value, dict):
        return str(value)
    forms = {name: text for name, text in value.items() if name in plural.CATEGORIES}
    count = value.get(COUNT_KEY)
    unknown = set(value) - set(forms) - {COUNT_KEY}
    if (
        unknown
        or not forms
        or not all(isinstance(text, str) for text in forms.values())
        or not isinstance(count, str | None)
    ):
        log.warning(
            "Skipping message %s: plural forms are %s, plus an optional %r",
            where,
            plural.CATEGORIES,
            COUNT_KEY,
        )
        return None
    return Plural(forms, count)


def _number(value: Any) -> float | None:
    """The count as a number; text is read too, for notes kept in the journal by older versions."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return value
    return None
