"""Which request format a model name is spoken in: `MODELS` entries, else the adapters' own rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.providers.registry import format_names, infer_format


@dataclass(frozen=True)
class ModelRoute:
    """A model offered to members and the format its requests use."""

    name: str
    format: str  # an adapter's name (bot.providers.registry)


_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}$")


def parse_model_entry(entry: str) -> ModelRoute:
    """Parse one `MODELS` entry, `name` or `name=format`; raise ValueError with a readable reason."""
    name, sep, fmt = (part.strip() for part in entry.partition("="))
    if not _MODEL_NAME.match(name):
        raise ValueError(f"'{name}' is not a model name (letters, digits and . _ - : / @ +, at most 100)")
    if sep:
        if fmt.lower() in format_names():
            return ModelRoute(name, fmt.lower())
        formats = ", ".join(format_names())
        raise ValueError(f"'{fmt}' in '{entry.strip()}' is not a format; use one of {formats}")
    inferred = infer_format(name)
    if inferred is None:
        formats = "|".join(format_names())
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
