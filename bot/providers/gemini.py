"""Gemini `generateContent` for the image models ("nano banana"), direct or through a relay."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from bot.errors import ContentBlocked, NoImageReturned, UpstreamBadResponse
from bot.http import HttpClient
from bot.imaging import decode_base64, sniff
from bot.providers.base import (
    ALL_RATIOS,
    COMMON_RATIOS,
    Capabilities,
    Endpoint,
    GeneratedImage,
    GenerateRequest,
    GenerationResult,
    ImageProvider,
    ProgressCallback,
    image_refs_in_text,
)

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)


class GeminiAuth(StrEnum):
    HEADER = "header"  # x-goog-api-key, what Google's own SDK sends
    QUERY = "query"  # ?key=, what many relay docs show
    BEARER = "bearer"  # Authorization: Bearer, what most relays expect


# Finish reasons worth one more try: the docs and relays report them as often transient.
_RETRY_ONCE = {"NO_IMAGE", "IMAGE_OTHER", "OTHER", "TEXT_ONLY"}
_BLOCK_KINDS = {
    "SAFETY": "block.prompt",
    "BLOCKLIST": "block.prompt",
    "PROHIBITED_CONTENT": "block.prompt",
    "SPII": "block.prompt",
    "IMAGE_SAFETY": "block.image",
    "IMAGE_PROHIBITED_CONTENT": "block.image",
    "RECITATION": "block.recitation",
    "IMAGE_RECITATION": "block.recitation",
}


def capabilities(model: str) -> Capabilities:
    """Per-family limits from Google's image-generation page; unknown aliases get the common set."""
    name = model.lower()
    if name.startswith("gemini-2.5-flash-image"):
        # Google: works best with up to 3 input images.
        return Capabilities(COMMON_RATIOS, (), max_input_images=3, max_prompt_chars=8000)
    if name.startswith("gemini-3.1-flash-image"):
        return Capabilities(ALL_RATIOS, ("512", "1K", "2K", "4K"), 14, 8000)
    return Capabilities(COMMON_RATIOS, ("1K", "2K", "4K"), 14, 8000)


def build_body(request: GenerateRequest, caps: Capabilities) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"text": request.prompt}]
    parts += [{"inline_data": {"mime_type": image.mime, "data": image.b64}} for image in request.images]
    image_config: dict[str, str] = {}
    if request.aspect_ratio:
        image_config["aspectRatio"] = request.aspect_ratio
    if request.size and request.size in caps.sizes:
        image_config["imageSize"] = request.size
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    return {"contents": [{"role": "user", "parts": parts}], "generationConfig": config}


@dataclass
class Answer:
    """What one generateContent answer holds, read from either key spelling."""

    images: list[GeneratedImage] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    finish_reason: str = ""
    finish_message: str = ""
    block_reason: str = ""
    moderated: bool = False

    @property
    def said(self) -> str:
        return " ".join(t.strip() for t in self.texts if t.strip())


def _get(obj: Any, camel: str, snake: str) -> Any:
    if not isinstance(obj, dict):
        return None
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def parse_answer(data: Any) -> Answer:
    if not isinstance(data, dict):
        raise UpstreamBadResponse("answer is not a JSON object")
    answer = Answer()
    feedback = _get(data, "promptFeedback", "prompt_feedback")
    answer.block_reason = str(_get(feedback, "blockReason", "block_reason") or "")
    candidates = data.get("candidates") or []
    usage = _get(data, "usageMetadata", "usage_metadata")
    # A relay's moderation stage answers with no candidates and zero output tokens.
    answer.moderated = not candidates and _get(usage, "candidatesTokenCount", "candidates_token_count") == 0
    for candidate in candidates if isinstance(candidates, list) else []:
        answer.finish_reason = answer.finish_reason or str(
            _get(candidate, "finishReason", "finish_reason") or ""
        )
        answer.finish_message = answer.finish_message or str(
            _get(candidate, "finishMessage", "finish_message") or ""
        )
        content = candidate.get("content") if isinstance(candidate, dict) else None
        for part in (content or {}).get("parts") or []:
            _read_part(part, answer)
    return answer


def _read_part(part: Any, answer: Answer) -> None:
    if not isinstance(part, dict) or part.get("thought") is True:
        return  # interim "thinking" images are drafts, not results
    inline = _get(part, "inlineData", "inline_data")
    if isinstance(inline, dict):
        data = decode_base64(str(inline.get("data") or ""))
        mime = sniff(data) if data else None
        if data and mime:
            answer.images.append(GeneratedImage(data, mime))
        return
    file_data = _get(part, "fileData", "file_data")
    if isinstance(file_data, dict):
        uri = _get(file_data, "fileUri", "file_uri")
        if uri:
            answer.urls.append(str(uri))
        return
    text = part.get("text")
    if isinstance(text, str):
        found = image_refs_in_text(text)
        answer.urls += found
        if not found:
            answer.texts.append(text)


def judge(answer: Answer, redact: Callable[[str], str] = str) -> None:
    """Raise the error an answer without a picture means (`redact` cleans what the model said)."""
    if answer.block_reason:
        raise ContentBlocked(answer.block_reason, reason_key="block.prompt")
    if answer.finish_reason in _BLOCK_KINDS:
        raise ContentBlocked(answer.finish_reason, reason_key=_BLOCK_KINDS[answer.finish_reason])
    if answer.moderated:
        raise ContentBlocked("no candidates, zero output tokens", reason_key="block.moderation")
    reason = answer.finish_reason if answer.finish_reason not in ("", "STOP") else "TEXT_ONLY"
    raise NoImageReturned(reason, said=_trim(redact(answer.said or answer.finish_message)))


def _trim(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class GeminiProvider(ImageProvider):
    name = "gemini"
    settings_prefix = "GEMINI"
    model_names = re.compile(r"^(gemini-|nano-banana)")

    def __init__(self, http: HttpClient, endpoint: Endpoint, auth: GeminiAuth) -> None:
        super().__init__(http, endpoint)
        self.auth = auth

    @classmethod
    def from_settings(cls, settings: Settings, http: HttpClient) -> Self:
        return cls(http, cls.endpoint_from(settings), settings.gemini_auth)

    @classmethod
    def draws(cls, name: str) -> bool:
        # Relays list every Gemini text model too; only the image ones draw.
        lowered = name.lower()
        return "image" in lowered or lowered.startswith("nano-banana")

    def capabilities(self, model: str) -> Capabilities:
        return capabilities(model)

    def url_and_headers(self, model: str) -> tuple[str, dict[str, str]]:
        url = f"{self.endpoint.base_url}/v1beta/models/{quote(model, safe='')}:generateContent"
        headers = {"Content-Type": "application/json"}
        key = self.endpoint.api_key
        if self.auth is GeminiAuth.HEADER:
            headers["x-goog-api-key"] = key
        elif self.auth is GeminiAuth.BEARER:
            headers["Authorization"] = f"Bearer {key}"
        else:
            url += f"?key={quote(key, safe='')}"
        return url, headers

    async def generate(
        self, request: GenerateRequest, progress: ProgressCallback | None = None
    ) -> GenerationResult:
        body = build_body(request, self.capabilities(request.model))
        url, headers = self.url_and_headers(request.model)
        for attempt in (1, 2):
            response = await self.http.request(
                "POST", url, headers=headers, json_body=body, timeout=self.endpoint.timeout
            )
            answer = parse_answer(response.json())
            images = answer.images or await self.fetch_images(answer.urls)
            if images:
                # Model text is shown to members; relays have been seen to echo keys into it.
                return GenerationResult(tuple(images), _trim(self.http.redact(answer.said), 1000))
            try:
                judge(answer, self.http.redact)
            except NoImageReturned as exc:
                if attempt == 1 and str(exc) in _RETRY_ONCE:
                    log.info("No image from %s (%s); trying once more", request.model, exc)
                    continue
                raise
        raise AssertionError("unreachable: the second attempt returns or raises")
