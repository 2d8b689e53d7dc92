"""What the settings reader tells an owner beyond "valid or not": the shape of a base URL, typos in
`.env`, and where a missing token was looked for. Kept apart from bot/config.py so the reader stays
one list of declarations and these rules can be read (and tested) on their own.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# Path segments that belong to an API's own routes, never to a relay's base: the bot adds them.
_VERSION = re.compile(r"^v\d+(alpha|beta)?\d*$")
_ENDPOINT_WORDS = frozenset({"chat", "completions", "images", "generations", "edits", "models", "mj"})
# Our own names are upper case with underscores; a key close to one of them is worth a warning.
_SETTING_LIKE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_CLOSE = 0.85
# The address .env.example holds until the owner picks a relay or Google (a reserved name: it
# never resolves, so it cannot be anybody's relay).
EXAMPLE_HOST = "api.your-relay.example"
GOOGLE_BASE = "https://generativelanguage.googleapis.com"


@dataclass(frozen=True)
class BaseUrlShape:
    """A base URL as the bot will use it, and what reading it found."""

    base: str
    stripped: str = ""  # the trailing "/v1" removed, where there was one
    problem: str = ""  # one line naming the setting and the base to use; empty when fine


def base_url_shape(name: str, raw: str) -> BaseUrlShape:
    """Read a `*_BASE_URL`: a trailing `/v1` is removed (each format adds its own version path);
    a version or endpoint path anywhere else means a whole endpoint was pasted, which is refused
    with the base to use instead. A plain prefix (a relay under `/api`, say) is kept."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return BaseUrlShape(
            raw, problem=f"{name} must be an http(s) URL such as https://api.example.com, got '{raw}'"
        )
    if parts.query or parts.fragment:
        return BaseUrlShape(
            raw, problem=f"{name} must not carry a query or fragment: put the key in the matching _API_KEY"
        )
    if parts.hostname == EXAMPLE_HOST:
        return BaseUrlShape(
            raw,
            problem=(
                f"{name} is still the example from .env.example: set your relay's base URL, "
                f"or {GOOGLE_BASE} for Google's Gemini API"
            ),
        )
    origin = f"{parts.scheme}://{parts.netloc}"
    segments = [s for s in parts.path.split("/") if s]
    if segments and segments[-1] == "v1":
        return BaseUrlShape(origin + "".join(f"/{s}" for s in segments[:-1]), stripped="/v1")
    for index, segment in enumerate(segments):
        if _VERSION.match(segment) or segment.lower() in _ENDPOINT_WORDS:
            base = origin + "".join(f"/{s}" for s in segments[:index])
            tail = "/" + "/".join(segments[index:])
            return BaseUrlShape(
                base,
                problem=(
                    f"{name} is an endpoint, not a base URL: the bot adds '{tail}' itself; set {name}={base}"
                ),
            )
    return BaseUrlShape(origin + "".join(f"/{s}" for s in segments))


# The settings of a relay RELAYS names (RELAY_BACKUP_BASE_URL, RELAY_BACKUP_GEMINI_API_KEY …): read
# by name from RELAYS, so not in the declared list.
RELAY_SETTING = re.compile(r"^RELAY_[A-Z][A-Z0-9_]*_(BASE_URL|API_KEY)$")


def unknown_keys(keys: Iterable[str], known: Iterable[str]) -> list[str]:
    """A warning for each key that is not a setting but nearly spells one (MAX_CONCURENT_JOBS)."""
    names = list(known)
    warnings = []
    for key in keys:
        if key in names or not _SETTING_LIKE.match(key):
            continue
        match = difflib.get_close_matches(key, names, n=1, cutoff=_CLOSE)
        if match:
            warnings.append(f"{key} in .env is not a bananabot setting: did you mean {match[0]}?")
    return warnings


def env_file_keys(env_file: Path) -> list[str]:
    """The keys written in `.env` (values are not needed, and never shown)."""
    from dotenv import dotenv_values

    return list(dotenv_values(env_file)) if env_file.is_file() else []


def missing_token(env_file: Path, file_values: Mapping[str, str | None]) -> str:
    """Why DISCORD_TOKEN is empty, said where the owner will look: no `.env`, no line, or no value."""
    if not env_file.is_file():
        return (
            f"DISCORD_TOKEN is not set and there is no {env_file.name} in {env_file.resolve().parent}: "
            "copy .env.example to .env and fill it in"
        )
    if "DISCORD_TOKEN" not in file_values:
        return f"DISCORD_TOKEN is missing from {env_file}: add a line DISCORD_TOKEN=<your bot token>"
    return (
        f"DISCORD_TOKEN is empty in {env_file}: paste the bot token from the Developer Portal "
        "(Bot > Reset Token) after DISCORD_TOKEN="
    )
