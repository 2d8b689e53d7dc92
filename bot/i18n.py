"""The message catalog: every sentence members see, keyed by locale.

Built-in catalogs are `bot/locales/<locale>.json`; an owner can add or override one by dropping a
file of the same shape into `DATA_DIR/locales/`. Locales are Discord's codes (`en-US`, `zh-CN`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FALLBACK_LOCALE = "en-US"
BUILTIN_DIR = Path(__file__).with_name("locales")


class _KeepMissing(dict[str, Any]):
    """Leave an unknown `{placeholder}` as it is rather than fail on a translator's typo."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Catalog:
    def __init__(self, tables: Mapping[str, Mapping[str, str]]) -> None:
        if FALLBACK_LOCALE not in tables:
            raise ValueError(f"the catalog needs {FALLBACK_LOCALE}")
        self._tables = {locale: dict(table) for locale, table in tables.items()}

    @classmethod
    def load(cls, extra_dirs: Iterable[Path] = ()) -> Catalog:
        tables: dict[str, dict[str, str]] = {}
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
                tables.setdefault(path.stem, {}).update({str(k): str(v) for k, v in table.items()})
        return cls(tables)

    @property
    def locales(self) -> list[str]:
        return sorted(self._tables)

    def exact(self, key: str, locale: str) -> str | None:
        """The text for exactly this locale, or None (what Discord's translator hook wants)."""
        return self._tables.get(locale, {}).get(key)

    def text(self, key: str, locale: str | None = None, /, **params: Any) -> str:
        """The text for `key` in the closest locale available, formatted with `params`."""
        template = self._find(key, locale or FALLBACK_LOCALE)
        if template is None:
            log.error("Message key %r is missing from the catalog", key)
            return key
        return template.format_map(_KeepMissing(params))

    def _find(self, key: str, locale: str) -> str | None:
        if (found := self.exact(key, locale)) is not None:
            return found
        language = locale.split("-")[0]
        for other, table in self._tables.items():
            if other.split("-")[0] == language and key in table:
                return table[key]
        return self.exact(key, FALLBACK_LOCALE)
