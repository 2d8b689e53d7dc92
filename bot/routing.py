"""Which request format a model name is spoken in: `MODELS` entries and the inference rules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ApiFormat(StrEnum):
    GEMINI = "gemini"
    OPENAI_CHAT = "openai-chat"
    OPENAI_IMAGES = "openai-images"
    MIDJOURNEY = "midjourney"


@dataclass(frozen=True)
class ModelRoute:
    """A model offered to members and the format its requests use."""

    name: str
    format: ApiFormat


# First match wins; names are compared in lower case. Relays alias models freely, so the rules
# look at the family prefix rather than exact ids.
_INFERENCE_RULES: tuple[tuple[re.Pattern[str], ApiFormat], ...] = (
    (re.compile(r"^(gemini-|nano-banana)"), ApiFormat.GEMINI),
    (re.compile(r"^(gpt-image-|dall-e-|jimeng-|seedream-|flux-)"), ApiFormat.OPENAI_IMAGES),
    (re.compile(r"^(gpt-4o-image|sora[-_]image|gpt-4o-all)"), ApiFormat.OPENAI_CHAT),
    (re.compile(r"^(midjourney|mj|niji)"), ApiFormat.MIDJOURNEY),
)

_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}$")


def infer_format(name: str) -> ApiFormat | None:
    """Guess the request format from a model name, or None when the name says nothing."""
    lowered = name.lower()
    for pattern, api_format in _INFERENCE_RULES:
        if pattern.match(lowered):
            return api_format
    return None


def parse_model_entry(entry: str) -> ModelRoute:
    """Parse one `MODELS` entry, `name` or `name=format`; raise ValueError with a readable reason."""
    name, sep, fmt = (part.strip() for part in entry.partition("="))
    if not _MODEL_NAME.match(name):
        raise ValueError(f"'{name}' is not a model name (letters, digits and . _ - : / @ +, at most 100)")
    if sep:
        try:
            return ModelRoute(name, ApiFormat(fmt.lower()))
        except ValueError:
            formats = ", ".join(f.value for f in ApiFormat)
            raise ValueError(f"'{fmt}' in '{entry.strip()}' is not a format; use one of {formats}") from None
    inferred = infer_format(name)
    if inferred is None:
        formats = "|".join(f.value for f in ApiFormat)
        raise ValueError(f"cannot tell the format of '{name}' from its name; write it as {name}={formats}")
    return ModelRoute(name, inferred)


def parse_models(text: str) -> list[ModelRoute]:
    """Parse the comma-separated `MODELS` list; duplicates are an error."""
    routes: list[ModelRoute] = []
    seen: set[str] = set()
    for entry in text.split(","):
        if not entry.strip():
            continue
        route = parse_model_entry(entry)
        if route.name in seen:
            raise ValueError(f"'{route.name}' is listed twice")
        seen.add(route.name)
        routes.append(route)
    return routes
