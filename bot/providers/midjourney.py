"""Midjourney-proxy task API (novicezk, trueai-org and new-api relays): submit, poll, act."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any, Self

from bot.attempts import attempts_left
from bot.errors import (
    ContentBlocked,
    TaskExpired,
    TaskFailed,
    UpstreamBadResponse,
    UpstreamError,
    UpstreamModelNotFound,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
)
from bot.http import HttpClient
from bot.providers.base import (
    ALL_RATIOS,
    Action,
    Capabilities,
    Endpoint,
    GenerateRequest,
    GenerationResult,
    Kind,
    Progress,
    ProgressCallback,
    TaskProvider,
)
from bot.request import Derivation

if TYPE_CHECKING:
    from bot.config import Relay, Settings

log = logging.getLogger(__name__)

TERMINAL = {"SUCCESS", "FAILURE", "CANCEL"}
# trueai serialises its status enum as integers when its JSON converter is off.
_STATUS_NUMBERS = {
    0: "NOT_START",
    1: "SUBMITTED",
    3: "IN_PROGRESS",
    4: "FAILURE",
    5: "SUCCESS",
    6: "MODAL",
    7: "CANCEL",
}
# Buttons members can use from Discord. Vary (Region) needs a mask drawn on the picture and the
# video and bookmark buttons make nothing to post, so they are not offered.
_OFFERED = re.compile(
    r"^MJ::(JOB::(upsample|variation|reroll|high_variation|low_variation|pan_)|Outpaint::|CustomZoom::)"
)
_NEEDS_PROMPT = re.compile(r"^MJ::CustomZoom::")
_DERIVATIONS = (
    (re.compile(r"^MJ::JOB::upsample"), Derivation.PICK),
    (re.compile(r"^MJ::JOB::(variation|low_variation)"), Derivation.VARY),
    (re.compile(r"^MJ::JOB::high_variation"), Derivation.VARY_STRONG),
    (re.compile(r"^MJ::JOB::reroll"), Derivation.REROLL),
    (re.compile(r"^MJ::(Outpaint::|CustomZoom::|JOB::pan_)"), Derivation.ZOOM),
)
_EMPTY_FETCHES_ALLOWED = 5
_QUEUE_FULL_RETRIES = 2


def capabilities(model: str) -> Capabilities:
    # Midjourney takes any --ar; it always answers with one 2x2 grid.
    return Capabilities(
        ALL_RATIOS,
        (),
        max_input_images=5,
        max_prompt_chars=6000,
        max_count=1,
        blend_images=(2, 5),
        prompt_required_for_blend=False,
        grid=True,
        english_prompts=True,
    )


def bot_type(model: str) -> str:
    return "NIJI_JOURNEY" if "niji" in model.lower() else "MID_JOURNEY"


def blend_dimensions(ratio: str | None) -> str:
    if not ratio:
        return "SQUARE"
    w, h = (int(x) for x in ratio.split(":"))
    return "SQUARE" if w == h else ("LANDSCAPE" if w > h else "PORTRAIT")


def imagine_prompt(request: GenerateRequest) -> str:
    prompt = request.prompt
    # Discord on phones turns "--" into an em dash; Midjourney reads both.
    if request.aspect_ratio and not re.search(r"(--|—)(ar|aspect)\b", prompt):
        prompt = f"{prompt} --ar {request.aspect_ratio}"
    return prompt


# Proxies name the word as "Banned prompt: word" or "[Banned prompt] The word `word` is banned …".
_QUOTED_WORD = re.compile(r"\bword\s+[`'\"“]([^`'\"”]{1,60})[`'\"”]", re.I)
_AFTER_LABEL = re.compile(r"banned prompt(?: detected)?\s*:\s*([^\s,.;]{1,60})", re.I)


def banned_word(reason: str) -> str:
    """The word a failed task's reason says Midjourney refused, or "" when it names none."""
    found = _QUOTED_WORD.search(reason) or _AFTER_LABEL.search(reason)
    return found.group(1).strip() if found else ""


def needs_prompt(custom_id: str) -> bool:
    return bool(_NEEDS_PROMPT.match(custom_id))


def offered_actions(task: dict[str, Any]) -> tuple[Action, ...]:
    actions = []
    for button in task.get("buttons") or []:
        custom_id = str((button or {}).get("customId") or "")
        if _OFFERED.match(custom_id):
            actions.append(Action(str(button.get("label") or ""), str(button.get("emoji") or ""), custom_id))
    return tuple(actions)


def task_status(task: dict[str, Any]) -> str:
    status = task.get("status")
    if isinstance(status, str) and status.strip().isdigit():
        status = int(status)
    if isinstance(status, int):
        return _STATUS_NUMBERS.get(status, "UNKNOWN")
    return str(status or "").upper()


def task_percent(task: dict[str, Any]) -> int | None:
    match = re.search(r"(\d+)\s*%", str(task.get("progress") or ""))
    return int(match.group(1)) if match else None


def task_image_url(task: dict[str, Any]) -> str | None:
    if task.get("imageUrl"):
        return str(task["imageUrl"])
    urls = task.get("imageUrls") or []
    if urls and isinstance(urls[0], dict) and urls[0].get("url"):
        return str(urls[0]["url"])
    return None


class MidjourneyProvider(TaskProvider):
    name = "midjourney"
    settings_prefix = "MJ"
    model_names = re.compile(r"^(midjourney|mj|niji)")

    def __init__(
        self,
        http: HttpClient,
        endpoint: Endpoint,
        *,
        poll_interval: float = 3.0,
        time_limit: float | None = None,
    ) -> None:
        # No timeout of its own: the job engine times tasks and restarts the clock while they move.
        super().__init__(http, endpoint)
        self.poll_interval = poll_interval
        self.time_limit = time_limit

    @classmethod
    def from_settings(cls, settings: Settings, http: HttpClient, relay: Relay | None = None) -> Self:
        return cls(
            http,
            cls.endpoint_from(settings, relay),
            poll_interval=settings.mj_poll_seconds,
            time_limit=settings.mj_timeout,
        )

    @classmethod
    def draws(cls, name: str) -> bool:
        # new-api lists one billing name per Midjourney action (mj_imagine, mj_upscale, …); only the
        # model itself makes pictures from a prompt.
        return not re.match(r"mj_", name.lower())

    def action_derivation(self, custom_id: str) -> Derivation:
        for pattern, how in _DERIVATIONS:
            if pattern.match(custom_id):
                return how
        return Derivation.EDIT

    def action_needs_prompt(self, custom_id: str) -> bool:
        return needs_prompt(custom_id)

    def capabilities(self, model: str) -> Capabilities:
        return capabilities(model)

    def _headers(self) -> dict[str, str]:
        # Relays read Authorization; self-hosted proxies read mj-api-secret. Both carry the same key.
        key = self.endpoint.api_key
        return {"Authorization": f"Bearer {key}", "mj-api-secret": key}

    async def generate(
        self, request: GenerateRequest, progress: ProgressCallback | None = None
    ) -> GenerationResult:
        images = [image.data_url() for image in request.images]
        if request.kind is Kind.BLEND:
            path = "/mj/submit/blend"
            body: dict[str, Any] = {
                "base64Array": images,
                "dimensions": blend_dimensions(request.aspect_ratio),
                "botType": bot_type(request.model),
            }
        else:
            path = "/mj/submit/imagine"
            body = {
                "prompt": imagine_prompt(request),
                "base64Array": images,
                "botType": bot_type(request.model),
            }
        task_id, _ = await self._submit(path, body)
        return await self.resume(task_id, progress)

    async def resume(self, task_id: str, progress: ProgressCallback | None = None) -> GenerationResult:
        """Follow a submitted task to its end (also after a restart, from its id alone)."""
        if progress is not None:
            await progress(Progress("SUBMITTED", task_id=task_id))
        return await self._finish(task_id, progress)

    async def cancel(self, task_id: str) -> None:
        """Ask the proxy to drop a task; only some proxies can (trueai), so failure is quiet."""
        try:
            await self.http.request(
                "POST",
                f"{self.endpoint.base_url}/mj/task/{task_id}/cancel",
                headers=self._headers(),
                json_body={},
                timeout=min(self.endpoint.timeout, 10.0),
            )
        except UpstreamError as exc:
            log.info("The proxy did not cancel task %s (%s)", task_id, type(exc).__name__)

    async def act(
        self,
        task_id: str,
        custom_id: str,
        prompt: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        """Press one of a finished task's buttons; a new task makes the new picture."""
        new_id, answer = await self._submit("/mj/submit/action", {"taskId": task_id, "customId": custom_id})
        properties = answer.get("properties") or {}
        wants_modal = (
            str(answer.get("code")) == "21"
            and (properties.get("remix") or "confirm" in str(answer.get("description", "")).lower())
        ) or needs_prompt(custom_id)
        if not wants_modal:
            task = await self._fetch(new_id)
            wants_modal = task is not None and task_status(task) == "MODAL"
        if wants_modal:
            new_id, _ = await self._submit("/mj/submit/modal", {"taskId": new_id, "prompt": prompt or ""})
        return await self.resume(new_id, progress)

    async def _submit(self, path: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        for attempt in range(_QUEUE_FULL_RETRIES + 1):
            answer = await self._post(path, body)
            code = str(answer.get("code", ""))
            if code in ("1", "21", "22") and answer.get("result") not in (None, ""):
                return str(answer["result"]), answer
            description = str(answer.get("description") or "")
            if code == "23":
                if attempt < _QUEUE_FULL_RETRIES and attempts_left() != 0:
                    log.info("Midjourney queue is full; waiting before submitting again")
                    await asyncio.sleep(self.poll_interval * (attempt + 2))
                    continue
                raise UpstreamRateLimited(f"queue full: {description}")
            if code == "24":
                word = str((answer.get("properties") or {}).get("bannedWord") or "")
                kind = "block.banned_word" if word else "block.policy"
                raise ContentBlocked(f"banned prompt: {description}", reason_key=kind, word=word)
            if code == "3":
                raise TaskExpired(f"submit code 3: {description}")
            raise UpstreamRejectedRequest(f"submit code {code}: {description}")
        raise AssertionError("unreachable: the loop returns or raises")

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self.http.request(
                "POST",
                f"{self.endpoint.base_url}{path}",
                headers=self._headers(),
                json_body=body,
                timeout=self.endpoint.timeout,
                makes_picture=True,  # every submit starts a task that can be billed
            )
        except UpstreamModelNotFound:
            # The submit paths exist on every proxy; a 404 there means the parent task is gone.
            raise TaskExpired("parent task not found") from None
        answer = response.json()
        if not isinstance(answer, dict):
            raise UpstreamBadResponse("submit answer is not a JSON object")
        return answer

    async def _fetch(self, task_id: str) -> dict[str, Any] | None:
        response = await self.http.request(
            "GET",
            f"{self.endpoint.base_url}/mj/task/{task_id}/fetch",
            headers=self._headers(),
            timeout=self.endpoint.timeout,
        )
        # An unknown (or not yet visible) task is a 200 with an empty or null body.
        if not response.body.strip():
            return None
        task = response.json()
        return task if isinstance(task, dict) and task else None

    async def _finish(self, task_id: str, progress: ProgressCallback | None) -> GenerationResult:
        task = await self._poll(task_id, progress)
        url = task_image_url(task)
        images = await self.fetch_images([url]) if url else []
        if not images:
            raise UpstreamBadResponse("finished task has no image")
        return GenerationResult(tuple(images), task_id=task_id, actions=offered_actions(task))

    async def _poll(self, task_id: str, progress: ProgressCallback | None) -> dict[str, Any]:
        """Poll until the task ends, reporting each change of status or percentage."""
        empty = 0
        last_seen: tuple[str, int | None] | None = None
        while True:
            try:
                task = await self._fetch(task_id)
            except UpstreamError as exc:
                if not exc.retryable:
                    raise
                task = None  # the HTTP layer already retried; try again on the next round
            if task is None:
                empty += 1
                if empty > _EMPTY_FETCHES_ALLOWED:
                    raise UpstreamBadResponse(f"task {task_id} is unknown to the proxy")
            else:
                status, percent = task_status(task), task_percent(task)
                if status == "SUCCESS":
                    return task
                if status == "FAILURE":
                    reason = str(task.get("failReason") or "")
                    if re.search(r"banned|sensitive|敏感|违规|moderat", reason, re.I):
                        word = banned_word(reason)
                        if word:
                            raise ContentBlocked(reason, reason_key="block.banned_word", word=word)
                        raise ContentBlocked(reason, reason_key="block.policy")
                    shown = self.http.redact(" ".join(reason.split()))
                    raise TaskFailed(shown, reason=shown[:300])
                if status == "CANCEL":
                    raise TaskFailed("cancelled", reason="cancelled")
                if (status, percent) != last_seen:
                    last_seen = (status, percent)
                    if progress is not None:
                        await progress(Progress(status, percent, task_image_url(task), task_id))
            await asyncio.sleep(self.poll_interval)
