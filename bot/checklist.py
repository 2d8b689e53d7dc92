"""The lines `python -m bot check` prints and the start-up hints log: one finding, its mark, its fix.

Also the bot's invite link, which several of them give.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import urlencode

# View Channels, Send Messages, Send Messages in Threads, Embed Links, Attach Files, Read Message
# History: what the bot uses, nothing more (never Administrator).
PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 38) | (1 << 14) | (1 << 15) | (1 << 16)
SCOPES = "bot applications.commands"


def invite_url(application_id: int | str) -> str:
    query = urlencode({"client_id": application_id, "scope": SCOPES, "permissions": PERMISSIONS})
    return f"https://discord.com/oauth2/authorize?{query}"


class Mark(enum.Enum):
    OK = "✓"
    WARN = "!"  # worth knowing, not a failure
    FAIL = "✗"


@dataclass(frozen=True)
class Finding:
    mark: Mark
    text: str
    fix: str = ""  # what to do, for a warning or a failure

    @property
    def failed(self) -> bool:
        return self.mark is Mark.FAIL

    def line(self) -> str:
        return f"{self.mark.value} {self.text}" + (f": {self.fix}" if self.fix else "")


def ok(text: str) -> Finding:
    return Finding(Mark.OK, text)


def warn(text: str, fix: str = "") -> Finding:
    return Finding(Mark.WARN, text, fix)


def fail(text: str, fix: str = "") -> Finding:
    return Finding(Mark.FAIL, text, fix)
