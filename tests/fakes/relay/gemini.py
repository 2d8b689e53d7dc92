"""Gemini generateContent: POST /v1beta/models/{model}:generateContent and its answers.

Gemini 3 models answer as the real ones do (protocols.md 1.3): interim thought images without a
signature, then a text part and the final picture, each with a `thoughtSignature` the relay issues
and remembers. Like the real 3.1-flash, the relay can refuse a conversation whose model turns carry a
signature it did not issue, or none (protocols.md 1.7): `relay.strict_signatures`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.relay import probes
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


def model_of(request: web.Request) -> str:
    return request.match_info["target"].partition(":")[0]


def thinks(model: str) -> bool:
    """Gemini 3 image models always think, and sign their answers."""
    return model.lower().startswith("gemini-3")


def checks_signatures(relay: FakeRelay, model: str) -> bool:
    # Google: 3-pro-image takes a conversation without signatures; the other Gemini 3 models refuse it.
    if relay.strict_signatures is not None:
        return relay.strict_signatures
    return model.lower().startswith("gemini-3.1-flash")


def issue_signature(relay: FakeRelay) -> str:
    """A new opaque signature, remembered so a later turn can be checked against it."""
    signature = b64(os.urandom(24))
    relay.signatures.add(signature)
    return signature


def signature_problem(relay: FakeRelay, body: dict[str, Any]) -> int | None:
    """The index of the first model content whose signed parts are not signed by this relay."""
    for index, content in enumerate(body.get("contents") or []):
        if not isinstance(content, dict) or content.get("role") != "model":
            continue
        answered = [
            p for p in content.get("parts") or [] if isinstance(p, dict) and p.get("thought") is not True
        ]
        # What the real API signs: the first part after the thoughts, and every picture.
        signed = [p for i, p in enumerate(answered) if i == 0 or "inlineData" in p or "inline_data" in p]
        for part in signed:
            signature = part.get("thoughtSignature") or part.get("thought_signature")
            if signature not in relay.signatures:
                return index
    return None


def signature_error(index: int) -> web.Response:
    message = f"Request contains an invalid argument: invalid thought signature for content at index {index}"
    return reply({"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}}, 400)


def sent_key(request: web.Request, way: str) -> str | None:
    """The key as the request carries it one way: "header", "query" or "bearer"."""
    if way == "header":
        return request.headers.get("x-goog-api-key")
    if way == "query":
        return request.query.get("key")
    bearer = request.headers.get("Authorization", "")
    return bearer.removeprefix("Bearer ") if bearer.startswith("Bearer ") else None


def auth_refusal(relay: FakeRelay, request: web.Request) -> web.Response | None:
    """A relay that takes the key one way only (`relay.gemini_accepts`), and only the right key
    (`relay.gemini_key`). Refused as LiteLLM's proxy refuses: its /gemini pass-through reads only
    `?key=` or `x-goog-api-key`, so a bearer arrives as no key (pass_through_endpoints
    gemini_proxy_route, then user_api_key_auth), a 400 `auth_error`; a wrong key is a 401 `auth_error`
    (litellm/proxy/_types.py ProxyException, code a string, param "None")."""
    if relay.gemini_accepts is None and relay.gemini_key is None:
        return None
    ways = [relay.gemini_accepts] if relay.gemini_accepts else ["query", "header", "bearer"]
    key = next((k for k in (sent_key(request, w) for w in ways) if k), None)
    if key is None:
        message = (
            "Authentication Error, LiteLLM Virtual Key expected. Received=None, expected to start with 'sk-'."
        )
        status = 400
    elif relay.gemini_key is not None and key != relay.gemini_key:
        message = (
            f"Authentication Error, Invalid proxy server token passed. Received API Key = sk-...{key[-4:]}"
        )
        status = 401
    else:
        return None
    return reply(
        {"error": {"message": message, "type": "auth_error", "param": "None", "code": str(status)}}, status
    )


def add_routes(relay: FakeRelay) -> None:
    async def generate(request: web.Request) -> web.StreamResponse:
        body = await relay.record(request)
        method = request.match_info["target"].partition(":")[2]
        if method == "countTokens":
            return await probes.count_tokens(relay, request, body or {})
        if method != "generateContent":
            return reply({"error": {"code": 404, "message": "unknown method", "status": "NOT_FOUND"}}, 404)
        refusal = auth_refusal(relay, request)
        if refusal is not None:
            return refusal
        if isinstance(body, dict) and checks_signatures(relay, model_of(request)):
            index = signature_problem(relay, body)
            if index is not None:
                # Refused before any queued mode is used: the request itself is wrong.
                return signature_error(index)
        if relay.gemini_auth_accepted is not None and (answer := probes.refused(relay, request)):
            return answer
        return await relay.answer(request, body or {}, ok)

    relay.app.router.add_post("/v1beta/models/{target}", generate)


async def ok(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    image = {"inlineData": {"mimeType": "image/png", "data": b64(image_for(body))}}
    if not thinks(model_of(request)):
        return reply(candidate([{"text": "Here is your picture."}, image]))
    # Up to two interim compositions, unsigned, then the signed answer (protocols.md 1.3).
    drafts = [
        {"inlineData": {"mimeType": "image/png", "data": b64(png(16, 16, (9, 9, 9 * n)))}, "thought": True}
        for n in range(relay.thought_images)
    ]
    text = {"text": "Here is your picture.", "thoughtSignature": issue_signature(relay)}
    final = {**image, "thoughtSignature": issue_signature(relay)}
    return reply(candidate([*drafts, text, final]))


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


async def _links_to(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    """A picture given as a link to wherever the test says (`relay.linked_url`)."""
    return reply(candidate([{"text": f"![image]({relay.linked_url})"}]))


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


async def _bad_signature(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    # A relay that changed route mid-conversation refuses whatever it is sent.
    return signature_error(1)


MODES: dict[str, Handler] = {
    "links_to": _links_to,
    "ok": ok,
    "bad_signature": _bad_signature,
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
