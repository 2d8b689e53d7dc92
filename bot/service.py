"""The image service: check a request against the model, call its API, make the result postable."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from PIL import Image, UnidentifiedImageError

from bot.attempts import picture_budget
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
from bot.imaging import FittedImage, fit_to_limit_async, run_in_pool, sniff
from bot.inputs import InputLimits, check_declared, load_inputs, prepare
from bot.pricing import Cost, Prices
from bot.providers.base import (
    Action,
    Capabilities,
    GenerateRequest,
    GenerationResult,
    ImageProvider,
    InputImage,
    Kind,
    Progress,
    ProgressCallback,
    TaskProvider,
)
from bot.relays import RelayPool, qualify_task, split_task
from bot.request import Derivation, Exchange, Note, SourceImage
from bot.routing import MAIN_RELAY, ModelRoute
from bot.translate import PromptTranslator

log = logging.getLogger(__name__)

MAX_FILES_PER_MESSAGE = 10
PREVIEW_TIMEOUT = 10.0
MAX_PREVIEW_BYTES = 8 * 1024 * 1024
# What a blend asks for when the member gave no words and the format needs some.
BLEND_INSTRUCTION = (
    "Blend these pictures into one coherent new picture that combines their subjects and styles."
)
# Discord refuses a message request over 25 MiB whatever the per-file limit; keep room for the JSON.
MAX_REQUEST_BYTES = 25 * 1024 * 1024 - 256 * 1024


@dataclass(frozen=True)
class Plan:
    """A request checked against its model and ready to send (plain values: no adapter inside)."""

    request: GenerateRequest
    route: ModelRoute
    notes: tuple[Note, ...] = ()


@dataclass(frozen=True)
class Timing:
    """How long a job on a model may run, and whether its clock restarts while its task moves."""

    seconds: float
    restarts_on_progress: bool = False


@dataclass(frozen=True)
class Lineage:
    """Where a result came from, for the link on its card: how, and the earlier result's message."""

    how: Derivation
    channel_id: int
    message_id: int
    guild_id: int | None = None


@dataclass(frozen=True)
class Delivery:
    images: tuple[FittedImage, ...]
    text: str
    plan: Plan
    seconds: float
    notes: tuple[Note, ...] = ()
    task_id: str | None = None
    actions: tuple[Action, ...] = ()
    # The API's own bytes of each picture, where fitting it for Discord changed them: follow-ups
    # (vary, upscale, edit …) start from these, not from the re-encoded upload.
    originals: tuple[bytes | None, ...] = ()
    lineage: Lineage | None = None
    # The turns an edit of this result sends back (Gemini), oldest first; empty for other formats.
    conversation: tuple[Exchange, ...] = ()
    # What the pictures cost, in the owner's unit; None when no price is known.
    cost: Cost | None = None
    used_prompt: str = ""  # the prompt as the model rewrote it, where it says


class ImageService:
    def __init__(
        self,
        settings: Settings,
        providers: dict[str, ImageProvider],
        directory: ModelDirectory,
        http: HttpClient,
        relays: RelayPool | None = None,
    ) -> None:
        """`providers`: main's adapter of each format; `relays`: every relay's, for fallback."""
        self.settings = settings
        self.translator = PromptTranslator.from_settings(settings, http)
        self.providers = providers
        self.directory = directory
        self.http = http
        self.prices = Prices(settings.prices, settings.currency)
        self.relays = relays or RelayPool(
            {MAIN_RELAY: providers},
            failures=settings.breaker_failures,
            seconds=settings.breaker_seconds,
        )

    def route(self, model: str | None) -> tuple[ModelRoute, ImageProvider]:
        name = (model or self.settings.default_model).strip()
        route = self.directory.route(name)
        if route is None:
            raise UnknownModel(name, model=name, models=self.directory.listing())
        provider = self.providers.get(route.format)
        if provider is None:
            raise FormatNotAvailable(name, model=name, format=route.format)
        return route, provider

    def capabilities(self, model: str | None) -> Capabilities:
        route, provider = self.route(model)
        return provider.capabilities(route.name)

    def timing(self, model: str) -> Timing:
        _, provider = self.route(model)
        seconds = max(self.settings.job_timeout, provider.time_limit or 0.0)
        return Timing(seconds, restarts_on_progress=isinstance(provider, TaskProvider))

    async def preview(self, url: str) -> bytes | None:
        """A running task's preview picture, downloaded (its link may carry the relay's key), or
        None when it cannot be had: a preview is a courtesy."""
        try:
            data = await self.http.download(url, timeout=PREVIEW_TIMEOUT, max_bytes=MAX_PREVIEW_BYTES)
        except BotError as exc:
            log.info("No task preview (%s)", type(exc).__name__)
            return None
        return data if sniff(data) else None

    def estimate(self, plan: Plan) -> float | None:
        """What a planned job should cost, before it runs; None when no price is known."""
        request = plan.request
        count = 1 if request.kind is Kind.ACTION else request.count
        return self.prices.estimate(plan.route.name, count, request.size)

    def converses(self, model: str) -> bool:
        """Whether edits of this model's results send the conversation rather than the picture."""
        _, provider = self.route(model)
        return provider.converses

    def action_derivation(self, model: str, custom_id: str) -> Derivation:
        """What a task API's follow-up action does, in the bot's own words (for the lineage)."""
        _, provider = self.route(model)
        if isinstance(provider, TaskProvider):
            return provider.action_derivation(custom_id)
        return Derivation.EDIT

    def action_needs_prompt(self, model: str, custom_id: str) -> bool:
        """Whether a result's follow-up action asks the member for words before it runs."""
        _, provider = self.route(model)
        return isinstance(provider, TaskProvider) and provider.action_needs_prompt(custom_id)

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
        parent_pictures: int = 0,
    ) -> Plan:
        """Check a request cheaply against its model, before anything is deferred or spent.

        Pictures come either prepared (`images`) or still to be fetched (`sources`, see `load`).
        """
        route, provider = self.route(model)
        caps = provider.capabilities(route.name)
        name = route.name
        prompt = prompt.strip()
        if not prompt and kind is Kind.BLEND:
            # Formats that need words get a plain instruction; others blend from the pictures alone.
            prompt = BLEND_INSTRUCTION if caps.prompt_required_for_blend else ""
        elif not prompt:
            raise EmptyPrompt()
        if len(prompt) > caps.max_prompt_chars:
            raise PromptTooLong(model=name, limit=caps.max_prompt_chars)
        given = len(images) or len(sources) + parent_pictures
        self._check_pictures(kind, name, caps, given, sources)
        if aspect_ratio and aspect_ratio not in caps.aspect_ratios:
            allowed = ", ".join(caps.aspect_ratios)
            raise UnsupportedOption(model=name, option="aspect_ratio", value=aspect_ratio, allowed=allowed)
        if count > caps.max_count:
            allowed = "1" if caps.max_count == 1 else f"1–{caps.max_count}"
            raise UnsupportedOption(
                model=name, option="count", value=str(count), allowed=allowed, limit=caps.max_count
            )
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
            sources=() if images else tuple(sources),
        )
        return Plan(request, route, tuple(notes))

    def plan_request(self, request: GenerateRequest) -> Plan:
        """Plan a member's request once: its model resolved and the request checked against it.

        Cheap (no download, no call), so it runs before the interaction is deferred.
        """
        if request.kind is Kind.ACTION:
            route, _ = self.route(request.model or None)
            return Plan(replace(request, model=route.name), route)
        plan = self.plan(
            request.kind,
            request.prompt,
            model=request.model or None,
            aspect_ratio=request.aspect_ratio,
            size=request.size,
            count=request.count,
            images=request.images,
            sources=request.sources,
            parent_pictures=int(request.parent is not None and request.parent.uses_picture),
        )
        planned = replace(
            plan.request, follow_up=request.follow_up, parent=request.parent, shown=request.shown
        )
        return replace(plan, request=planned)

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

    async def load(self, plan: Plan, pictures: tuple[bytes, ...] = ()) -> tuple[InputImage, ...]:
        """Prepare a planned request's pictures for its model: `pictures` (an earlier result's, kept
        by the bot) first, then the members' pictures, fetched (after the defer: it is slow)."""
        sources = plan.request.sources
        if not sources and not pictures:
            return ()
        caps = self.providers[plan.route.format].capabilities(plan.route.name)
        limits = InputLimits(
            max_side=self.settings.input_max_side,
            max_bytes=min(caps.max_image_bytes, caps.max_request_bytes // (len(sources) + len(pictures))),
        )
        kept = tuple([await run_in_pool(prepare, data, "picture", limits) for data in pictures])
        if not sources:
            return kept
        return kept + await load_inputs(self.http, sources, limits, self.settings.max_input_bytes)

    async def run(
        self, plan: Plan, *, max_file_bytes: int, progress: ProgressCallback | None = None
    ) -> Delivery:
        """Call the API (in parallel when the format makes one picture a call) and fit the results."""
        started = time.monotonic()
        request = plan.request
        if request.kind is Kind.ACTION:
            return await self._act(plan, max_file_bytes, progress)
        provider = self.providers[plan.route.format]
        caps = provider.capabilities(plan.route.name)
        notes = list(plan.notes)
        english = ""
        if caps.english_prompts and self.translator is not None and request.prompt:
            translation = await self.translator.english(request.prompt)
            request, english = replace(request, prompt=translation.prompt), translation.english
            notes.extend([translation.note] if translation.note else [])
        if request.count == 1 or caps.native_count:
            served = [await self._picture(plan.route, request, progress)]
        else:
            single = replace(request, count=1)
            outcomes = await asyncio.gather(
                *(self._picture(plan.route, single, progress) for _ in range(request.count)),
                return_exceptions=True,
            )
            served = [o for o in outcomes if isinstance(o, tuple)]
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            unexpected = [f for f in failures if not isinstance(f, BotError)]
            if unexpected or not served:
                raise (unexpected or failures)[0]
            if failures:
                log.info(
                    "%d of %d parallel calls to %s failed", len(failures), request.count, plan.route.name
                )
                notes.append(Note("note.some_failed", {"failed": len(failures), "count": request.count}))
        results = [result for result, _ in served]
        for relay in dict.fromkeys(relay for _, relay in served):
            if relay != plan.route.relays[0]:
                notes.append(Note("note.served_by_relay", {"relay": relay}))
        delivery = await self._deliver(plan, results, max_file_bytes, started, notes)
        # The card shows the member's words and, beside them, the English the model was given.
        return replace(delivery, used_prompt=english) if english else delivery

    async def _picture(
        self, route: ModelRoute, request: GenerateRequest, progress: ProgressCallback | None
    ) -> tuple[GenerationResult, str]:
        """One call for pictures, within its own MAX_ATTEMPTS budget (each parallel call has one),
        on the first of the model's relays that serves it; the result and that relay's name."""

        async def call(provider: ImageProvider, relay: str) -> GenerationResult:
            return _named(relay, await provider.generate(request, _naming_tasks(relay, progress)))

        with picture_budget(self.settings.max_attempts):
            return await self.relays.serve(route, call)

    async def _act(self, plan: Plan, max_file_bytes: int, progress: ProgressCallback | None) -> Delivery:
        """Run a follow-up action of an earlier task (a button on its result).

        The member's words go to the API only when they wrote some (a custom zoom); without them a
        proxy that asks for confirmation keeps the parent's prompt.
        """
        started = time.monotonic()
        follow_up = plan.request.follow_up
        if follow_up is None:
            raise ValueError("an action request needs its follow-up")
        # The task lives on the relay that ran it: its follow-ups go there, with no fallback.
        relay, task_id = split_task(follow_up.task_id, self.relays.names)
        provider = self._task_provider(plan.route, relay)
        prompt = plan.request.prompt or None
        with picture_budget(self.settings.max_attempts):
            result = await provider.act(task_id, follow_up.custom_id, prompt, _naming_tasks(relay, progress))
        return await self._deliver(plan, [_named(relay, result)], max_file_bytes, started, [])

    async def resume(
        self, plan: Plan, task_id: str, *, max_file_bytes: int, progress: ProgressCallback | None = None
    ) -> Delivery:
        """Follow an already submitted task to its result (after a restart)."""
        started = time.monotonic()
        relay, own_id = split_task(task_id, self.relays.names)
        provider = self._task_provider(plan.route, relay)
        result = await provider.resume(own_id, _naming_tasks(relay, progress))
        return await self._deliver(plan, [_named(relay, result)], max_file_bytes, started, list(plan.notes))

    async def cancel_task(self, model: str, task_id: str) -> None:
        route, provider = self.route(model)
        if isinstance(provider, TaskProvider):
            relay, own_id = split_task(task_id, self.relays.names)
            await self._task_provider(route, relay).cancel(own_id)

    def _task_provider(self, route: ModelRoute, relay: str = MAIN_RELAY) -> TaskProvider:
        provider = self.relays.provider(relay, route.format)
        if not isinstance(provider, TaskProvider):
            raise FormatNotAvailable(route.name, model=route.name, format=route.format)
        return provider

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
        originals: list[bytes | None] = []
        for image in images:
            try:
                fitted.append(await fit_to_limit_async(image.data, per_file))
                originals.append(None if fitted[-1].data is image.data else image.data)
            except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
                # The API sent bytes that look like an image but do not decode.
                log.warning("Unusable image from %s: %s", plan.route.name, exc)
        if not fitted:
            raise UpstreamBadResponse("no decodable image in the answer")
        text = " ".join(r.text for r in results if r.text)
        first = results[0]
        request = plan.request
        native = self.providers[plan.route.format].capabilities(plan.route.name).native_count
        pictures = min(request.count, len(images)) if native else len(results)
        cost = self.prices.cost(plan.route.name, pictures, request.size, [r.usage for r in results])
        return Delivery(
            tuple(fitted),
            text,
            plan,
            time.monotonic() - started,
            tuple(notes),
            task_id=first.task_id,
            actions=first.actions,
            originals=tuple(originals),
            conversation=first.conversation if len(results) == 1 else (),
            cost=cost,
            used_prompt=first.used_prompt,
        )


def _named(relay: str, result: GenerationResult) -> GenerationResult:
    """A result whose task id says which relay runs the task."""
    if result.task_id is None:
        return result
    return replace(result, task_id=qualify_task(relay, result.task_id))


def _naming_tasks(relay: str, progress: ProgressCallback | None) -> ProgressCallback | None:
    """Progress whose task ids say which relay runs the task, for a restart to follow it there."""
    if progress is None or relay == MAIN_RELAY:
        return progress

    async def report(step: Progress) -> None:
        task_id = qualify_task(relay, step.task_id) if step.task_id else None
        await progress(replace(step, task_id=task_id))

    return report
