"""A fake image API relay on 127.0.0.1 speaking the four formats the bot uses, with their failure modes.

Gemini generateContent, OpenAI chat completions, the OpenAI Images API, the Midjourney-proxy task API
and the OpenAI model list. Tests queue the behaviour of the next API calls (`relay.queue("http_429",
"ok")`); with nothing queued a call succeeds in its endpoint's own format. Midjourney task fetches
are not queued: each task follows the lifecycle its submit mode gave it. Every request is recorded
with its path, query, headers and body (JSON, or the multipart fields and files).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import itertools
import json
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from PIL import Image

from tests.fakes.server import FakeServer, Upload, read_parts, stored_file

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


# The relay records file parts exactly as the fake Discord records uploads; the old name stays for tests.
FormFile = Upload


@dataclass
class MjTask:
    fields: dict[str, Any]
    states: list[dict[str, Any]]


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
        r = self.app.router
        r.add_post("/v1beta/models/{target}", self._generate)
        r.add_post("/v1/chat/completions", self._api(_chat_markdown))
        r.add_post("/v1/images/generations", self._api(_images_b64))
        r.add_post("/v1/images/edits", self._api(_images_b64))
        r.add_post("/mj/submit/{action}", self._api(_mj_submit))
        r.add_get("/mj/task/{task_id}/fetch", self._mj_fetch)
        r.add_get("/v1/models", self._models)
        r.add_get("/files/{name}", self._file)
        self.calls: list[RelayCall] = []
        self.files: dict[str, tuple[bytes, str]] = {}
        self._plan: list[str] = []
        self.slow_seconds = 30.0
        self.retry_after = "0"
        self.big_side = 1024
        # Midjourney tasks by id: the states each fetch walks through, and the task's own fields.
        self.mj_tasks: dict[str, MjTask] = {}
        self.model_list: list[str] | None = None  # None: the relay has no /v1/models
        self.models_delay = 0.0
        self.mj_remix = False  # variations wait for a remix confirmation (trueai with remix on)
        # Every generation call waits this long, and while `hold` is set and not released.
        self.delay = 0.0
        self.hold: asyncio.Event | None = None
        # Calls in the "gated" mode wait until the test sets this, then answer as "ok".
        self.gate = asyncio.Event()
        self.in_flight = 0  # generation calls being answered right now
        self.peak_in_flight = 0

    def queue(self, *modes: str) -> None:
        unknown = [m for m in modes if m not in MODES]
        assert not unknown, f"unknown relay modes {unknown}"
        self._plan.extend(modes)

    def generate_calls(self) -> list[RelayCall]:
        return [c for c in self.calls if c.path.startswith("/v1beta/")]

    def calls_to(self, prefix: str) -> list[RelayCall]:
        return [c for c in self.calls if c.path.startswith(prefix)]

    def _api(self, default: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A handler for one endpoint: record the call, then run the queued mode or the default."""

        async def handle(request: web.Request) -> web.StreamResponse:
            body = await self._record(request)
            mode = self._plan.pop(0) if self._plan else "ok"
            handler = default if mode == "ok" else MODES[mode]
            async with self._busy():
                return await handler(self, request, body if isinstance(body, dict) else {})

        return handle

    async def _record(self, request: web.Request) -> Any:
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

    async def _mj_fetch(self, request: web.Request) -> web.Response:
        await self._record(request)
        task = self.mj_tasks.get(request.match_info["task_id"])
        if task is None or not task.states:
            return web.Response(status=200, text="", content_type="application/json")
        state = task.states.pop(0) if len(task.states) > 1 else task.states[0]
        return _json({**task.fields, **state})

    async def _models(self, request: web.Request) -> web.Response:
        await self._record(request)
        await asyncio.sleep(self.models_delay)
        if self.model_list is None:
            return _json(
                {"error": {"message": "Invalid URL (GET /v1/models)", "type": "invalid_request_error"}}, 404
            )
        return _json(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "owned_by": "relay"} for m in self.model_list],
            }
        )

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        method = request.match_info["target"].partition(":")[2]
        if method != "generateContent":
            return _json({"error": {"code": 404, "message": "unknown method", "status": "NOT_FOUND"}}, 404)
        mode = self._plan.pop(0) if self._plan else "ok"
        async with self._busy():
            return await MODES[mode](self, request, body or {})

    @contextlib.asynccontextmanager
    async def _busy(self) -> AsyncIterator[None]:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.hold is not None:
                await self.hold.wait()
            yield
        finally:
            self.in_flight -= 1

    async def _file(self, request: web.Request) -> web.Response:
        self.calls.append(RelayCall("GET", request.path, dict(request.query), dict(request.headers), None))
        return stored_file(self.files, request.match_info["name"])

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


async def _gated(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    await relay.gate.wait()
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


# --- OpenAI chat completions ----------------------------------------------------------------------


def _chat(content: str, **message: Any) -> web.Response:
    return _json(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": "gpt-4o-image",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, **message},
                    "finish_reason": "stop",
                }
            ],
        }
    )


def _serve(relay: FakeRelay, name: str, data: bytes, content_type: str = "image/png") -> str:
    relay.files[name] = (data, content_type)
    return f"{relay.base_url}/files/{name}"


async def _chat_markdown(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    url = _serve(relay, "chat.png", png(128, 128, (10, 200, 10)))
    return _chat(f"好的，这是你要的图片：\n\n![图片]({url})")


async def _chat_progress_log(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    url = _serve(relay, "final.png", png(96, 64, (10, 10, 200)))
    log = (
        '```\n{"prompt": "a cat", "ratio": "1:1"}\n```\n\n> ID: `task_01k0fake`\n>🕐 排队中\n>⚡ 生成中.......\n'
        ">🏃 进度 48..[100](https://videos.openai.com/vg-assets/preview.webp?se=2026-01-01&sig=abc)\n"
        f"> ✅ 生成完成\n\n[点击下载]({url})"
    )
    return _chat(log)


async def _chat_data_url(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _chat(f"![image](data:image/png;base64,{b64(png(64, 64, (200, 10, 10)))})")


async def _chat_images_field(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(png(72, 48))}"}}
    return _chat("", images=[image])


async def _chat_stream(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    text = f"Here you go: ![out](data:image/png;base64,{b64(png(80, 80, (1, 150, 250)))})"
    pieces = [text[i : i + 97] for i in range(0, len(text), 97)]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b": OPENROUTER PROCESSING\n\n")
    for piece in pieces:
        chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": piece}}]}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _chat_refusal_with_key(
    relay: FakeRelay, request: web.Request, body: dict[str, Any]
) -> web.Response:
    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return _chat(f"Your token {key} may not use this model; here is a description instead.")


async def _text_with_key(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
    image = {"inlineData": {"mimeType": "image/png", "data": b64(relay.image_for(body))}}
    return _json(_candidate([{"text": f"Made with key {key}."}, image]))


async def _chat_refusal(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _chat("I can only describe this scene in words: a quiet harbour at night, boats asleep.")


async def _chat_policy(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _chat("This request violates our content policy, so no image was generated.")


# --- OpenAI Images API ----------------------------------------------------------------------------


def _requested(body: dict[str, Any]) -> tuple[int, tuple[int, int]]:
    """How many pictures and what shape a generations/edits body asked for (scaled down)."""
    count = int(body.get("n") or 1)
    match = re.fullmatch(r"(\d+)x(\d+)", str(body.get("size") or ""))
    if not match:
        return count, (128, 128)
    w, h = int(match.group(1)), int(match.group(2))
    scale = 128 / max(w, h)
    return count, (round(w * scale), round(h * scale))


async def _images_b64(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    count, shape = _requested(body)
    data = [{"b64_json": b64(png(*shape, (i * 60, 90, 200))), "revised_prompt": None} for i in range(count)]
    return _json({"created": 1713833628, "data": data, "output_format": "png"})


async def _images_url(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    count, shape = _requested(body)
    data = [
        {"url": _serve(relay, f"gen_{i}.png", png(*shape)), "revised_prompt": "a revised prompt"}
        for i in range(count)
    ]
    return _json({"created": 1713833628, "data": data})


async def _images_wrapper(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    count, shape = _requested(body)
    data = [{"url": "", "b64_json": b64(png(*shape))} for _ in range(count)]
    return _json({"code": 200, "msg": "success", "data": {"data": data, "created": 1713833628}})


async def _images_empty(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json({"created": 1713833628, "data": []})


async def _images_moderation(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = {
        "message": "Your request was rejected by the safety system. safety_violations=[sexual]. "
        "(request id: 20261124000000000)",
        "type": "image_generation_user_error",
        "param": None,
        "code": "moderation_blocked",
    }
    return _json({"error": error}, 400)


async def _images_wants_array(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    """A relay that reads only `image[]`: a lone `image` part is not seen."""
    names = {f.name for f in body.get("_files", [])}
    if "image[]" not in names:
        return _json({"error": {"message": "image[] is required", "type": "invalid_request_error"}}, 400)
    return await _images_b64(relay, request, body)


# --- Midjourney-proxy -----------------------------------------------------------------------------

MJ_HASH = "82c51c9d-bc33-4c07-a471-36c3dcb1a6f0"
GRID_BUTTONS = [
    *(
        {
            "customId": f"MJ::JOB::upsample::{i}::{MJ_HASH}",
            "emoji": "",
            "label": f"U{i}",
            "style": 2,
            "type": 2,
        }
        for i in range(1, 5)
    ),
    {"customId": f"MJ::JOB::reroll::0::{MJ_HASH}::SOLO", "emoji": "🔄", "label": "", "style": 2, "type": 2},
    *(
        {
            "customId": f"MJ::JOB::variation::{i}::{MJ_HASH}",
            "emoji": "",
            "label": f"V{i}",
            "style": 2,
            "type": 2,
        }
        for i in range(1, 5)
    ),
]
UPSCALE_BUTTONS = [
    {
        "customId": f"MJ::JOB::high_variation::1::{MJ_HASH}::SOLO",
        "emoji": "🪄",
        "label": "Vary (Strong)",
        "style": 2,
        "type": 2,
    },
    {
        "customId": f"MJ::Outpaint::50::1::{MJ_HASH}::SOLO",
        "emoji": "🔍",
        "label": "Zoom Out 2x",
        "style": 2,
        "type": 2,
    },
    {"customId": f"MJ::CustomZoom::{MJ_HASH}", "emoji": "🔍", "label": "Custom Zoom", "style": 2, "type": 2},
    {
        "customId": f"MJ::Inpaint::1::{MJ_HASH}::SOLO",
        "emoji": "🖌️",
        "label": "Vary (Region)",
        "style": 2,
        "type": 2,
    },
    {"customId": "MJ::BOOKMARK::fake", "emoji": "❤️", "label": "", "style": 2, "type": 2},
]


def mj_lifecycle(relay: FakeRelay, task_id: str, action: str, *, end: dict[str, Any]) -> None:
    preview = _serve(relay, f"preview_{task_id}.png", png(32, 32))
    relay.mj_tasks[task_id] = MjTask(
        {"id": task_id, "action": action, "submitTime": 1689231405854, "failReason": None, "properties": {}},
        [
            {"status": "NOT_START", "progress": "0%", "imageUrl": None},
            {"status": "IN_PROGRESS", "progress": "45%", "imageUrl": preview},
            {"status": "IN_PROGRESS", "progress": "80%", "imageUrl": preview},
            end,
        ],
    )


def mj_success(relay: FakeRelay, task_id: str, action: str) -> dict[str, Any]:
    if action in ("UPSCALE", "ZOOM"):
        url, buttons = _serve(relay, f"up_{task_id}.png", png(200, 200, (250, 120, 0))), UPSCALE_BUTTONS
    else:
        url, buttons = _serve(relay, f"grid_{task_id}.png", png(256, 256, (120, 0, 250))), GRID_BUTTONS
    return {
        "status": "SUCCESS",
        "progress": "100%",
        "imageUrl": url,
        "buttons": buttons,
        "finishTime": 1689231500000,
    }


def _mj_action_name(path: str, body: dict[str, Any]) -> str:
    kind = path.rsplit("/", 1)[1]
    if kind != "action":
        return {"imagine": "IMAGINE", "blend": "BLEND", "modal": "ZOOM"}.get(kind, kind.upper())
    custom = str(body.get("customId", ""))
    for marker, action in (
        ("upsample", "UPSCALE"),
        ("variation", "VARIATION"),
        ("reroll", "REROLL"),
        ("Outpaint", "ZOOM"),
        ("CustomZoom", "ZOOM"),
    ):
        if marker in custom:
            return action
    return "ACTION"


async def _mj_submit(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    kind = request.match_info["action"]
    if kind == "modal":
        task_id = str(body.get("taskId"))
        mj_lifecycle(relay, task_id, "ZOOM", end=mj_success(relay, task_id, "ZOOM"))
        return _json({"code": 1, "description": "提交成功", "result": task_id})
    if kind == "action" and str(body.get("taskId")) not in relay.mj_tasks:
        return _json({"code": 3, "description": "关联任务不存在或已失效"}, 404)
    task_id = snowflake_id()
    custom_id = str(body.get("customId", ""))
    if kind == "action" and (
        custom_id.startswith("MJ::CustomZoom::") or (relay.mj_remix and "::variation::" in custom_id)
    ):
        relay.mj_tasks[task_id] = MjTask(
            {"id": task_id, "action": "ZOOM"}, [{"status": "MODAL", "progress": "0%"}]
        )
        properties = {"remix": True, "finalPrompt": "a cat --zoom 2"}
        return _json(
            {
                "code": 21,
                "description": "Waiting for window confirm",
                "result": task_id,
                "properties": properties,
            }
        )
    action = _mj_action_name(request.path, body)
    mj_lifecycle(relay, task_id, action, end=mj_success(relay, task_id, action))
    return _json(
        {"code": 1, "description": "提交成功", "result": task_id, "properties": {"discordInstanceId": "1"}}
    )


async def _mj_queued(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    task_id = snowflake_id()
    mj_lifecycle(relay, task_id, "IMAGINE", end=mj_success(relay, task_id, "IMAGINE"))
    # Some relays send the id as a number.
    return _json(
        {
            "code": 22,
            "description": "排队中，前面还有1个任务",
            "result": int(task_id),
            "properties": {"numberOfQueues": 1},
        }
    )


async def _mj_failure(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    task_id = snowflake_id()
    end = {
        "status": "FAILURE",
        "progress": "",
        "failReason": f"Invalid parameter: --ar 99:1 (key {request.headers.get('mj-api-secret')})",
    }
    mj_lifecycle(relay, task_id, "IMAGINE", end=end)
    return _json({"code": 1, "description": "提交成功", "result": task_id})


async def _mj_unknown(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json({"code": 1, "description": "提交成功", "result": snowflake_id()})


async def _mj_banned(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    properties = {"promptEn": "a bloody scene", "bannedWord": "bloody"}
    return _json({"code": 24, "description": "可能包含敏感词", "properties": properties})


async def _mj_queue_full(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json({"code": 23, "description": "队列已满，请稍后尝试", "result": None})


async def _mj_validation(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _json({"code": 4, "description": "base64List参数错误"}, 400)


_mj_ids = itertools.count(1320098173412546)


def snowflake_id() -> str:
    return str(next(_mj_ids))


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
    "gated": _gated,
    "key_echo": _key_echo,
    "chat_markdown": _chat_markdown,
    "chat_progress_log": _chat_progress_log,
    "chat_data_url": _chat_data_url,
    "chat_images_field": _chat_images_field,
    "chat_stream": _chat_stream,
    "chat_refusal": _chat_refusal,
    "chat_refusal_with_key": _chat_refusal_with_key,
    "text_with_key": _text_with_key,
    "chat_policy": _chat_policy,
    "images_b64": _images_b64,
    "images_url": _images_url,
    "images_wrapper": _images_wrapper,
    "images_empty": _images_empty,
    "images_moderation": _images_moderation,
    "images_wants_array": _images_wants_array,
    "mj_queued": _mj_queued,
    "mj_failure": _mj_failure,
    "mj_unknown": _mj_unknown,
    "mj_banned": _mj_banned,
    "mj_queue_full": _mj_queue_full,
    "mj_validation": _mj_validation,
}
