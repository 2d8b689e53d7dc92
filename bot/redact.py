"""Keep credentials out of logs and messages: relays echo keys in URLs and error bodies."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote

from bot.log_format import JsonFormatter

MASK = "***"

# Names a credential goes by, in a query string, a form, JSON or a header dump (case does not matter).
_NAMES = (
    r"(?:x-goog-api-key|x-api-key|api[_-]?key|apikey|key|secret|client[_-]secret|password|passwd"
    r"|authorization|(?:access|refresh|id|auth|session|bearer)[_-]?token|token)"
)
# A value that looks like a credential: long enough, and not a plain word (a digit, a symbol, or a
# capital inside it), so "Bearer tokens are…" or "Basic authentication" stay readable.
# Case-sensitive inside patterns that are not (the capital is the point).
_CRED = r"(?-i:(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=-]|[A-Za-z0-9._~+/=-]+[A-Z])[A-Za-z0-9._~+/=-]{6,})"
# What ends a value in a URL or form: its separators, encoded or JSON-escaped too.
_END = r"(?:&|%26|\\u0026|[\s\"'#<>\\,;)\]}])"

# A JSON field's name that ends like one of those (any prefix: `upstream_api_key`, `x-goog-api-key`).
_FIELD = r"[a-z0-9_-]*(?:key|token|secret|passw(?:or)?d|authorization)"
_NAME_WORDS = ("key", "token", "secret", "passw", "authorization")

# Credential shapes worth hiding even when they are not one of our own secrets (a relay may echo
# another key, or a token of its own, back in an error body). Each runs only when one of its words
# is in the text (lower-cased): most log lines hold none, and these run on every line.
_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    # Fields named like a credential in JSON or a Python dict: quoted (also JSON inside a JSON
    # string, quotes escaped), spaces or not. discord.py's gateway dumps at DEBUG carry every
    # interaction's token so; relays echo upstream keys so.
    (
        re.compile(rf"""((\\?["']){_FIELD}\2\s*:\s*(\\?["']))(?:(?!\3).)+?(\3)""", re.I),
        r"\1***\4",
        _NAME_WORDS,
    ),
    # The same with a bare value (a number, a Python repr without quotes).
    (
        re.compile(rf"""((\\?["']){_FIELD}\2\s*:\s*)(?!null\b|true\b|false\b){_CRED}""", re.I),
        r"\1***",
        _NAME_WORDS,
    ),
    # Query strings and forms: `name=value` with or without a leading ?/&, URL-encoded or not.
    (
        re.compile(rf"((?<![A-Za-z0-9_-]){_NAMES}(?:=|%3D))(?:(?!{_END}).)+", re.I),
        r"\1***",
        tuple(
            f"{w}{eq}"
            for w in ("key", "token", "secret", "password", "passwd", "authorization")
            for eq in ("=", "%3d")
        ),
    ),
    (
        re.compile(rf"((?:%3F|%26|\\u0026){_NAMES}(?:=|%3D))(?:(?!{_END}).)+", re.I),
        r"\1***",
        ("%3f", "%26", "\\u0026"),
    ),
    # Header dumps: `Authorization: Bearer …`, `x-goog-api-key: …`.
    (
        re.compile(
            r"(\b(?:authorization|x-goog-api-key|x-api-key|api-key)\s*:\s*(?:(?:Bearer|Basic|Token)\s+)?)"
            r"[A-Za-z0-9._~+/=-]{4,}",
            re.I,
        ),
        r"\1***",
        ("authorization", "api-key"),
    ),
    # A scheme and its credentials anywhere.
    (
        re.compile(rf"(\b(?:Bearer|Basic)\s+)(?:{_CRED}|[A-Za-z0-9._~+/=-]{{20,}})", re.I),
        r"\1***",
        ("bearer", "basic"),
    ),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "sk-***", ("sk-",)),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), "AIza***", ("aiza",)),
    # Interaction and webhook tokens travel in the URL path.
    (re.compile(r"(/webhooks/\d+/)[^/?\s\"']+"), r"\1***", ("/webhooks/",)),
    (re.compile(r"(/interactions/\d+/)[^/?\s\"']+"), r"\1***", ("/interactions/",)),
)


class Redactor:
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            # Very short values would mask ordinary words; real keys and tokens are long.
            if len(secret) >= 6:
                forms.update({secret, quote(secret, safe=""), quote(secret)})
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        lowered = text.lower()
        for pattern, replacement, words in _PATTERNS:
            if any(word in lowered for word in words):
                text = pattern.sub(replacement, text)
        return text


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted record, tracebacks included."""

    def __init__(self, redactor: Redactor, fmt: str, datefmt: str | None = None) -> None:
        super().__init__(fmt, datefmt, style="{")
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor(super().format(record))


class _NoVoiceWarnings(logging.Filter):
    """discord.py warns at every start that its optional voice libraries (PyNaCl, davey) are
    missing; the bot has no voice features, so the two lines only alarm owners."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "discord.client" and "voice will NOT be supported" in record.getMessage())


def setup_logging(level: str, redactor: Redactor, log_format: str = "text") -> None:
    """Send every logger, discord.py's included, through one redacting stderr handler."""
    handler = logging.StreamHandler()
    handler.addFilter(_NoVoiceWarnings())
    if log_format == "json":
        handler.setFormatter(JsonFormatter(redactor))
    else:
        handler.setFormatter(
            RedactingFormatter(redactor, "{asctime} {levelname:<7} {name}: {message}", "%Y-%m-%d %H:%M:%S")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # These log every REST call or SQL statement at DEBUG, bodies included; keep them quieter.
    for noisy in ("discord.http", "discord.webhook", "aiosqlite"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.INFO))
