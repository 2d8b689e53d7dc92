"""What the bot asked of the fake Discord: each REST request as a `Call`, and waiting for them.

`CallLog` is a part of `FakeDiscord`; tests use `calls`, `wait_for`, `calls_for`, `wait_final`,
`callback` and `refusals`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.discord_messages import Refused
from tests.fakes.server import Upload, read_parts


def invalid_token() -> web.Response:
    return json_response({"message": "Invalid Webhook Token", "code": 50027}, 401)


def json_response(data: Any, status: int = 200) -> web.Response:
    # discord.py parses JSON only when the content type is exactly application/json.
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    payload: Any
    files: list[Upload] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)
    # Discord's 400 body when the fake refused the request (see `FakeDiscord.refusals`).
    refusal: dict[str, Any] | None = None


@dataclass
class SentInteraction:
    payload: dict[str, Any]
    sent_at: float

    @property
    def id(self) -> str:
        return self.payload["id"]

    @property
    def token(self) -> str:
        return self.payload["token"]


async def read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        files: list[Upload] = []
        for part in await read_parts(request):
            if part.name == "payload_json":
                payload = json.loads(part.data)
            else:
                files.append(part)
        return payload, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), []


class CallLog:
    """The record of the bot's requests; `FakeDiscord` creates `calls` and `_changed`."""

    calls: list[Call]
    _changed: asyncio.Condition

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 10.0) -> Call:
        """The first call (past or future) that matches."""

        def find() -> Call | None:
            return next((c for c in self.calls if predicate(c)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: find() is not None), timeout)
        found = find()
        assert found is not None
        return found

    def calls_for(self, token: str) -> list[Call]:
        return [c for c in self.calls if token in c.path]

    async def wait_final(self, sent: SentInteraction, timeout: float = 10.0) -> Call:
        """The call that finished an interaction: an edit of @original or a followup (not a
        progress edit, which carries the job's Cancel button)."""
        return await self.wait_for(
            lambda c: (
                sent.token in c.path
                and c.method in ("PATCH", "POST")
                and "/webhooks/" in c.path
                and not is_progress(c)
            ),
            timeout,
        )

    def callback(self, sent: SentInteraction) -> Call | None:
        return next((c for c in self.calls if c.path.endswith(f"/{sent.id}/{sent.token}/callback")), None)

    async def _received(self, request: web.Request) -> Call:
        payload, files = await read_body(request)
        call = Call(request.method, request.path, dict(request.query), dict(request.headers), payload, files)
        await self._record(call)
        return call

    @staticmethod
    def _refuse(call: Call, refused: Refused) -> web.Response:
        call.refusal = refused.body
        return json_response(refused.body, 400)

    @property
    def refusals(self) -> list[Call]:
        """The requests the fake refused as Discord would (400 Invalid Form Body), with its answer."""
        return [c for c in self.calls if c.refusal is not None]


def is_progress(call: Call) -> bool:
    """Whether a call is a job's progress edit (it carries the Cancel button)."""
    return call.method == "PATCH" and "bb:cancel:" in json.dumps((call.payload or {}).get("components") or [])
