"""The relay's shared part: state the formats read, every call recorded, and the queue of modes."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.relay import faults, gemini, midjourney, openai_chat, openai_images, probes
from tests.fakes.relay.common import Handler, reply
from tests.fakes.relay.midjourney import MjTask
from tests.fakes.server import FakeServer, Upload, read_parts, stored_file

# The relay records file parts exactly as the fake Discord records uploads; the old name stays for tests.
FormFile = Upload


def _all_modes(*tables: dict[str, Handler]) -> dict[str, Handler]:
    # Any mode may be queued for any endpoint, so the names share one namespace and must not clash.
    merged: dict[str, Handler] = {}
    for table in tables:
        clash = merged.keys() & table.keys()
        assert not clash, f"relay modes defined twice: {sorted(clash)}"
        merged |= table
    return merged


MODES = _all_modes(gemini.MODES, faults.MODES, openai_chat.MODES, openai_images.MODES, midjourney.MODES)


@dataclass
class RelayCall:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FakeRelay(FakeServer):
    def __init__(self) -> None:
        super().__init__(client_max_size=100 * 1024 * 1024)
        for fmt in (gemini, openai_chat, openai_images, midjourney, probes):
            fmt.add_routes(self)
        self.app.router.add_get("/v1/models", self._models)
        self.app.router.add_get("/api/usage/token/", self._token_usage)
        self.app.router.add_get("/v1/dashboard/billing/subscription", self._subscription)
        self.app.router.add_get("/v1/dashboard/billing/usage", self._billing_usage)
        self.app.router.add_get("/files/{name}", self._file)
        self.app.router.add_get("/redirect", self._redirect)
        self.app.router.add_post("/redirect", self._redirect)
        self.calls: list[RelayCall] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self.linked_url = ""  # what the "links_to" answer points at
        self._plan: list[str] = []
        # A mode every generation call gets once the queued ones are used up: a relay that is down.
        self.outage: str | None = None
        self.slow_seconds = 30.0
        self.retry_after = "0"
        self.big_side = 1024
        # Midjourney tasks by id: the states each fetch walks through, and the task's own fields.
        self.mj_tasks: dict[str, MjTask] = {}
        self.model_list: list[str] | None = None  # None: the relay has no /v1/models
        # The key's balance: new-api's token endpoint (its `data`), the OpenAI-style billing pair
        # (granted USD, used in hundredths), or an error body with HTTP 200. None: no such endpoint.
        self.token_usage: dict[str, Any] | str | None = None
        self.billing: tuple[float, float] | str | None = None
        self.balance_calls: list[RelayCall] = []
        self.models_delay = 0.0
        # The one key the relay takes (None: any), and the ways its Gemini routes take it
        # (header, query, bearer; None: any), for `check`'s probes (tests/fakes/relay/probes.py).
        self.api_key: str | None = None
        self.gemini_auth_accepted: set[str] | None = None
        self.gemini_model_list = True  # False: no GET /v1beta/models, only :countTokens
        self.mj_remix = False  # variations wait for a remix confirmation (trueai with remix on)
        # Every generation call waits this long, and while `hold` is set and not released.
        self.delay = 0.0
        self.hold: asyncio.Event | None = None
        # Calls in the "gated" mode wait until the test sets this, then answer as "ok".
        self.gate = asyncio.Event()
        self.in_flight = 0  # generation calls being answered right now
        self.peak_in_flight = 0
        # The same per model (the caps of CONCURRENCY_LIMITS), from the path or the body's model.
        self.in_flight_by_model: collections.Counter[str] = collections.Counter()
        self.peak_by_model: collections.Counter[str] = collections.Counter()
        # Gemini 3: the thought images before the final one (0 to 2), the signatures the relay issued,
        # and whether it refuses a conversation it did not sign (None: as the real model does).
        self.thought_images = 2
        self.signatures: set[str] = set()
        self.strict_signatures: bool | None = None
        # Gemini: the one way the relay takes the key ("header", "query", "bearer"; None: any) and the
        # only key it takes (None: any).
        self.gemini_accepts: str | None = None
        self.gemini_key: str | None = None

    def queue(self, *modes: str) -> None:
        unknown = [m for m in modes if m not in MODES]
        assert not unknown, f"unknown relay modes {unknown}"
        self._plan.extend(modes)

    def generate_calls(self) -> list[RelayCall]:
        return [c for c in self.calls if c.path.startswith("/v1beta/")]

    def contents_sent(self) -> list[list[dict[str, Any]]]:
        """The `contents` of every Gemini call, in order: the turns the bot sent, history included."""
        return [c.body.get("contents") or [] for c in self.generate_calls() if isinstance(c.body, dict)]

    def calls_to(self, prefix: str) -> list[RelayCall]:
        return [c for c in self.calls if c.path.startswith(prefix)]

    def image_for(self, body: dict[str, Any]) -> bytes:
        # Kept on the relay because tests written against the one-file fake may call it here.
        return gemini.image_for(body)

    # --- what the formats build on ----------------------------------------------------------------

    def endpoint(self, default: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A handler for one endpoint: record the call, then run the queued mode or the default."""

        async def handle(request: web.Request) -> web.StreamResponse:
            body = await self.record(request)
            return await self.answer(request, body if isinstance(body, dict) else {}, default)

        return handle

    async def answer(self, request: web.Request, body: Any, default: Handler) -> web.StreamResponse:
        """Answer with the next queued mode ("ok" meaning the endpoint's `default`), counted in flight."""
        mode = self._plan.pop(0) if self._plan else (self.outage or "ok")
        handler = default if mode == "ok" else MODES[mode]
        async with self._busy(_model_of(request.path, body)):
            return await handler(self, request, body)

    async def record(self, request: web.Request) -> Any:
        """Record the call and return its body: JSON (None if unreadable), or multipart fields and files."""
        if request.content_type.startswith("multipart/"):
            fields: dict[str, Any] = {}
            files: list[FormFile] = []
            for part in await read_parts(request):
                if part.filename:
                    files.append(part)
                else:
                    fields[part.name] = part.data.decode()
            body: Any = {**fields, "_files": files}
        else:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
        self.calls.append(
            RelayCall(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        return body

    @contextlib.asynccontextmanager
    async def _busy(self, model: str = "") -> AsyncIterator[None]:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.in_flight_by_model[model] += 1
        self.peak_by_model[model] = max(self.peak_by_model[model], self.in_flight_by_model[model])
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.hold is not None:
                await self.hold.wait()
            yield
        finally:
            self.in_flight -= 1
            self.in_flight_by_model[model] -= 1

    # --- relay-wide routes ------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        await self.record(request)
        await asyncio.sleep(self.models_delay)
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            error = {"message": "Invalid token", "type": "new_api_error", "code": "invalid_api_key"}
            return reply({"error": error}, 401)
        if self.model_list is None:
            return reply(
                {"error": {"message": "Invalid URL (GET /v1/models)", "type": "invalid_request_error"}}, 404
            )
        return reply(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "owned_by": "relay"} for m in self.model_list],
            }
        )

    def _balance_call(self, request: web.Request) -> None:
        # Kept apart from `calls`: the bot reads the balance at start, whatever the test does.
        self.balance_calls.append(
            RelayCall(request.method, request.path, dict(request.query), dict(request.headers), None)
        )

    async def _token_usage(self, request: web.Request) -> web.Response:
        self._balance_call(request)
        if self.token_usage is None:
            raise web.HTTPNotFound()
        if self.token_usage == "error":
            return reply({"code": False, "message": "无效的令牌", "data": None})
        return reply({"code": True, "message": "ok", "data": {"object": "token_usage", **self.token_usage}})

    async def _subscription(self, request: web.Request) -> web.Response:
        self._balance_call(request)
        if self.billing is None:
            raise web.HTTPNotFound()
        if self.billing == "error":
            return reply({"error": {"message": "invalid token", "type": "new_api_error"}})
        return reply({"object": "billing_subscription", "hard_limit_usd": self.billing[0]})

    async def _billing_usage(self, request: web.Request) -> web.Response:
        self._balance_call(request)
        if not isinstance(self.billing, tuple):
            raise web.HTTPNotFound()
        return reply({"object": "list", "total_usage": self.billing[1]})

    async def _redirect(self, request: web.Request) -> web.Response:
        """A relay's link that redirects elsewhere: `/redirect?to=URL[&code=307]` (302 by default)."""
        body = await self.record(request) if request.method == "POST" else None
        if request.method != "POST":
            self.calls.append(
                RelayCall("GET", request.path, dict(request.query), dict(request.headers), body)
            )
        answers = {
            301: web.HTTPMovedPermanently,
            302: web.HTTPFound,
            303: web.HTTPSeeOther,
            307: web.HTTPTemporaryRedirect,
            308: web.HTTPPermanentRedirect,
        }
        raise answers[int(request.query.get("code", "302"))](request.query["to"])

    async def _file(self, request: web.Request) -> web.Response:
        self.calls.append(RelayCall("GET", request.path, dict(request.query), dict(request.headers), None))
        return stored_file(self.files, request.match_info["name"])


def _model_of(path: str, body: Any) -> str:
    """The model a generation call asks for: Gemini's path names it, the OpenAI formats' body."""
    if "/models/" in path:
        return path.split("/models/", 1)[1].split(":", 1)[0]
    return str(body.get("model", "")) if isinstance(body, dict) else ""
