from __future__ import annotations

import pytest

from bot.directory import is_image_model
from bot.routing import ModelRoute, infer_format, parse_model_entry, parse_models

FORMATS = "gemini, openai-chat, openai-images, midjourney"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gemini-2.5-flash-image", "gemini"),
        ("gemini-3-pro-image-preview", "gemini"),
        ("gemini-3.1-flash-image-preview", "gemini"),
        ("Gemini-2.5-Flash-Image", "gemini"),
        ("imagen-4.0-generate-001", None),
        ("nano-banana", "gemini"),
        ("nano-banana-pro", "gemini"),
        ("gpt-image-1", "openai-images"),
        ("gpt-image-1-mini", "openai-images"),
        ("gpt-image-1.5", "openai-images"),
        ("gpt-image-2", "openai-images"),
        ("dall-e-2", "openai-images"),
        ("DALL-E-3", "openai-images"),
        ("jimeng-4.0", "openai-images"),
        ("seedream-4.0", "openai-images"),
        ("flux-kontext-pro", "openai-images"),
        ("gpt-4o-image", "openai-chat"),
        ("gpt-4o-image-vip", "openai-chat"),
        ("sora_image", "openai-chat"),
        ("sora-image", "openai-chat"),
        ("gpt-4o-all", "openai-chat"),
        ("midjourney", "midjourney"),
        ("mj-fast", "midjourney"),
        ("mj_imagine", "midjourney"),
        ("niji-6", "midjourney"),
    ],
)
def test_infer_format(name: str, expected: str | None) -> None:
    assert infer_format(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "banana-pro",
        "gpt-4o",
        "gpt-image",
        "dall-e",
        "sora-2",
        "my-gemini-2.5-flash-image",
        "google/gemini-2.5-flash-image",
        "flux.1-dev",
        "",
    ],
)
def test_names_that_say_nothing(name: str) -> None:
    assert infer_format(name) is None


@pytest.mark.parametrize(
    ("entry", "route"),
    [
        ("gemini-2.5-flash-image", ModelRoute("gemini-2.5-flash-image", "gemini")),
        ("  gpt-image-1  ", ModelRoute("gpt-image-1", "openai-images")),
        ("banana-pro=gemini", ModelRoute("banana-pro", "gemini")),
        (" house = Openai-Chat ", ModelRoute("house", "openai-chat")),
        ("gpt-image-1=openai-chat", ModelRoute("gpt-image-1", "openai-chat")),
        ("mj-relax=MIDJOURNEY", ModelRoute("mj-relax", "midjourney")),
        ("images=openai-images", ModelRoute("images", "openai-images")),
        (
            "google/gemini-2.5-flash-image=openai-chat",
            ModelRoute("google/gemini-2.5-flash-image", "openai-chat"),
        ),
        ("a.b_c-d:e/f+h=gemini", ModelRoute("a.b_c-d:e/f+h", "gemini")),
        ("x" * 100 + "=gemini", ModelRoute("x" * 100, "gemini")),
        (
            "gemini-2.5-flash-image@main+backup",
            ModelRoute("gemini-2.5-flash-image", "gemini", ("main", "backup")),
        ),
        (
            "gpt-image-1=openai-images@ Cheap + main",
            ModelRoute("gpt-image-1", "openai-images", ("cheap", "main")),
        ),
        ("house=gemini@backup", ModelRoute("house", "gemini", ("backup",))),
    ],
)
def test_parse_model_entry(entry: str, route: ModelRoute) -> None:
    assert parse_model_entry(entry) == route


NAME_RULE = "is not a model name (letters, digits and . _ - : / +, at most 100)"
RELAY_RULE = "is not a relay name; write the relays after @ joined by +, such as @main+backup"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "banana-pro",
            "cannot tell the format of 'banana-pro' from its name; write it as "
            "banana-pro=gemini|openai-chat|openai-images|midjourney",
        ),
        ("banana-pro=dalle", f"'dalle' in 'banana-pro=dalle' is not a format; use one of {FORMATS}"),
        ("house=", f"'' in 'house=' is not a format; use one of {FORMATS}"),
        ("a=b=c", f"'b=c' in 'a=b=c' is not a format; use one of {FORMATS}"),
        ("=gemini", f"'' {NAME_RULE}"),
        ("two words=gemini", f"'two words' {NAME_RULE}"),
        ("-leading-dash", f"'-leading-dash' {NAME_RULE}"),
        ("x" * 101, f"'{'x' * 101}' {NAME_RULE}"),
        ("gemini-é", f"'gemini-é' {NAME_RULE}"),
        ("gpt-image-1@", f"'' in 'gpt-image-1@' {RELAY_RULE}"),
        ("gpt-image-1@main+", f"'' in 'gpt-image-1@main+' {RELAY_RULE}"),
        (
            "gpt-image-1@main=openai-chat",
            f"'main=openai-chat' in 'gpt-image-1@main=openai-chat' {RELAY_RULE}",
        ),
        ("gpt-image-1@main+main", "'gpt-image-1@main+main' names a relay twice"),
    ],
)
def test_parse_model_entry_errors(entry: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_model_entry(entry)
    assert str(info.value) == message


def test_parse_models_keeps_order_and_skips_empty_entries() -> None:
    assert parse_models(" gemini-3-pro-image-preview ,, house=gemini,sora_image, mj-fast=midjourney ,") == [
        ModelRoute("gemini-3-pro-image-preview", "gemini"),
        ModelRoute("house", "gemini"),
        ModelRoute("sora_image", "openai-chat"),
        ModelRoute("mj-fast", "midjourney"),
    ]


@pytest.mark.parametrize("text", ["", " , ,", "\n"])
def test_parse_models_empty(text: str) -> None:
    assert parse_models(text) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gpt-image-1,dall-e-3,gpt-image-1", "'gpt-image-1' is listed twice"),
        ("gpt-image-1, gpt-image-1=openai-chat", "'gpt-image-1' is listed twice"),
        (
            "gpt-image-1,mystery",
            "cannot tell the format of 'mystery' from its name; write it as "
            "mystery=gemini|openai-chat|openai-images|midjourney",
        ),
    ],
)
def test_parse_models_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_models(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("gemini-2.5-flash-image", True),
        ("gemini-2.5-flash-image-preview", True),
        ("gemini-3-pro-image-preview", True),
        ("gemini-2.0-flash-exp-image-generation", True),
        ("imagen-4.0-generate-001", False),
        ("mj_imagine", False),
        ("mj_upscale", False),
        ("jimeng-video-3.0", False),
        ("nano-banana-pro", True),
        ("gemini-2.5-flash", False),
        ("gemini-2.5-pro", False),
        ("gemini-embedding-001", False),
        ("gpt-image-1", True),
        ("dall-e-3", True),
        ("gpt-4o-image", True),
        ("sora_image", True),
        ("midjourney", True),
        ("gpt-4o", False),
        ("claude-sonnet-4", False),
        ("text-embedding-3-small", False),
    ],
)
def test_is_image_model(name: str, expected: bool) -> None:
    assert is_image_model(name) is expected
