"""A fake image API relay on 127.0.0.1 speaking Gemini generateContent, with its failure modes.

Tests queue the behaviour of the next calls (`relay.queue("http_429", "ok")`); with nothing queued a
call succeeds. Every request is recorded with its path, query, headers and JSON body.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from PIL import Image

Handler = Callable[["FakeRelay", web.Request, dict[str, Any]], Awaitable[web.StreamResponse]]


def png(width: int = 128, height: int = 128, colour: tuple[int, int, int] = (255, 212, 59)) -> bytes:
    """A real PNG with a gradient, so it is not trivially compressible to nothing."""
    img = Image.new("RGB", (width, height), colour)
    pixels = img.load()
    assert pixels is not None
    for x in range(0, width, max(1, width // 32)):
        for y in range(height):
            pixels[x, y] = (x % 256, y % 256, 128)
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def noise_png(width: int, height: int) -> bytes:
    """A PNG of random pixels: it cannot be compressed, so it is large for its size."""
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    img.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def size_for_ratio(ratio: str | None, long_side: int = 128) -> tuple[int, int]:
    if not ratio:
        return long_side, long_side
    w, h = (int(x) for x in ratio.split(":"))
    return (long_side, round(long_side * h / w)) if w >= h else (round(long_side * w / h), long_side)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(data, status=status, headers=headers)


def _candidate(parts: list[dict[str, Any]], finish: str = "STOP") -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302},
        "modelVersion": "gemini-fake",
    }


@dataclass
class RelayCall:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FakeRelay:
    def __init__(self) -> None:
        self.app = web.Application(client_max_size=100 * 1024 * 1024)
        self.app.router.add_post("/v1beta/models/{target}", self._generate)
        self.app.router.add_get("/files/{name}", self._file)
        self.calls: list[RelayCall] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self._plan: list[str] = []
        self.slow_seconds = 30.0
        self.retry_after = "0"
        self.big_side = 1024
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def queue(self, *modes: str) -> None:
        unknown = [m for m in modes if m not in MODES]
        assert not unknown, f"unknown relay modes {unknown}"
        self._plan.extend(modes)

    def generate_calls(self) -> list[RelayCall]:
        return [c for c in self.calls if c.path.startswith("/v1beta/")]

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.calls.append(
            RelayCall(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        method = request.match_info["target"].partition(":")[2]
        if method != "generateContent":
            return _json({"error": {"code": 404, "message": "unknown method", "status": "NOT_FOUND"}}, 404)
        mode = self._plan.pop(0) if self._plan else "ok"
        return await MODES[mode](self, request, body or {})

    async def _file(self, request: web.Request) -> web.Response:
        self.calls.append(RelayCall("GET", request.path, dict(request.query), dict(request.headers), None))
        name = request.match_info["name"]
        if name not in self.files:
            return web.Response(status=404)
        data, content_type = self.files[name]
        return web.Response(body=data, headers={"Content-Type": content_type})

    def image_for(self, body: dict[str, Any]) -> bytes:
        config = body.get("generationConfig", {}).get("imageConfig", {})
        return png(*size_for_ratio(config.get("aspectRatio")))


# --- modes ----------------------------------------------------------------------------------------


async def _ok(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    image = {"inlineData": {"mimeType": "image/png", "data": b64(relay.image_for(body))}}
    return _json(_candidate([{"text": "Here is your picture."}, image]))


async def _ok_snake(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    image = {"inline_data": {"mime_type": "image/png", "data": b64(relay.image_for(body))}}
    answer = _candidate([image])
    answer["candidates"][0]["finish_reason"] = answer["candidates"][0].pop("finishReason")
    return _json(answer)


async def _thoughts(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    draft = {"inlineData": {"mimeType": "image/png", "data": b64(png(16, 16, (1, 2, 3)))}, "thought": True}
    final = {
        "inlineData": {"mimeType": "image/png", "data": b64(relay.image_for(body))},
        "thoughtSignature": "c2ln",
    }
    return _json(_candidate([draft, {"text": "Planning", "thought": True}, final, {"text": "Done."}]))


async def _big(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    image = noise_png(relay.big_side, relay.big_side)
    return _json(_candidate([{"inlineData": {"mimeType": "image/png", "data": b64(image)}}]))


async def _url_in_text(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    relay.files["result.png"] = (relay.image_for(body), "image/png")
    text = f"![image]({relay.base_url}/files/result.png?a=1\\u0026b=2)"
    return _json(_candidate([{"text": text, "thoughtSignature": "c2ln"}]))


async def _file_data(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    relay.files["filedata.png"] = (relay.image_for(body), "image/png")
    part = {"fileData": {"mimeType": "image/png", "fileUri": f"{relay.base_url}/files/filedata.png"}}
    return _json(_candidate([part]))


async def _data_url_in_text(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json(_candidate([{"text": f"![out](data:image/png;base64,{b64(relay.image_for(body))})"}]))


async def _blocked_prompt(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json(
        {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 9}}
    )


async def _image_safety(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json({"candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}]})


async def _no_image(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json({"candidates": [{"content": {"parts": []}, "finishReason": "NO_IMAGE"}]})


async def _text_only(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json(_candidate([{"text": "I can't draw that, but here is a poem instead."}]))


async def _moderated(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json({"candidates": None, "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 0}})


def _google_error(code: int, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


async def _http_400(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json(
        _google_error(400, "INVALID_ARGUMENT", "Invalid value at 'generation_config.image_config'"), 400
    )


async def _http_400_key(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
    return _json(_google_error(400, "INVALID_ARGUMENT", "API key not valid.", details=details), 400)


async def _http_401(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = {
        "message": "无效的令牌 (request id: 2026112400000)",
        "type": "new_api_error",
        "code": "invalid_api_key",
    }
    return _json({"error": error}, 401)


async def _http_403(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json(_google_error(403, "PERMISSION_DENIED", "Permission denied on this model"), 403)


async def _http_404(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json(_google_error(404, "NOT_FOUND", "models/x is not found for API version v1beta"), 404)


async def _http_429(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for requests per minute")
    return _json(error, 429, headers={"Retry-After": relay.retry_after})


async def _http_429_retry_info(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"}]
    return _json(_google_error(429, "RESOURCE_EXHAUSTED", "Resource exhausted", details=details), 429)


async def _http_429_quota(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = {
        "message": "You exceeded your current quota",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
    return _json({"error": error}, 429)


async def _http_500(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json(_google_error(500, "INTERNAL", "Internal error encountered."), 500)


async def _http_503(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json(_google_error(503, "UNAVAILABLE", "The model is overloaded."), 503)


async def _html_502(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    page = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
    return web.Response(status=502, text=page, content_type="text/html")


async def _malformed(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=200, text='{"candidates": [{"content": {"parts": [', content_type="application/json"
    )


async def _slow(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    await asyncio.sleep(relay.slow_seconds)
    return await _ok(relay, request, body)


async def _key_echo(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    """A relay that repeats the caller's credentials in its error, as some do."""
    key = (
        request.query.get("key")
        or request.headers.get("x-goog-api-key")
        or request.headers.get("Authorization", "")
    )
    message = f"invalid request for key {key} at {request.url}"
    return _json({"error": {"message": message, "type": "upstream_error", "code": 400}}, 400)


MODES: dict[str, Handler] = {
    "ok": _ok,
    "ok_snake": _ok_snake,
    "thoughts": _thoughts,
    "big": _big,
    "url_in_text": _url_in_text,
    "file_data": _file_data,
    "data_url_in_text": _data_url_in_text,
    "blocked_prompt": _blocked_prompt,
    "image_safety": _image_safety,
    "no_image": _no_image,
    "text_only": _text_only,
    "moderated": _moderated,
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
    "key_echo": _key_echo,
}
