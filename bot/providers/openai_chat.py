"""Chat completions used for pictures (gpt-4o-image, sora_image, relays' chat routes of image models)."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from bot.errors import ContentBlocked, NoImageReturned, ResultDownloadFailed, UpstreamBadResponse
from bot.http import ErrorInfo, classify_error, looks_like_safety_refusal, status_for_code
from bot.providers.base import (
    COMMON_RATIOS,
    Capabilities,
    GenerateRequest,
    GenerationResult,
    ImageProvider,
    Kind,
    ProgressCallback,
    image_refs_in_text,
)

log = logging.getLogger(__name__)

_SAID_TAIL = 300
_KIND_HINTS = {
    Kind.EDIT: "Edit the first image as follows; any other images are references.",
    Kind.BLEND: "Combine the images as follows.",
}


def capabilities(model: str) -> Capabilities:
    # No ratio parameter exists on this route: the ratio travels as a sentence in the prompt.
    return Capabilities(COMMON_RATIOS, (), max_input_images=10, max_prompt_chars=8000, ratio_by_prompt=True)


def prompt_text(request: GenerateRequest) -> str:
    lines = [request.prompt]
    if request.images and request.kind in _KIND_HINTS:
        lines.insert(0, _KIND_HINTS[request.kind])
    if request.aspect_ratio:
        lines.append(f"Aspect ratio: {request.aspect_ratio}.")
    return "\n\n".join(lines)


def build_body(request: GenerateRequest) -> dict[str, Any]:
    text = prompt_text(request)
    content: str | list[dict[str, Any]] = text
    if request.images:
        content = [{"type": "text", "text": text}] + [
            {"type": "image_url", "image_url": {"url": image.data_url()}} for image in request.images
        ]
    return {"model": request.model, "stream": False, "messages": [{"role": "user", "content": content}]}


def parse_answer(body: bytes) -> tuple[list[str], str]:
    """Picture references (best first) and the message text, from JSON or an SSE stream."""
    text = body.decode("utf-8", errors="replace").lstrip()
    if text.startswith(("data:", ":")):
        return _parse_stream(text)
    try:
        data = json.loads(text)
    except ValueError:
        raise UpstreamBadResponse("response body is not JSON") from None
    if not isinstance(data, dict):
        raise UpstreamBadResponse("answer is not a JSON object")
    if data.get("error") and not data.get("choices"):
        raise classify_error(status_for_code(data["error"]), _error_info(data["error"]))
    choices = data.get("choices") or []
    message = (choices[0] or {}).get("message") if choices and isinstance(choices[0], dict) else None
    if not isinstance(message, dict):
        raise UpstreamBadResponse("no choices[0].message in the answer")
    refs = _image_list_refs(message.get("images"))
    content = message.get("content")
    said = ""
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") in ("image_url", "output_image"):
                refs += _image_list_refs([part])
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                said += part["text"]
    elif isinstance(content, str):
        said = content
    return list(dict.fromkeys(refs + image_refs_in_text(said))), said


def _parse_stream(text: str) -> tuple[list[str], str]:
    """Join an SSE stream's deltas first: URLs and base64 are split across chunks."""
    content: list[str] = []
    refs: list[str] = []
    for line in text.splitlines():
        if not line.startswith("data:"):
            continue  # blank lines and ": keep-alive" comments
        payload = line[5:].strip()
        if payload == "[DONE]":
            break
        try:
            chunk = json.loads(payload)
        except ValueError:
            continue
        if isinstance(chunk, dict) and chunk.get("error"):
            raise classify_error(status_for_code(chunk["error"]), _error_info(chunk["error"]))
        for choice in (chunk.get("choices") or []) if isinstance(chunk, dict) else []:
            delta = choice.get("delta") or choice.get("message") or {}
            if isinstance(delta.get("content"), str):
                content.append(delta["content"])
            refs += _image_list_refs(delta.get("images"))
    said = "".join(content)
    return list(dict.fromkeys(refs + image_refs_in_text(said))), said


_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_URL = re.compile(r"\b(?:https?|data):[^\s)\]>\"']+")


def without_links(said: str) -> str:
    """The model's words without Markdown pictures and links: members never see a relay's URLs."""
    return _URL.sub("", _MARKDOWN_IMAGE.sub("", said))


def _image_list_refs(items: Any) -> list[str]:
    refs: list[str] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        holder = item.get("image_url") or item.get("imageUrl") or item
        url = holder.get("url") if isinstance(holder, dict) else holder
        if isinstance(url, str) and url:
            refs.append(url)
    return refs


def _error_info(error: Any) -> ErrorInfo:
    if isinstance(error, dict):
        return ErrorInfo(
            message=str(error.get("message") or ""), code=str(error.get("code") or error.get("type") or "")
        )
    return ErrorInfo(message=str(error))


class OpenAIChatProvider(ImageProvider):
    name = "openai-chat"
    settings_prefix = "OPENAI"
    model_names = re.compile(r"^(gpt-4o-image|sora[-_]image|gpt-4o-all)")

    def capabilities(self, model: str) -> Capabilities:
        return capabilities(model)

    async def generate(
        self, request: GenerateRequest, progress: ProgressCallback | None = None
    ) -> GenerationResult:
        response = await self.http.request(
            "POST",
            f"{self.endpoint.base_url}/v1/chat/completions",
            headers={"Authorization": f"Bearer {self.endpoint.api_key}"},
            json_body=build_body(request),
            timeout=self.endpoint.timeout,
            makes_picture=True,
        )
        refs, said = parse_answer(response.body)
        images = await self.fetch_images(refs)
        if images:
            return GenerationResult(tuple(images))
        if refs:
            # The model did make a picture; its link is what failed. Its words and the relay's URL
            # would only mislead.
            raise ResultDownloadFailed(f"{len(refs)} result link(s) gave no picture")
        tail = self.http.redact(" ".join(without_links(said).split()))[-_SAID_TAIL:]
        if looks_like_safety_refusal(said):
            raise ContentBlocked("refusal in the chat answer", reason_key="block.policy")
        raise NoImageReturned("TEXT_ONLY", said=tail)
