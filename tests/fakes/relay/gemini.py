"""Gemini generateContent: POST /v1beta/models/{model}:generateContent and its answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.relay.common import Handler, b64, noise_png, png, reply, size_for_ratio

if TYPE_CHECKING:
    from tests.fakes.relay.core import FakeRelay


def candidate(parts: list[dict[str, Any]], finish: str = "STOP") -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}],
        "usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 1290, "totalTokenCount": 1302},
        "modelVersion": "gemini-fake",
    }


def image_for(body: dict[str, Any]) -> bytes:
    """A picture in the shape the request's imageConfig asked for."""
    config = body.get("generationConfig", {}).get("imageConfig", {})
    return png(*size_for_ratio(config.get("aspectRatio")))


def add_routes(relay: FakeRelay) -> None:
    async def generate(request: web.Request) -> web.StreamResponse:
        body = await relay.record(request)
        method = request.match_info["target"].partition(":")[2]
        if method != "generateContent":
            return reply({"error": {"code": 404, "message": "unknown method", "status": "NOT_FOUND"}}, 404)
        return await relay.answer(request, body or {}, ok)

    relay.app.router.add_post("/v1beta/models/{target}", generate)


async def ok(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    image = {"inlineData": {"mimeType": "image/png", "data": b64(image_for(body))}}
    return reply(candidate([{"text": "Here is your picture."}, image]))


async def _ok_snake(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    image = {"inline_data": {"mime_type": "image/png", "data": b64(image_for(body))}}
    answer = candidate([image])
    answer["candidates"][0]["finish_reason"] = answer["candidates"][0].pop("finishReason")
    return reply(answer)


async def _thoughts(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    draft = {"inlineData": {"mimeType": "image/png", "data": b64(png(16, 16, (1, 2, 3)))}, "thought": True}
    final = {
        "inlineData": {"mimeType": "image/png", "data": b64(image_for(body))},
        "thoughtSignature": "c2ln",
    }
    return reply(candidate([draft, {"text": "Planning", "thought": True}, final, {"text": "Done."}]))


async def _big(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    image = noise_png(relay.big_side, relay.big_side)
    return reply(candidate([{"inlineData": {"mimeType": "image/png", "data": b64(image)}}]))


async def _url_in_text(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    relay.files["result.png"] = (image_for(body), "image/png")
    text = f"![image]({relay.base_url}/files/result.png?a=1\\u0026b=2)"
    return reply(candidate([{"text": text, "thoughtSignature": "c2ln"}]))


async def _file_data(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    relay.files["filedata.png"] = (image_for(body), "image/png")
    part = {"fileData": {"mimeType": "image/png", "fileUri": f"{relay.base_url}/files/filedata.png"}}
    return reply(candidate([part]))


async def _data_url_in_text(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(candidate([{"text": f"![out](data:image/png;base64,{b64(image_for(body))})"}]))


async def _blocked_prompt(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(
        {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 9}}
    )


async def _image_safety(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply({"candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}]})


async def _no_image(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply({"candidates": [{"content": {"parts": []}, "finishReason": "NO_IMAGE"}]})


async def _text_only(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(candidate([{"text": "I can't draw that, but here is a poem instead."}]))


async def _moderated(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply({"candidates": None, "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 0}})


async def _text_with_key(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
    image = {"inlineData": {"mimeType": "image/png", "data": b64(image_for(body))}}
    return reply(candidate([{"text": f"Made with key {key}."}, image]))


MODES: dict[str, Handler] = {
    "ok": ok,
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
    "text_with_key": _text_with_key,
}
