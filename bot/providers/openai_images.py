"""OpenAI Images API: `/v1/images/generations` (JSON) and `/v1/images/edits` (multipart)."""

from __future__ import annotations

import logging
import re
from typing import Any

import aiohttp

from bot.errors import NoImageReturned, ResultDownloadFailed, UpstreamBadResponse, UpstreamRejectedRequest
from bot.http import ErrorInfo, HttpResponse, classify_error, status_for_code
from bot.imaging import decode_base64, extension, sniff
from bot.pricing import TokenUsage
from bot.providers.base import (
    COMMON_RATIOS,
    Capabilities,
    GeneratedImage,
    GenerateRequest,
    GenerationResult,
    ImageProvider,
    ProgressCallback,
)

log = logging.getLogger(__name__)

MB = 1024 * 1024
# Files go as multipart parts, not base64: the API takes up to 50 MB an image.
_MULTIPART: dict[str, Any] = {"max_image_bytes": 50 * MB, "max_request_bytes": 200 * MB}
LONG_SIDE = {"1K": 1024, "2K": 2048, "4K": 4096}
HIGHER_SIZES = ("1K", "2K", "4K")
# Families with a few fixed pixel sizes: a bigger `size` option asks for their best quality instead.
_BEST_QUALITY = {"gpt-image": "high", "dall-e-3": "hd"}
# Relays answer a wrong multipart field name with one of these; the other name is then tried once.
_WRONG_IMAGE_FIELD = re.compile(
    r"image.{0,20}required|at least one image|no image|missing.{0,20}image|image\[\]", re.I
)


def family(model: str) -> str:
    name = model.lower()
    for prefix in ("gpt-image-2", "gpt-image", "dall-e-3", "dall-e-2"):
        if name.startswith(prefix):
            return prefix
    return "other"


def capabilities(model: str) -> Capabilities:
    """Per-family limits from OpenAI's image API reference; relay models get a generous common set."""
    match family(model):
        case "gpt-image-2":
            return Capabilities(COMMON_RATIOS, ("1K", "2K", "4K"), 16, 32000, native_count=True, **_MULTIPART)
        case "gpt-image":
            return Capabilities(
                COMMON_RATIOS,
                HIGHER_SIZES,
                16,
                32000,
                native_count=True,
                exact_ratios=("1:1", "3:2", "2:3"),
                size_is_quality=True,
                **_MULTIPART,
            )
        case "dall-e-3":
            # One picture a call and no edits: several pictures come from parallel calls.
            return Capabilities(
                COMMON_RATIOS, HIGHER_SIZES, 0, 4000, exact_ratios=("1:1",), size_is_quality=True
            )
        case "dall-e-2":
            return Capabilities(
                ("1:1",), (), 1, 1000, native_count=True, blend_images=(1, 1), max_image_bytes=4 * MB
            )
        case _:
            return Capabilities(COMMON_RATIOS, ("1K", "2K", "4K"), 10, 8000, native_count=True, **_MULTIPART)


def _ratio(ratio: str | None) -> float:
    if not ratio:
        return 1.0
    w, h = ratio.split(":")
    return int(w) / int(h)


def pixel_size(model: str, ratio: str | None, size: str | None) -> str | None:
    """The `size` parameter: the family's nearest fixed shape, or pixels from the ratio."""
    r = _ratio(ratio)
    shape = "square" if 0.9 <= r <= 1.1 else ("landscape" if r > 1 else "portrait")
    match family(model):
        case "gpt-image":
            if ratio is None:
                return None  # the API's own default, "auto"
            return {"square": "1024x1024", "landscape": "1536x1024", "portrait": "1024x1536"}[shape]
        case "dall-e-3":
            return {"square": "1024x1024", "landscape": "1792x1024", "portrait": "1024x1792"}[shape]
        case "dall-e-2":
            return "1024x1024"
        case "gpt-image-2":
            # Both sides divisible by 16, at most 3840x2160 worth of pixels.
            return _pixels(
                r, min(LONG_SIDE.get(size or "1K", 1024), 3840), multiple=16, max_pixels=3840 * 2160
            )
        case _:
            if ratio is None and size is None:
                return None
            return _pixels(r, LONG_SIDE.get(size or "1K", 1024), multiple=64, max_pixels=None)


def _pixels(ratio: float, long_side: int, *, multiple: int, max_pixels: int | None) -> str:
    w, h = (long_side, long_side / ratio) if ratio >= 1 else (long_side * ratio, long_side)
    if max_pixels and w * h > max_pixels:
        scale = (max_pixels / (w * h)) ** 0.5
        w, h = w * scale, h * scale
    # Nearest multiple keeps the ratio (floor turned 4:5 into 768x1024, which is 3:4).
    sides = [max(multiple, round(v / multiple) * multiple) for v in (w, h)]
    if max_pixels and sides[0] * sides[1] > max_pixels:
        sides = [max(multiple, int(v // multiple) * multiple) for v in (w, h)]
    return f"{sides[0]}x{sides[1]}"


def request_options(request: GenerateRequest) -> dict[str, str]:
    """`size`, `quality` and `response_format` for the model's family, from the command options."""
    options: dict[str, str] = {}
    size = pixel_size(request.model, request.aspect_ratio, request.size)
    if size:
        options["size"] = size
    best = _BEST_QUALITY.get(family(request.model))
    if best and request.size in ("2K", "4K"):
        options["quality"] = best
    if family(request.model).startswith("dall-e"):
        # dall-e answers with 60-minute URLs unless asked for base64.
        options["response_format"] = "b64_json"
    return options


def generation_body(request: GenerateRequest, count: int) -> dict[str, Any]:
    return {"model": request.model, "prompt": request.prompt, "n": count, **request_options(request)}


def edit_form(request: GenerateRequest, count: int, field: str) -> aiohttp.FormData:
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("model", request.model)
    form.add_field("prompt", request.prompt)
    form.add_field("n", str(count))
    for name, value in request_options(request).items():
        form.add_field(name, value)
    for index, image in enumerate(request.images, start=1):
        # Relays reject application/octet-stream: every part carries its real type.
        form.add_field(
            field, image.data, filename=f"image_{index}.{extension(image.mime)}", content_type=image.mime
        )
    return form


def parse_answer(data: Any) -> tuple[list[GeneratedImage], list[str], str]:
    """Images, result URLs and revised-prompt text, from the official shape or a relay's wrapper."""
    if not isinstance(data, dict):
        raise UpstreamBadResponse("answer is not a JSON object")
    items = data.get("data")
    if isinstance(items, dict):  # {"code": 200, "msg": …, "data": {"data": [...]}}
        items = items.get("data")
    if not isinstance(items, list) or not items:
        error = data.get("error")
        if error or data.get("code") not in (None, 0, 200, "200", "success"):
            raise classify_error(status_for_code(error or data), _error_info(error, data))
        raise NoImageReturned("empty data", said="")
    images: list[GeneratedImage] = []
    urls: list[str] = []
    texts: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        encoded = item.get("b64_json") or item.get("b64Json")
        if encoded:
            raw = decode_base64(str(encoded))
            mime = sniff(raw) if raw else None
            if raw and mime:
                images.append(GeneratedImage(raw, mime))
        elif item.get("url"):
            urls.append(str(item["url"]))
        if item.get("revised_prompt"):
            texts.append(str(item["revised_prompt"]))
    return images, urls, " ".join(texts)


def token_usage(data: Any) -> TokenUsage | None:
    """GPT image models' `usage` (relays may wrap the answer in `data`)."""
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict) and isinstance(data, dict) and isinstance(data.get("data"), dict):
        usage = data["data"].get("usage")
    if not isinstance(usage, dict) or not isinstance(usage.get("output_tokens"), int):
        return None
    details = usage.get("input_tokens_details") or {}
    image = int(details.get("image_tokens") or 0) if isinstance(details, dict) else 0
    text = int(details.get("text_tokens") or 0) if isinstance(details, dict) else 0
    if not details:
        text = int(usage.get("input_tokens") or 0)
    return TokenUsage(text, image, usage["output_tokens"])


class OpenAIImagesProvider(ImageProvider):
    name = "openai-images"
    settings_prefix = "OPENAI"
    model_names = re.compile(r"^(gpt-image-|dall-e-|jimeng-|seedream-|flux-)")
    lists_models = True

    def capabilities(self, model: str) -> Capabilities:
        return capabilities(model)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.endpoint.api_key}"}

    async def generate(
        self, request: GenerateRequest, progress: ProgressCallback | None = None
    ) -> GenerationResult:
        count = request.count if self.capabilities(request.model).native_count else 1
        if request.images:
            response = await self._edit(request, count)
        else:
            response = await self.http.request(
                "POST",
                f"{self.endpoint.base_url}/v1/images/generations",
                headers=self._headers(),
                json_body=generation_body(request, count),
                timeout=self.endpoint.timeout,
                makes_picture=True,
            )
        data = response.json()
        images, urls, text = parse_answer(data)
        images += await self.fetch_images(urls)
        if not images and urls:
            raise ResultDownloadFailed(f"{len(urls)} result link(s) gave no picture")
        if not images:
            raise NoImageReturned("no usable image in data", said="")
        # GPT image models may rewrite the prompt: it is the prompt the model used, not a reply.
        return GenerationResult(tuple(images), used_prompt=self.http.redact(text), usage=token_usage(data))

    async def _edit(self, request: GenerateRequest, count: int) -> HttpResponse:
        url = f"{self.endpoint.base_url}/v1/images/edits"
        first = "image" if len(request.images) == 1 else "image[]"
        fields = [first, "image[]" if first == "image" else "image"]
        for attempt, field in enumerate(fields):
            try:
                return await self.http.request(
                    "POST",
                    url,
                    headers=self._headers(),
                    form=lambda field=field: edit_form(request, count, field),
                    timeout=self.endpoint.timeout,
                    makes_picture=True,
                )
            except UpstreamRejectedRequest as exc:
                if attempt == 0 and _WRONG_IMAGE_FIELD.search(str(exc)):
                    log.info("The relay wants the images as %r; sending again", fields[1])
                    continue
                raise
        raise AssertionError("unreachable: the second attempt returns or raises")


def _error_info(error: Any, data: dict[str, Any]) -> ErrorInfo:
    if isinstance(error, dict):
        return ErrorInfo(
            message=str(error.get("message") or ""), code=str(error.get("code") or error.get("type") or "")
        )
    return ErrorInfo(message=str(error or data.get("msg") or data.get("message") or ""))
