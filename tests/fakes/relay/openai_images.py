"""The OpenAI Images API: POST /v1/images/generations (JSON) and /v1/images/edits (multipart)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.relay.common import Handler, b64, png, reply, serve

if TYPE_CHECKING:
    from tests.fakes.relay.core import FakeRelay


def add_routes(relay: FakeRelay) -> None:
    relay.app.router.add_post("/v1/images/generations", relay.endpoint(_images_b64))
    relay.app.router.add_post("/v1/images/edits", relay.endpoint(_images_b64))


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
    answer: dict[str, Any] = {"created": 1713833628, "data": data, "output_format": "png"}
    if str(body.get("model", "")).startswith("gpt-image"):
        # GPT image models report their tokens; 1056 output tokens is a medium 1024x1024 picture.
        answer["usage"] = {
            "input_tokens": 12,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": 12},
            "output_tokens": 1056 * count,
            "total_tokens": 12 + 1056 * count,
        }
    return reply(answer)


async def _images_url(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    count, shape = _requested(body)
    data = [
        {"url": serve(relay, f"gen_{i}.png", png(*shape)), "revised_prompt": "a revised prompt"}
        for i in range(count)
    ]
    return reply({"created": 1713833628, "data": data})


async def _images_revised_same(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    # A revised prompt that only repeats the member's (GPT image models often do).
    data = [{"b64_json": b64(png(128, 128)), "revised_prompt": f"{body.get('prompt', '')}."}]
    return reply({"created": 1713833628, "data": data})


async def _images_wrapper(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    count, shape = _requested(body)
    data = [{"url": "", "b64_json": b64(png(*shape))} for _ in range(count)]
    return reply({"code": 200, "msg": "success", "data": {"data": data, "created": 1713833628}})


async def _images_empty(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply({"created": 1713833628, "data": []})


async def _images_moderation(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = {
        "message": "Your request was rejected by the safety system. safety_violations=[sexual]. "
        "(request id: 20261124000000000)",
        "type": "image_generation_user_error",
        "param": None,
        "code": "moderation_blocked",
    }
    return reply({"error": error}, 400)


async def _images_wants_array(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    """A relay that reads only `image[]`: a lone `image` part is not seen."""
    names = {f.name for f in body.get("_files", [])}
    if "image[]" not in names:
        return reply({"error": {"message": "image[] is required", "type": "invalid_request_error"}}, 400)
    return await _images_b64(relay, request, body)


MODES: dict[str, Handler] = {
    "images_b64": _images_b64,
    "images_url": _images_url,
    "images_revised_same": _images_revised_same,
    "images_wrapper": _images_wrapper,
    "images_empty": _images_empty,
    "images_moderation": _images_moderation,
    "images_wants_array": _images_wants_array,
}
