"""The shipped catalogs agree with English: the same keys, the same placeholders.

English (`en-US`) is the reference; keys are added there first. Any other shipped catalog that lacks
a key, or keeps one English dropped, fails here, so a merge that adds English texts without their
translations cannot pass unnoticed.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest

from bot.i18n import BUILTIN_DIR, COUNT_KEY, FALLBACK_LOCALE
from bot.plural import CATEGORIES

SHIPPED = sorted(p for p in BUILTIN_DIR.glob("*.json") if p.stem != FALLBACK_LOCALE)


def _table(path: Path) -> dict[str, Any]:
    table = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(table, dict)
    return table


def _forms(entry: Any) -> dict[str, str]:
    if isinstance(entry, str):
        return {"other": entry}
    return {name: text for name, text in entry.items() if name in CATEGORIES}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


ENGLISH = _table(BUILTIN_DIR / f"{FALLBACK_LOCALE}.json")


def test_chinese_ships() -> None:
    assert "zh-CN" in [p.stem for p in SHIPPED]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_shipped_catalog_has_exactly_the_english_keys(path: Path) -> None:
    table = _table(path)
    missing = sorted(set(ENGLISH) - set(table))
    extra = sorted(set(table) - set(ENGLISH))
    assert not missing, f"{path.name} lacks {missing}"
    assert not extra, f"{path.name} has keys English does not: {extra}"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_shipped_catalog_keeps_the_english_placeholders(path: Path) -> None:
    for key, entry in _table(path).items():
        if key not in ENGLISH:
            continue
        wanted = _placeholders(_forms(ENGLISH[key])["other"])
        forms = _forms(entry)
        assert forms, f"{path.name}:{key} has no text"
        assert not (isinstance(entry, dict) and COUNT_KEY in entry), (
            f"{path.name}:{key}: the count is English's"
        )
        for form, text in forms.items():
            assert _placeholders(text) == wanted, (
                f"{path.name}:{key} ({form}) has {_placeholders(text)}, not {wanted}"
            )


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_a_shipped_catalog_is_translated(path: Path) -> None:
    # A copied English sentence is a missing translation in disguise; names and symbols may stay.
    same = [k for k, v in _table(path).items() if _forms(v) == _forms(ENGLISH.get(k, "")) and _words(v)]
    assert not same, f"{path.name} keeps English for {same}"


def _words(entry: Any) -> bool:
    """Whether the English text has a word to translate (not just `U{number}` or `{model} · {format}`)."""
    text = _forms(entry)["other"]
    bare = string.Formatter()
    literal = "".join(part for part, _, _, _ in bare.parse(text))
    return any(len(word) > 2 and word.isalpha() for word in literal.split())


def test_the_checks_catch_a_missing_key_and_a_changed_placeholder(tmp_path: Path) -> None:
    broken = dict(_table(BUILTIN_DIR / "zh-CN.json"))
    del broken["embed.model"]
    broken["embed.seconds"] = "{secs} 秒"
    path = tmp_path / "zh-CN.json"
    path.write_text(json.dumps(broken, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(AssertionError, match=r"lacks \['embed\.model'\]"):
        test_a_shipped_catalog_has_exactly_the_english_keys(path)
    with pytest.raises(AssertionError, match=r"embed\.seconds"):
        test_a_shipped_catalog_keeps_the_english_placeholders(path)
