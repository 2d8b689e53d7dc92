"""The image service: check a request against the model, call its API, make the result postable."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from PIL import Image, UnidentifiedImageError

from bot.config import Settings
from bot.errors import (
    EmptyPrompt,
    FormatNotAvailable,
    PromptTooLong,
    UnknownModel,
    UnsupportedOption,
    UpstreamBadResponse,
)
from bot.imaging import FittedImage, fit_to_limit_async
from bot.providers.base import Capabilities, GenerateRequest, ImageProvider
from bot.routing import ApiFormat, ModelRoute

log = logging.getLogger(__name__)

MAX_FILES_PER_MESSAGE = 10
# Discord refuses a message request over 25 MiB whatever the per-file limit; keep room for the JSON.
MAX_REQUEST_BYTES = 25 * 1024 * 1024 - 256 * 1024


@dataclass(frozen=True)
class Note:
    """A remark for the member about how their request was taken (a catalog key and its values)."""

    key: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """A request checked against its model and ready to send."""

    request: GenerateRequest
    route: ModelRoute
    provider: ImageProvider
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Delivery:
    images: tuple[FittedImage, ...]
    text: str
    plan: Plan
    seconds: float


class ImageService:
    def __init__(self, settings: Settings, providers: dict[ApiFormat, ImageProvider]) -> None:
        self.settings = settings
        self.providers = providers

    def model_names(self) -> list[str]:
        return [route.name for route in self.settings.models]

    def route(self, model: str | None) -> tuple[ModelRoute, ImageProvider]:
        name = (model or self.settings.default_model).strip()
        route = self.settings.route(name)
        if route is None:
            raise UnknownModel(name, model=name, models=", ".join(self.model_names()))
        provider = self.providers.get(route.format)
        if provider is None:
            raise FormatNotAvailable(name, model=name, format=route.format.value)
        return route, provider

    def capabilities(self, model: str | None) -> Capabilities:
        route, provider = self.route(model)
        return provider.capabilities(route.name)

    def plan_imagine(
        self, prompt: str, model: str | None, aspect_ratio: str | None, size: str | None
    ) -> Plan:
        """Check a text-to-image request cheaply, before anything is deferred or spent."""
        route, provider = self.route(model)
        caps = provider.capabilities(route.name)
        prompt = prompt.strip()
        if not prompt:
            raise EmptyPrompt()
        if len(prompt) > caps.max_prompt_chars:
            raise PromptTooLong(model=route.name, limit=str(caps.max_prompt_chars))
        if aspect_ratio and aspect_ratio not in caps.aspect_ratios:
            raise UnsupportedOption(
                model=route.name,
                option="aspect_ratio",
                value=aspect_ratio,
                allowed=", ".join(caps.aspect_ratios),
            )
        notes: list[Note] = []
        if size and size not in caps.sizes:
            if not caps.sizes:
                notes.append(Note("note.size_ignored", {"model": route.name, "size": size}))
                size = None
            else:
                raise UnsupportedOption(
                    model=route.name, option="size", value=size, allowed=", ".join(caps.sizes)
                )
        request = GenerateRequest(prompt=prompt, model=route.name, aspect_ratio=aspect_ratio, size=size)
        return Plan(request, route, provider, tuple(notes))

    async def run(self, plan: Plan, *, max_file_bytes: int) -> Delivery:
        """Call the API and fit every picture under the upload limits of one Discord message."""
        started = time.monotonic()
        result = await plan.provider.generate(plan.request)
        images = result.images[:MAX_FILES_PER_MESSAGE]
        per_file = min(max_file_bytes, MAX_REQUEST_BYTES // max(1, len(images)))
        fitted: list[FittedImage] = []
        for image in images:
            try:
                fitted.append(await fit_to_limit_async(image.data, per_file))
            except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
                # The API sent bytes that look like an image but do not decode.
                log.warning("Unusable image from %s: %s", plan.route.name, exc)
        if not fitted:
            raise UpstreamBadResponse("no decodable image in the answer")
        return Delivery(tuple(fitted), result.text, plan, time.monotonic() - started)
