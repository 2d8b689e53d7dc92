"""Failures any endpoint can be told to answer with: HTTP errors, broken bodies, slow or held calls."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.relay.common import Handler, reply
from tests.fakes.relay.gemini import ok

if TYPE_CHECKING:
    from tests.fakes.relay.core import FakeRelay


def _google_error(code: int, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


async def _http_400(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(
        _google_error(400, "INVALID_ARGUMENT", "Invalid value at 'generation_config.image_config'"), 400
    )


async def _http_400_key(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
    return reply(_google_error(400, "INVALID_ARGUMENT", "API key not valid.", details=details), 400)


async def _http_401(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = {
        "message": "无效的令牌 (request id: 2026112400000)",
        "type": "new_api_error",
        "code": "invalid_api_key",
    }
    return reply({"error": error}, 401)


async def _http_403(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(_google_error(403, "PERMISSION_DENIED", "Permission denied on this model"), 403)


async def _http_404(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(_google_error(404, "NOT_FOUND", "models/x is not found for API version v1beta"), 404)


async def _http_429(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for requests per minute")
    return reply(error, 429, headers={"Retry-After": relay.retry_after})


async def _http_429_retry_info(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"}]
    return reply(_google_error(429, "RESOURCE_EXHAUSTED", "Resource exhausted", details=details), 429)


async def _http_429_quota(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = {
        "message": "You exceeded your current quota",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
    return reply({"error": error}, 429)


async def _http_500(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(_google_error(500, "INTERNAL", "Internal error encountered."), 500)


async def _http_503(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(_google_error(503, "UNAVAILABLE", "The model is overloaded."), 503)


async def _html_502(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    page = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
    return web.Response(status=502, text=page, content_type="text/html")


async def _malformed(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=200, text='{"candidates": [{"content": {"parts": [', content_type="application/json"
    )


async def _slow(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    await asyncio.sleep(relay.slow_seconds)
    return await ok(relay, request, body)


async def _gated(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    await relay.gate.wait()
    return await ok(relay, request, body)


async def _key_echo(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    """A relay that repeats the caller's credentials in its error, as some do."""
    key = (
        request.query.get("key")
        or request.headers.get("x-goog-api-key")
        or request.headers.get("Authorization", "")
    )
    message = f"invalid request for key {key} at {request.url}"
    return reply({"error": {"message": message, "type": "upstream_error", "code": 400}}, 400)


MODES: dict[str, Handler] = {
    "http_400": _http_400,
    "http_400_key": _http_400_key,
    "http_401": _http_401,
    "http_403": _http_403,
    "http_404": _http_404,
    "http_429": _http_429,
    "http_429_retry_info": _http_429_retry_info,
    "http_429_quota": _http_429_quota,
    "http_500": _http_500,
    "http_503": _http_503,
    "html_502": _html_502,
    "malformed": _malformed,
    "slow": _slow,
    "gated": _gated,
    "key_echo": _key_echo,
}
