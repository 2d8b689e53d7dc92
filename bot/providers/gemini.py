"""Gemini `generateContent` for the image models ("nano banana"), direct or through a relay."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from bot.attempts import attempts_left
from bot.errors import (
    ContentBlocked,
    NoImageReturned,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamError,
)
from bot.http import HttpClient, HttpResponse
from bot.imaging import decode_base64, sniff
from bot.pricing import TokenUsage
from bot.providers.base import (
    ALL_RATIOS,
    COMMON_RATIOS,
    Capabilities,
    Endpoint,
    Exchange,
    GeneratedImage,
    GenerateRequest,
    GenerationResult,
    ImageProvider,
    ProgressCallback,
    image_refs_in_text,
)

if TYPE_CHECKING:
    from bot.config import Relay, Settings

log = logging.getLogger(__name__)


class GeminiAuth(StrEnum):
    HEADER = "header"  # x-goog-api-key, what Google's own SDK sends
    QUERY = "query"  # ?key=, what many relay docs show
    BEARER = "bearer"  # Authorization: Bearer, what most relays expect


# A 400 that is about the key, not the request: LiteLLM's /gemini pass-through answers a bearer so
# (`auth_error`, "Authentication Error, LiteLLM Virtual Key expected"), Google an invalid key.
_AUTH_WORDS = re.compile(r"\bkey\b|api[_ -]?key|authenticat|\bauth_error\b|unauthori[sz]ed", re.I)


def refused_the_key(error: UpstreamError) -> bool:
    """Whether a failure may come from sending the key the wrong way (401, 403, a 400 naming it)."""
    if isinstance(error, UpstreamAuthFailed):
        return True
    return error.status == 400 and bool(_AUTH_WORDS.search(str(error)))


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


# What an edit sends back when no history is given to the adapter (the setting's default).
DEFAULT_HISTORY_TURNS = 4
# A 400 that names the thought signatures: the API (or a relay that changed route) refused the history.
_SIGNATURE_ERROR = re.compile(r"thought[ _]?signature", re.I)


def user_parts(request: GenerateRequest) -> list[dict[str, Any]]:
    """The current user turn: the words, then the member's pictures."""
    parts: list[dict[str, Any]] = [{"text": request.prompt}]
    parts += [{"inline_data": {"mime_type": image.mime, "data": image.b64}} for image in request.images]
    return parts


def stateless_parts(request: GenerateRequest) -> list[dict[str, Any]]:
    """An edit without its conversation: the last picture the model made first, as a user picture,
    then the request's own pictures and words (what protocols.md 1.7 advises after a signature 400).
    """
    parts: list[dict[str, Any]] = []
    last = last_picture(request.history[-1].model) if request.history else None
    if last is not None:
        parts.append(last)
    else:
        log.warning("The conversation's last answer holds no picture; editing without it")
    parts += [{"inline_data": {"mime_type": image.mime, "data": image.b64}} for image in request.images]
    parts.append({"text": request.prompt})
    return parts


def last_picture(content: dict[str, Any]) -> dict[str, Any] | None:
    """The model's final picture in an answer as a user part: the last non-thought image part."""
    for part in reversed(content.get("parts") or []):
        if not isinstance(part, dict) or part.get("thought") is True:
            continue
        inline = _get(part, "inlineData", "inline_data")
        if isinstance(inline, dict) and inline.get("data"):
            mime = _get(inline, "mimeType", "mime_type") or "image/png"
            return {"inline_data": {"mime_type": str(mime), "data": str(inline["data"])}}
        file_data = _get(part, "fileData", "file_data")
        if isinstance(file_data, dict) and _get(file_data, "fileUri", "file_uri"):
            uri = str(_get(file_data, "fileUri", "file_uri"))
            mime = _get(file_data, "mimeType", "mime_type") or "image/png"
            return {"file_data": {"mime_type": str(mime), "file_uri": uri}}
    return None


def history_turns(history: Sequence[Exchange]) -> list[dict[str, Any]]:
    """The conversation's contents, oldest first: each user turn, then the model's content unchanged."""
    contents: list[dict[str, Any]] = []
    for exchange in history:
        contents.append({"role": "user", "parts": list(exchange.user)})
        # The content goes back as received (its signatures are checked); some relays drop the role,
        # which a multi-turn request needs, so only then is it put back, leaving the parts as they are.
        model = exchange.model if "role" in exchange.model else {"role": "model", **exchange.model}
        contents.append(model)
    return contents


def fit_history(history: Sequence[Exchange], turns: int, budget: int) -> tuple[Exchange, ...]:
    """The newest exchanges that fit both the turn limit and `budget` bytes of JSON, oldest first.

    The conversation must stay unbroken up to the current turn, so exchanges are dropped from the
    oldest end only: the first one that does not fit ends the history there.
    """
    kept: list[Exchange] = []
    used = 0
    for exchange in reversed(history[-turns:] if turns > 0 else ()):
        if used + exchange.size > budget:
            break
        kept.append(exchange)
        used += exchange.size
    return tuple(reversed(kept))


def json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def build_body(
    request: GenerateRequest,
    caps: Capabilities,
    history: Sequence[Exchange] = (),
    parts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The generateContent body: `history`'s turns (none: a one-turn request), then the user turn
    (`parts`, by default the request's words and pictures)."""
    parts = user_parts(request) if parts is None else parts
    image_config: dict[str, str] = {}
    if request.aspect_ratio:
        image_config["aspectRatio"] = request.aspect_ratio
    if request.size and request.size in caps.sizes:
        image_config["imageSize"] = request.size
    config: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    if image_config:
        config["imageConfig"] = image_config
    contents = [*history_turns(history), {"role": "user", "parts": parts}]
    return {"contents": contents, "generationConfig": config}


def request_budget(caps: Capabilities) -> int:
    """The request's byte budget in JSON bytes: `max_request_bytes` counts raw bytes, base64 adds 4/3."""
    return caps.max_request_bytes * 4 // 3


def is_signature_error(error: UpstreamError) -> bool:
    return error.status == 400 and bool(_SIGNATURE_ERROR.search(str(error)))


def model_content(data: Any) -> dict[str, Any] | None:
    """The first candidate's `content`, the object a next turn sends back unchanged."""
    candidates = data.get("candidates") if isinstance(data, dict) else None
    for candidate in candidates if isinstance(candidates, list) else []:
        content = candidate.get("content") if isinstance(candidate, dict) else None
        if isinstance(content, dict):
            return content
    return None


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


def token_usage(data: Any) -> TokenUsage | None:
    """`usageMetadata`'s counts: the prompt by modality, and the output with the thinking, which
    is billed as output."""
    usage = _get(data, "usageMetadata", "usage_metadata")
    output = _get(usage, "candidatesTokenCount", "candidates_token_count")
    if not isinstance(output, int):
        return None
    thoughts = _get(usage, "thoughtsTokenCount", "thoughts_token_count")
    prompt = _get(usage, "promptTokenCount", "prompt_token_count")
    image = 0
    for detail in _get(usage, "promptTokensDetails", "prompt_tokens_details") or []:
        if isinstance(detail, dict) and detail.get("modality") == "IMAGE":
            image += int(_get(detail, "tokenCount", "token_count") or 0)
    text = (prompt if isinstance(prompt, int) else 0) - image
    return TokenUsage(max(0, text), image, output + (thoughts if isinstance(thoughts, int) else 0))


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
    converses = True

    def __init__(
        self,
        http: HttpClient,
        endpoint: Endpoint,
        auth: GeminiAuth,
        history_turns: int = DEFAULT_HISTORY_TURNS,
        *,
        auth_explicit: bool = True,
    ) -> None:
        super().__init__(http, endpoint)
        # How the key is sent. When the owner did not choose (`auth_explicit` False) and the relay
        # refuses it, the other ways are tried once each and the one it takes is kept for the run.
        self.auth = auth
        self.auth_explicit = auth_explicit
        self._probe_lock = asyncio.Lock()
        self._refused: set[GeminiAuth] = set()  # the ways the relay refused the key, this run
        self._refusal: UpstreamError | None = None  # the last refusal, raised when no way is left
        self.history_turns = history_turns  # EDIT_HISTORY_TURNS; 0: every edit is stateless

    @classmethod
    def from_settings(cls, settings: Settings, http: HttpClient, relay: Relay | None = None) -> Self:
        relay = relay or settings.relays[0]
        return cls(
            http,
            cls.endpoint_from(settings, relay),
            relay.gemini_auth,
            settings.edit_history_turns,
            auth_explicit=settings.gemini_auth_explicit,
        )

    @classmethod
    def draws(cls, name: str) -> bool:
        # Relays list every Gemini text model too; only the image ones draw.
        lowered = name.lower()
        return "image" in lowered or lowered.startswith("nano-banana")

    def capabilities(self, model: str) -> Capabilities:
        return capabilities(model)

    def url_and_headers(self, model: str, auth: GeminiAuth | None = None) -> tuple[str, dict[str, str]]:
        auth = self.auth if auth is None else auth
        url = f"{self.endpoint.base_url}/v1beta/models/{quote(model, safe='')}:generateContent"
        headers = {"Content-Type": "application/json"}
        key = self.endpoint.api_key
        if auth is GeminiAuth.HEADER:
            headers["x-goog-api-key"] = key
        elif auth is GeminiAuth.BEARER:
            headers["Authorization"] = f"Bearer {key}"
        else:
            url += f"?key={quote(key, safe='')}"
        return url, headers

    async def post(self, model: str, body: dict[str, Any]) -> HttpResponse:
        """One generateContent call (the HTTP layer's retries inside). When the owner left
        GEMINI_AUTH unset and the relay refuses the key, the ways not yet refused are tried, within
        the picture's calls."""
        auth = self.auth
        if self.auth_explicit or auth not in self._refused or self._refused_all():
            try:
                return await self._send(model, body, auth)
            except UpstreamError as exc:
                if self.auth_explicit or self._refused_all() or not refused_the_key(exc):
                    raise
                self._refuse(auth, exc)
        return await self._probe(model, body)

    async def _send(self, model: str, body: dict[str, Any], auth: GeminiAuth) -> HttpResponse:
        url, headers = self.url_and_headers(model, auth)
        return await self.http.request(
            "POST", url, headers=headers, json_body=body, timeout=self.endpoint.timeout, makes_picture=True
        )

    async def _probe(self, model: str, body: dict[str, Any]) -> HttpResponse:
        """Try each way not refused yet, once; keep the first the relay takes for the rest of the run.

        One picture probes at a time: a parallel one waits, then uses what was learned. A picture
        whose calls run out leaves the rest of the probe to a later one.
        """
        async with self._probe_lock:
            order = [self.auth, *(a for a in GeminiAuth if a is not self.auth)]
            already = self._refused_all()
            for auth in (a for a in order if a not in self._refused):
                if attempts_left() == 0:
                    break
                try:
                    response = await self._send(model, body, auth)
                except UpstreamError as exc:
                    if refused_the_key(exc):
                        self._refuse(auth, exc)
                        continue
                    self._learn(auth)  # the key got past the door; this failure is another one
                    raise
                self._learn(auth)
                return response
            if self._refused_all() and not already:
                log.warning(
                    "The relay refused the Gemini key sent as header, query and bearer alike: check "
                    "API_KEY (GEMINI_AUTH stays %s)",
                    self.auth,
                )
            assert self._refusal is not None
            raise copy.copy(self._refusal)  # a picture of its own may raise it too

    def _refuse(self, auth: GeminiAuth, error: UpstreamError) -> None:
        self._refused.add(auth)
        self._refusal = error

    def _refused_all(self) -> bool:
        return len(self._refused) == len(GeminiAuth)

    def _learn(self, auth: GeminiAuth) -> None:
        if auth is self.auth:
            return
        self.auth = auth
        self._refused.clear()
        log.warning(
            "The relay accepted the Gemini key as %s: set GEMINI_AUTH=%s to skip this probe", auth, auth
        )

    def plan_turn(self, request: GenerateRequest) -> tuple[tuple[Exchange, ...], list[dict[str, Any]]]:
        """The history to send and the current user parts.

        With no history the request is one turn, as for any new picture. With history, the newest
        exchanges that fit EDIT_HISTORY_TURNS and the byte budget, after the current request's own
        pictures; when none fits (or the setting is 0) the edit goes stateless, with the last picture.
        """
        parts = user_parts(request)
        if not request.history:
            return (), parts
        caps = self.capabilities(request.model)
        room = request_budget(caps) - json_size(build_body(request, caps, (), parts))
        history = fit_history(request.history, self.history_turns, room)
        if len(history) < len(request.history):
            log.info(
                "Sending %d of %d earlier exchanges to %s (EDIT_HISTORY_TURNS=%d, request size limit)",
                len(history),
                len(request.history),
                request.model,
                self.history_turns,
            )
        if not history:
            return (), stateless_parts(request)
        return history, parts

    async def generate(
        self, request: GenerateRequest, progress: ProgressCallback | None = None
    ) -> GenerationResult:
        history, parts = self.plan_turn(request)
        try:
            return replace(await self.converse(request, history, parts), history=history)
        except UpstreamError as exc:
            if not history or not is_signature_error(exc) or attempts_left() == 0:
                raise
            # The signatures no longer hold (a relay changed route, key or model): protocols.md 1.7
            # says resend once without the history, the last picture inline. A second refusal stands.
            log.info(
                "%s refused the conversation's thought signatures; sending a stateless edit instead",
                request.model,
            )
            return await self.converse(request, (), stateless_parts(request))

    async def converse(
        self, request: GenerateRequest, history: tuple[Exchange, ...], parts: list[dict[str, Any]]
    ) -> GenerationResult:
        """One turn: send it (once more on a transient no-image answer) and read the picture."""
        body = build_body(request, self.capabilities(request.model), history, parts)
        for attempt in (1, 2):
            response = await self.post(request.model, body)
            data = response.json()
            answer = parse_answer(data)
            images = answer.images or await self.fetch_images(answer.urls)
            if images:
                content = model_content(data)
                exchange = Exchange(tuple(parts), content) if content is not None else None
                # Model text is shown to members; relays have been seen to echo keys into it.
                text = _trim(self.http.redact(answer.said), 1000)
                return GenerationResult(tuple(images), text, exchange=exchange, usage=token_usage(data))
            try:
                judge(answer, self.http.redact)
            except NoImageReturned as exc:
                if attempt == 1 and str(exc) in _RETRY_ONCE and attempts_left() != 0:
                    log.info("No image from %s (%s); trying once more", request.model, exc)
                    continue
                raise
        raise AssertionError("unreachable: the second attempt returns or raises")
