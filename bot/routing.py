"""Which request format a model name is spoken in: `MODELS` entries, else the adapters' own rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.providers.registry import format_names, infer_format

# The relay of API_BASE_URL and API_KEY; RELAYS names the others.
MAIN_RELAY = "main"
RELAY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class ModelRoute:
    """A model offered to members, the format its requests use, and the relays that serve it."""

    name: str
    format: str  # an adapter's name (bot.providers.registry)
    # In the order they are tried: the first serves, the next ones take over when it fails.
    relays: tuple[str, ...] = (MAIN_RELAY,)


_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,99}$")


def parse_model_entry(entry: str) -> ModelRoute:
    """Parse one `MODELS` entry, `name`, `name=format`, either followed by `@relay+relay`; raise
    ValueError with a readable reason."""
    head, at, relay_list = entry.partition("@")
    relays = _relays(relay_list, entry) if at else (MAIN_RELAY,)
    name, sep, fmt = (part.strip() for part in head.partition("="))
    if not _MODEL_NAME.match(name):
        raise ValueError(f"'{name}' is not a model name (letters, digits and . _ - : / +, at most 100)")
    if sep:
        if fmt.lower() in format_names():
            return ModelRoute(name, fmt.lower(), relays)
        formats = ", ".join(format_names())
        raise ValueError(f"'{fmt}' in '{entry.strip()}' is not a format; use one of {formats}")
    inferred = infer_format(name)
    if inferred is None:
        formats = "|".join(format_names())
        raise ValueError(f"cannot tell the format of '{name}' from its name; write it as {name}={formats}")
    return ModelRoute(name, inferred, relays)


def _relays(text: str, entry: str) -> tuple[str, ...]:
    names = [part.strip().lower() for part in text.split("+")]
    bad = next((name for name in names if not RELAY_NAME.match(name)), None)
    if bad is not None:
        raise ValueError(
            f"'{bad}' in '{entry.strip()}' is not a relay name; write the relays after @ joined by +, "
            f"such as @{MAIN_RELAY}+backup"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"'{entry.strip()}' names a relay twice")
    return tuple(names)


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
