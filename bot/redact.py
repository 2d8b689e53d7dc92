"""Keep credentials out of logs and messages: relays echo keys in URLs and error bodies."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote

from bot.log_format import JsonFormatter

MASK = "***"

# Credential shapes worth hiding even when they are not one of our own secrets (a relay may echo
# another key, or a token of its own, back in an error body).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"([?&](?:key|api_key|apikey|api-key|token|access_token|secret)=)[^&\s\"'#]+", re.I),
        r"\1***",
    ),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/=-]{6,}", re.I), r"\1***"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "sk-***"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), "AIza***"),
    # Fields named like a credential in JSON or a Python dict (discord.py's gateway dumps at DEBUG
    # carry every interaction's token so; relays echo upstream keys so), quoted values only.
    (
        re.compile(
            r"""(["'](?:[a-z_]*token|api[_-]?key|apikey|key|secret|[a-z_]*password|authorization)["']"""
            r"""\s*:\s*["'])[^"']+(["'])""",
            re.I,
        ),
        r"\1***\2",
    ),
    # The same as bare `name=value` pairs (a form body, a header dump), not only in a query string.
    (
        re.compile(
            r"(\b(?:api[_-]?key|apikey|access_token|refresh_token|secret|password)=)[^&\s\"',;]+", re.I
        ),
        r"\1***",
    ),
    # Interaction and webhook tokens travel in the URL path.
    (re.compile(r"(/webhooks/\d+/)[^/?\s\"']+"), r"\1***"),
    (re.compile(r"(/interactions/\d+/)[^/?\s\"']+"), r"\1***"),
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
        for pattern, replacement in _PATTERNS:
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
