from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bot.errors import ContentBlocked, NoImageReturned, UnknownModel, render_error
from bot.i18n import Catalog

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
        "Pick one of: a, b."
    )
