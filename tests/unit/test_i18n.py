from __future__ import annotations

import json
import logging
import string
from pathlib import Path

import pytest

from bot.errors import (
    BotError,
    ContentBlocked,
    DailyLimitReached,
    NoImageReturned,
    TooManyImages,
    UnknownModel,
    UserBusy,
    render_error,
)
from bot.i18n import BUILTIN_DIR, Catalog
from bot.plural import category

CATALOG = Catalog(
    {
        "en-US": {"hi": "Hello {name}", "only": "English"},
        "en-GB": {"hi": "Hiya {name}"},
        "zh-CN": {"hi": "你好 {name}"},
    }
)


def test_locale_lookup_and_fallbacks() -> None:
    assert CATALOG.text("hi", "zh-CN", name="A") == "你好 A"
    assert CATALOG.text("hi", "en-GB", name="A") == "Hiya A"
    assert CATALOG.text("only", "zh-CN") == "English"
    assert CATALOG.text("hi", "fr", name="A") == "Hello A"
    assert CATALOG.text("hi", None, name="A") == "Hello A"
    assert CATALOG.exact("only", "zh-CN") is None


def test_missing_placeholders_and_keys_do_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    assert CATALOG.text("hi", "en-US") == "Hello {name}"
    with caplog.at_level(logging.ERROR):
        assert CATALOG.text("nope", "en-US") == "nope"
    assert "nope" in caplog.text


def test_owner_catalogs_add_and_override(tmp_path: Path) -> None:
    (tmp_path / "zh-CN.json").write_text(
        json.dumps({"error.empty_prompt": "提示词是空的。"}), encoding="utf-8"
    )
    (tmp_path / "en-US.json").write_text(json.dumps({"embed.model": "Engine"}), encoding="utf-8")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    catalog = Catalog.load([tmp_path])
    assert catalog.text("error.empty_prompt", "zh-CN") == "提示词是空的。"
    assert catalog.text("embed.model", "en-US") == "Engine"
    assert catalog.text("embed.time", "en-US") == "Time"
    assert "broken" not in catalog.locales


def test_every_error_key_exists_in_the_builtin_catalog() -> None:
    import bot.errors as errors

    catalog = Catalog.load()
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.BotError)]
    keys = {c.key for c in classes} | {"error.no_image_said"}
    assert all(catalog.exact(k, "en-US") for k in keys), keys - {k for k in keys if catalog.exact(k, "en-US")}


def test_render_error_resolves_nested_keys() -> None:
    catalog = Catalog.load()
    text = render_error(ContentBlocked("x", reason_key="block.image"), catalog, "en-US")
    assert (
        text
        == "The image service's safety filter stopped this: it would not return the picture it made. Try rephrasing your prompt."
    )
    assert 'It said: "no"' in render_error(NoImageReturned("x", said="no"), catalog, "en-US")
    assert render_error(UnknownModel(model="m", models="a, b"), catalog, "en-US").endswith(
        "You can pick: a, b. Start typing in the model option to see them."
    )


# --- plural forms ---------------------------------------------------------------------------------

PLURALS = Catalog(
    {
        "en-US": {
            "busy": {
                "count": "limit",
                "one": "{limit} picture on the way",
                "other": "{limit} pictures on the way",
            },
            "ratios": {"one": "{count} ratio", "other": "{count} ratios"},
            "plain": "Hello",
        },
        "zh-CN": {"busy": {"other": "已有 {limit} 张图片在路上"}, "ratios": "{count} 种比例"},
        "fr": {"busy": {"one": "{limit} image en route"}},
        "de": {"busy": {"other": "{limit} Bilder unterwegs"}},
        "ru": {"ratios": {"one": "{count} формат", "few": "{count} формата", "many": "{count} форматов"}},
    }
)


@pytest.mark.parametrize(
    ("n", "text"), [(1, "1 picture on the way"), (2, "2 pictures on the way"), (0, "0 pictures on the way")]
)
def test_english_plural_follows_the_named_count(n: int, text: str) -> None:
    assert PLURALS.text("busy", "en-US", limit=n) == text
    assert PLURALS.text("busy", "en-GB", limit=n) == text


def test_the_count_placeholder_is_the_default_selector() -> None:
    assert PLURALS.text("ratios", "en-US", count=1) == "1 ratio"
    assert PLURALS.text("ratios", "en-US", count=14) == "14 ratios"


def test_a_language_without_plurals_uses_one_form() -> None:
    assert [PLURALS.text("busy", "zh-CN", limit=n) for n in (0, 1, 2)] == [
        "已有 0 张图片在路上",
        "已有 1 张图片在路上",
        "已有 2 张图片在路上",
    ]
    assert PLURALS.text("ratios", "zh-CN", count=1) == "1 种比例", "a plain string serves every count"


def test_a_missing_form_falls_back_to_other_then_to_english() -> None:
    # German has a "one" form, but this entry does not: its own "other" wins over English's "one".
    assert PLURALS.text("busy", "de", limit=1) == "1 Bilder unterwegs"
    # French says "0 image" like "1 image"; its entry has no "other", so 2 comes from English.
    assert PLURALS.text("busy", "fr", limit=0) == "0 image en route"
    assert PLURALS.text("busy", "fr", limit=1) == "1 image en route"
    assert PLURALS.text("busy", "fr", limit=2) == "2 pictures on the way"
    # Russian without "other": a fraction falls through to the English entry, with English's rule.
    assert PLURALS.text("ratios", "ru", count=21) == "21 формат"
    assert PLURALS.text("ratios", "ru", count=3) == "3 формата"
    assert PLURALS.text("ratios", "ru", count=11) == "11 форматов"
    assert PLURALS.text("ratios", "ru", count=1.5) == "1.5 ratios"


def test_a_count_given_as_text_or_not_at_all_still_picks_a_form() -> None:
    # Notes kept in the journal by an older version carry their counts as strings.
    assert PLURALS.text("busy", "en-US", limit="1") == "1 picture on the way"
    assert PLURALS.text("busy", "en-US") == "{limit} pictures on the way"
    assert PLURALS.text("busy", "en-US", limit="many") == "many pictures on the way"


def test_exact_gives_plain_text_and_the_other_form_of_a_plural() -> None:
    assert PLURALS.exact("plain", "en-US") == "Hello"
    assert PLURALS.exact("busy", "en-US") == "{limit} pictures on the way"
    assert PLURALS.exact("busy", "fr") is None
    assert Catalog.load().exact("cmd.imagine.description", "en-US") == "Make a picture from a text prompt"


def test_an_owner_catalog_overrides_a_plural_entry(tmp_path: Path) -> None:
    # Neither file names the count: both take `limit` from the built-in English entry.
    owner = {"one": "One job at a time, please.", "other": "{limit} jobs at most."}
    (tmp_path / "en-US.json").write_text(json.dumps({"error.user_busy": owner}), encoding="utf-8")
    german = {
        "one": "Du hast schon {limit} Bild in Arbeit.",
        "other": "Du hast schon {limit} Bilder in Arbeit.",
    }
    (tmp_path / "de.json").write_text(json.dumps({"error.user_busy": german}), encoding="utf-8")
    catalog = Catalog.load([tmp_path])
    assert catalog.text("error.user_busy", "en-US", limit=1) == "One job at a time, please."
    assert catalog.text("error.user_busy", "en-US", limit=3) == "3 jobs at most."
    assert catalog.text("error.user_busy", "de", limit=1) == "Du hast schon 1 Bild in Arbeit."
    assert catalog.text("error.user_busy", "de", limit=2) == "Du hast schon 2 Bilder in Arbeit."
    assert Catalog.load().text("error.user_busy", "en-US", limit=1).startswith("You already have 1 picture ")


def test_a_malformed_plural_entry_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "de.json").write_text(
        json.dumps({"error.user_busy": {"singular": "x"}, "embed.model": "Modell"}), encoding="utf-8"
    )
    with caplog.at_level(logging.WARNING):
        catalog = Catalog.load([tmp_path])
    assert "de:error.user_busy" in caplog.text
    assert catalog.text("error.user_busy", "de", limit=2).startswith("You already have 2 pictures")
    assert catalog.text("embed.model", "de") == "Modell"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_builtin_plural_has_one_and_other_with_the_same_placeholders() -> None:
    table = json.loads((BUILTIN_DIR / "en-US.json").read_text(encoding="utf-8"))
    plurals = {key: entry for key, entry in table.items() if isinstance(entry, dict)}
    assert len(plurals) >= 10
    for key, entry in plurals.items():
        assert set(entry) <= {"count", "one", "other"}, key
        assert _placeholders(entry["one"]) == _placeholders(entry["other"]), key
        count = entry.get("count", "count")
        assert count in _placeholders(entry["other"]), f"{key} is picked by {{{count}}}, which it never shows"


def test_plural_categories() -> None:
    assert [category("en-US", n) for n in (0, 1, 2, 1.5)] == ["other", "one", "other", "other"]
    assert [category("fr", n) for n in (0, 1, 1.5, 2)] == ["one", "one", "one", "other"]
    assert [category("pt-BR", n) for n in (0, 1, 2)] == ["one", "one", "other"]
    assert {category(locale, n) for locale in ("zh-CN", "ja", "ko", "vi", "th", "id") for n in (0, 1, 2)} == {
        "other"
    }
    assert [category("ru", n) for n in (1, 2, 5, 11, 12, 21, 22, 25, 111, 0)] == [
        "one", "few", "many", "many", "many", "one", "few", "many", "many", "many",
    ]  # fmt: skip
    assert [category("uk", n) for n in (1, 3, 7)] == ["one", "few", "many"]
    assert [category("pl", n) for n in (1, 2, 5, 21, 22, 0)] == ["one", "few", "many", "many", "few", "many"]
    assert [category("cs", n) for n in (1, 2, 4, 5, 1.5)] == ["one", "few", "few", "other", "many"]


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (UserBusy(limit=1), "You already have 1 picture on the way. Wait for it to finish, then try again."),
        (
            UserBusy(limit=2),
            "You already have 2 pictures on the way. Wait for one to finish, then try again.",
        ),
        (
            TooManyImages(model="m", limit=1, given=2),
            "m takes only 1 picture, and you gave 2. Remove some, or pick a model that takes more.",
        ),
        (
            TooManyImages(model="m", limit=2, given=3),
            "m takes at most 2 pictures, and you gave 3. Remove some, or pick a model that takes more.",
        ),
        (
            DailyLimitReached(used=1, limit=1, reset_at=1800000000, guild=True),
            "This server has made its 1 picture for today. The limit resets <t:1800000000:R>, at <t:1800000000:t>.",
        ),
    ],
)
def test_errors_carry_counts_to_their_plural_forms(error: BotError, text: str) -> None:
    assert render_error(error, Catalog.load(), "en-US") == text


def test_the_owners_default_locale_comes_before_english() -> None:
    tables = {"en-US": {"hi": "Hello", "only": "English"}, "zh-CN": {"hi": "你好"}}
    catalog = Catalog(tables, default="zh-CN")
    assert catalog.text("hi", "fr") == "你好", "a language without a catalog reads the default"
    assert catalog.text("hi", "en-GB") == "Hello", "a language with a catalog keeps it"
    assert catalog.text("hi", "zh-TW") == "你好"
    assert catalog.text("hi") == "你好"
    assert catalog.text("only", "fr") == "English", "a key the default lacks is English"
    assert Catalog(tables).text("hi", "fr") == "Hello"
