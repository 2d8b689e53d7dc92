"""The image service: check a request against the model, call its API, make the result postable."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from PIL import Image, UnidentifiedImageError

from bot.config import Settings
from bot.directory import ModelDirectory
from bot.errors import (
    BlendImageCount,
    BotError,
    EmptyPrompt,
    FormatNotAvailable,
    ImagesNotAccepted,
    PromptTooLong,
    TooManyImages,
    UnknownModel,
    UnsupportedOption,
    UpstreamBadResponse,
)
from bot.http import HttpClient
from bot.imaging import FittedImage, fit_to_limit_async
from bot.inputs import InputLimits, SourceImage, check_declared, load_inputs
from bot.providers.base import (
    Action,
    Capabilities,
    GenerateRequest,
    GenerationResult,
    ImageProvider,
    InputImage,
    Kind,
    ProgressCallback,
)
from bot.providers.midjourney import MidjourneyProvider
from bot.routing import ApiFormat, ModelRoute

log = logging.getLogger(__name__)

MAX_FILES_PER_MESSAGE = 10
# What a blend asks for when the member gave no words and the format needs some.
BLEND_INSTRUCTION = (
    "Blend these pictures into one coherent new picture that combines their subjects and styles."
)
# Discord refuses a message request over 25 MiB whatever the per-file limit; keep room for the JSON.
MAX_REQUEST_BYTES = 25 * 1024 * 1024 - 256 * 1024


@dataclass(frozen=True)
class Note:
    """A remark for the member about how their request was taken (a catalog key and its values)."""

    key: str
    params: dict[str, str | int] = field(default_factory=dict)  # counts stay numbers for plural forms


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
    notes: tuple[Note, ...] = ()
    task_id: str | None = None
    actions: tuple[Action, ...] = ()


class ImageService:
    def __init__(
        self,
        settings: Settings,
        providers: dict[ApiFormat, ImageProvider],
        directory: ModelDirectory,
        http: HttpClient,
    ) -> None:
        self.settings = settings
        self.providers = providers
        self.directory = directory
        self.http = http

    def route(self, model: str | None) -> tuple[ModelRoute, ImageProvider]:
        name = (model or self.settings.default_model).strip()
        route = self.directory.route(name)
        if route is None:
            known = ", ".join(r.name for r in self.directory.configured())
            raise UnknownModel(name, model=name, models=known)
        provider = self.providers.get(route.format)
        if provider is None:
            raise FormatNotAvailable(name, model=name, format=route.format.value)
        return route, provider

    def capabilities(self, model: str | None) -> Capabilities:
        route, provider = self.route(model)
        return provider.capabilities(route.name)

    def plan(
        self,
        kind: Kind,
        prompt: str,
        *,
        model: str | None = None,
        aspect_ratio: str | None = None,
        size: str | None = None,
        count: int = 1,
        images: tuple[InputImage, ...] = (),
        sources: Sequence[SourceImage] = (),
    ) -> Plan:
        """Check a request cheaply against its model, before anything is deferred or spent.

        Pictures come either prepared (`images`) or still to be fetched (`sources`, see `load`).
        """
        route, provider = self.route(model)
        caps = provider.capabilities(route.name)
        name = route.name
        prompt = prompt.strip()
        if not prompt and kind is Kind.BLEND:
            # Formats that need words get a plain instruction; Midjourney's blend takes none.
            prompt = BLEND_INSTRUCTION if caps.prompt_required_for_blend else ""
        elif not prompt:
            raise EmptyPrompt()
        if len(prompt) > caps.max_prompt_chars:
            raise PromptTooLong(model=name, limit=caps.max_prompt_chars)
        self._check_pictures(kind, name, caps, len(images) or len(sources), sources)
        if aspect_ratio and aspect_ratio not in caps.aspect_ratios:
            allowed = ", ".join(caps.aspect_ratios)
            raise UnsupportedOption(model=name, option="aspect_ratio", value=aspect_ratio, allowed=allowed)
        if count > caps.max_count:
            allowed = "1" if caps.max_count == 1 else f"1–{caps.max_count}"
            raise UnsupportedOption(model=name, option="count", value=str(count), allowed=allowed)
        notes: list[Note] = []
        if size and size not in caps.sizes:
            if caps.sizes:
                allowed = ", ".join(caps.sizes)
                raise UnsupportedOption(model=name, option="size", value=size, allowed=allowed)
            notes.append(Note("note.size_ignored", {"model": name, "size": size}))
            size = None
        if size in ("2K", "4K") and caps.size_is_quality:
            notes.append(Note("note.size_as_quality", {"model": name, "size": size}))
        if aspect_ratio and caps.ratio_by_prompt:
            notes.append(Note("note.ratio_in_prompt", {"model": name, "ratio": aspect_ratio}))
        if aspect_ratio and caps.exact_ratios and aspect_ratio not in caps.exact_ratios:
            notes.append(Note("note.ratio_nearest", {"model": name, "ratio": aspect_ratio}))
        request = GenerateRequest(
            prompt=prompt,
            model=name,
            aspect_ratio=aspect_ratio,
            size=size,
            images=images,
            count=count,
            kind=kind,
        )
        return Plan(request, route, provider, tuple(notes))

    def check_pictures(self, kind: Kind, model: str | None, sources: Sequence[SourceImage]) -> None:
        """Whether the model takes these pictures for this kind of request (count, declared type, size)."""
        route, provider = self.route(model)
        self._check_pictures(kind, route.name, provider.capabilities(route.name), len(sources), sources)

    def _check_pictures(
        self, kind: Kind, name: str, caps: Capabilities, given: int, sources: Sequence[SourceImage]
    ) -> None:
        if given and not caps.max_input_images:
            raise ImagesNotAccepted(model=name)
        low, high = caps.blend_images
        if kind is Kind.BLEND and not low <= given <= high:
            raise BlendImageCount(model=name, low=low, high=high, given=given)
        if given > caps.max_input_images:
            raise TooManyImages(model=name, limit=caps.max_input_images, given=given)
        for source in sources:
            check_declared(source, self.settings.max_input_bytes)

    async def load(self, plan: Plan, sources: Sequence[SourceImage]) -> Plan:
        """Fetch and prepare a planned request's pictures for its model (after the defer: it is slow)."""
        if not sources:
            return plan
        caps = plan.provider.capabilities(plan.route.name)
        limits = InputLimits(
            max_side=self.settings.input_max_side,
            max_bytes=min(caps.max_image_bytes, caps.max_request_bytes // len(sources)),
        )
        images = await load_inputs(self.http, sources, limits, self.settings.max_input_bytes)
        return replace(plan, request=replace(plan.request, images=images))

    async def run(
        self, plan: Plan, *, max_file_bytes: int, progress: ProgressCallback | None = None
    ) -> Delivery:
        """Call the API (in parallel when the format makes one picture a call) and fit the results."""
        started = time.monotonic()
        request = plan.request
        caps = plan.provider.capabilities(plan.route.name)
        notes = list(plan.notes)
        if request.count == 1 or caps.native_count:
            results = [await plan.provider.generate(request, progress)]
        else:
            single = replace(request, count=1)
            outcomes = await asyncio.gather(
                *(plan.provider.generate(single, progress) for _ in range(request.count)),
                return_exceptions=True,
            )
            results = [o for o in outcomes if isinstance(o, GenerationResult)]
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            unexpected = [f for f in failures if not isinstance(f, BotError)]
            if unexpected or not results:
                raise (unexpected or failures)[0]
            if failures:
                log.info(
                    "%d of %d parallel calls to %s failed", len(failures), request.count, plan.route.name
                )
                notes.append(Note("note.some_failed", {"failed": len(failures), "count": request.count}))
        return await self._deliver(plan, results, max_file_bytes, started, notes)

    async def run_action(
        self,
        model: str,
        task_id: str,
        custom_id: str,
        *,
        prompt: str | None,
        caption: str,
        max_file_bytes: int,
        progress: ProgressCallback | None = None,
    ) -> Delivery:
        """Press a follow-up button of an earlier task (Midjourney U1, V2, 🔄 …).

        `prompt` goes to the API only when the member wrote one (Custom Zoom); without it a proxy
        that asks for confirmation keeps the parent's prompt. `caption` is what the result shows.
        """
        started = time.monotonic()
        plan = self.action_plan(model, prompt or caption)
        provider = self._task_provider(plan)
        result = await provider.act(task_id, custom_id, prompt, progress)
        return await self._deliver(plan, [result], max_file_bytes, started, [])

    def action_plan(self, model: str, caption: str) -> Plan:
        route, provider = self.route(model)
        return Plan(GenerateRequest(prompt=caption, model=route.name), route, provider)

    async def resume(
        self, plan: Plan, task_id: str, *, max_file_bytes: int, progress: ProgressCallback | None = None
    ) -> Delivery:
        """Follow an already submitted task to its result (after a restart)."""
        started = time.monotonic()
        result = await self._task_provider(plan).resume(task_id, progress)
        return await self._deliver(plan, [result], max_file_bytes, started, list(plan.notes))

    async def cancel_task(self, model: str, task_id: str) -> None:
        _, provider = self.route(model)
        if isinstance(provider, MidjourneyProvider):
            await provider.cancel(task_id)

    @staticmethod
    def _task_provider(plan: Plan) -> MidjourneyProvider:
        if not isinstance(plan.provider, MidjourneyProvider):
            raise FormatNotAvailable(plan.route.name, model=plan.route.name, format=plan.route.format.value)
        return plan.provider

    async def _deliver(
        self,
        plan: Plan,
        results: list[GenerationResult],
        max_file_bytes: int,
        started: float,
        notes: list[Note],
    ) -> Delivery:
        images = [image for result in results for image in result.images][:MAX_FILES_PER_MESSAGE]
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
        text = " ".join(r.text for r in results if r.text)
        first = results[0]
        return Delivery(
            tuple(fitted),
            text,
            plan,
            time.monotonic() - started,
            tuple(notes),
            task_id=first.task_id,
            actions=first.actions,
        )
