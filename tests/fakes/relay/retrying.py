"""A relay in front of another that retries by itself, as LiteLLM's proxy does (2 retries of its own
by default, the SDK inside it more): each call the bot makes can become several upstream calls."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from tests.fakes.server import FakeServer

_HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


class RetryingRelay(FakeServer):
    def __init__(self, upstream_url: str, tries: int = 3) -> None:
        super().__init__(client_max_size=100 * 1024 * 1024)
        self.upstream_url = upstream_url
        self.tries = tries
        self.received: list[str] = []  # the paths the bot called
        self.app.router.add_route("*", "/{tail:.*}", self._forward)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession()
        await super().start()

    async def close(self) -> None:
        await super().close()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        self.received.append(request.path)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        for attempt in range(1, self.tries + 1):
            async with self._session.request(
                request.method, f"{self.upstream_url}{request.path_qs}", headers=headers, data=body
            ) as answer:
                data = await answer.read()
                status, kind = answer.status, answer.content_type
            if (status != 429 and status < 500) or attempt == self.tries:
                return web.Response(status=status, body=data, content_type=kind)
        raise AssertionError("unreachable")
