"""What every API adapter takes and gives: plain values, no Discord objects."""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Self

from bot.errors import ResultDownloadFailed, UpstreamError
from bot.http import HttpClient
from bot.imaging import decode_base64, sniff
from bot.pricing import TokenUsage
from bot.request import Derivation

# The adapters' request, re-exported from its one home.
from bot.request import Exchange as Exchange
from bot.request import GenerateRequest as GenerateRequest
from bot.request import InputImage as InputImage
from bot.request import Kind as Kind

if TYPE_CHECKING:
    # Only for type hints: the settings module imports the adapters to know their names and prefixes.
    from bot.config import Relay, Settings

log = logging.getLogger(__name__)

MAX_RESULT_DOWNLOAD = 50 * 1024 * 1024

# Aspect ratios the bot offers; formats without a ratio parameter map them to what they have.
COMMON_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
ALL_RATIOS = (*COMMON_RATIOS, "1:4", "4:1", "1:8", "8:1")


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime: str


@dataclass(frozen=True)
class Action:
    """A follow-up the API offers on a result (Midjourney's U1, V2, 🔄 …)."""

    label: str
    emoji: str
    custom_id: str


@dataclass(frozen=True)
class GenerationResult:
    images: tuple[GeneratedImage, ...]
    text: str = ""  # what the model said beside its pictures
    task_id: str | None = None
    actions: tuple[Action, ...] = ()
    # A conversational format's turn as sent and received, for the next edit to send back (Gemini).
    exchange: Exchange | None = None
    # The earlier turns this answer follows, as sent (trimmed to fit, or none after a stateless
    # retry): with `exchange`, the conversation the next edit continues.
    history: tuple[Exchange, ...] = ()
    # The tokens the call reports it used, where the API says (for what the picture cost).
    usage: TokenUsage | None = None
    # The prompt as the model rewrote it before drawing (GPT image models' revised_prompt).
    used_prompt: str = ""

    @property
    def conversation(self) -> tuple[Exchange, ...]:
        return (*self.history, self.exchange) if self.exchange is not None else ()


@dataclass(frozen=True)
class Progress:
    """Where a long job stands; `percent` is None when the API does not say."""

    status: str
    percent: int | None = None
    preview_url: str | None = None
    task_id: str | None = None  # a task-based API's id for the job, kept to resume after a restart


ProgressCallback = Callable[[Progress], Awaitable[None]]


@dataclass(frozen=True)
class Capabilities:
    """What a model accepts; commands check requests against it before spending a call."""

    aspect_ratios: tuple[str, ...]
    sizes: tuple[str, ...]  # empty: the model takes no size parameter
    max_input_images: int  # 0: text only
    max_prompt_chars: int
    max_count: int = 4  # pictures per command, natively or by parallel calls
    native_count: bool = False  # True: one call returns `count` pictures
    text_to_image: bool = True
    blend_images: tuple[int, int] = (2, 5)
    prompt_required_for_blend: bool = True
    ratio_by_prompt: bool = False  # True: the ratio is a hint in the prompt, not a parameter
    # Non-empty: the model has a few fixed shapes; these ratios are exact, others get the nearest.
    exact_ratios: tuple[str, ...] = ()
    size_is_quality: bool = False  # True: fixed pixel sizes; 2K/4K ask for the best quality instead
    grid: bool = False  # True: every answer is one grid of pictures with follow-up buttons
    english_prompts: bool = False  # True: reads English best (PROMPT_TRANSLATE_MODEL translates first)
    # Input budgets in raw bytes. The defaults are Gemini's inline limits (7 MB an image, 20 MB a
    # request, both counted after base64), which also suit the JSON bodies of chat and Midjourney.
    max_image_bytes: int = 7 * 1024 * 1024 * 3 // 4
    max_request_bytes: int = 20 * 1024 * 1024 * 3 // 4

    def describe(self) -> dict[str, str]:
        return {
            "inputs": str(self.max_input_images),
            "ratios": ", ".join(self.aspect_ratios),
            "sizes": ", ".join(self.sizes),
            "count": str(self.max_count),
        }


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str
    timeout: float


class ImageProvider(ABC):
    """One request format. The class says who it is; the registry (`bot.providers.registry`) lists it.

    Nothing outside `bot/providers/` names a format: the rest of the bot asks these declarations.
    """

    # The format's name in MODELS (`name=format`) and CONCURRENCY_LIMITS.
    name: ClassVar[str]
    # `<PREFIX>_BASE_URL` and `<PREFIX>_API_KEY` override API_BASE_URL and API_KEY for this format.
    settings_prefix: ClassVar[str]
    # Model names (lower case) that speak this format when MODELS does not say; relays alias freely,
    # so these look at the family prefix rather than exact ids.
    model_names: ClassVar[re.Pattern[str]]
    # True: this format's base URL serves the relay's model list (`GET /v1/models`, OpenAI's shape).
    lists_models: ClassVar[bool] = False
    # True: an edit of its own result can send the earlier turns (`GenerateRequest.history`) instead
    # of the picture; the request's images then leave that picture out.
    converses: ClassVar[bool] = False
    # Seconds a job on this format may take, when longer than JOB_TIMEOUT; None: JOB_TIMEOUT.
    time_limit: float | None = None

    def __init__(self, http: HttpClient, endpoint: Endpoint) -> None:
        self.http = http
        self.endpoint = endpoint

    @classmethod
    def from_settings(cls, settings: Settings, http: HttpClient, relay: Relay | None = None) -> Self:
        """The adapter for one relay (main when none is given)."""
        return cls(http, cls.endpoint_from(settings, relay))

    @classmethod
    def endpoint_from(cls, settings: Settings, relay: Relay | None = None) -> Endpoint:
        target = (relay or settings.relays[0]).target(cls.name)
        return Endpoint(target.base_url, target.api_key, settings.request_timeout)

    @classmethod
    def draws(cls, name: str) -> bool:
        """Whether a model the relay lists under this format makes pictures (relays list others too)."""
        return "video" not in name.lower()

    @abstractmethod
    def capabilities(self, model: str) -> Capabilities: ...

    @abstractmethod
    async def generate(
        self, request: GenerateRequest, progress: ProgressCallback | None = None
    ) -> GenerationResult: ...

    async def fetch_images(self, urls: list[str]) -> list[GeneratedImage]:
        """Resolve result references (data URLs, http URLs) to images, dropping what is not one.

        Signed result URLs expire, so they are downloaded at once rather than posted as links.
        """
        images: list[GeneratedImage] = []
        unreachable = 0
        for url in dict.fromkeys(urls):
            if url.startswith("data:"):
                data = decode_base64(url)
            else:
                try:
                    data = await self.http.download(
                        url, timeout=self.endpoint.timeout, max_bytes=MAX_RESULT_DOWNLOAD
                    )
                except UpstreamError as exc:
                    log.warning("Could not download a result image: %s", type(exc).__name__)
                    unreachable += 1
                    continue
            mime = sniff(data) if data else None
            if data and mime:
                images.append(GeneratedImage(data, mime))
            else:
                log.info("A result reference was not an image; skipped")
        if not images and unreachable:
            # The model made a picture: the service did not hand it over (a dead or expired link).
            raise ResultDownloadFailed(f"{unreachable} result link(s) could not be downloaded")
        return images


class TaskProvider(ImageProvider):
    """A format that runs each request as an upstream task with an id (Midjourney-proxy, video APIs):
    the id is kept so a restart can follow it, its results offer follow-up actions, and it can be
    cancelled. A task that still moves is not cut off: each progress step restarts the job's clock.
    """

    @abstractmethod
    async def resume(self, task_id: str, progress: ProgressCallback | None = None) -> GenerationResult:
        """Follow a submitted task to its end (also after a restart, from its id alone)."""

    @abstractmethod
    async def act(
        self,
        task_id: str,
        custom_id: str,
        prompt: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> GenerationResult:
        """Run one of a finished task's follow-up actions; a new task makes the new picture."""

    @abstractmethod
    async def cancel(self, task_id: str) -> None:
        """Ask the API to drop a task; quiet when it cannot."""

    @abstractmethod
    def action_derivation(self, custom_id: str) -> Derivation:
        """What a follow-up action does, in the bot's own terms (pick one picture, vary, zoom …)."""

    @abstractmethod
    def action_needs_prompt(self, custom_id: str) -> bool:
        """Whether a follow-up action asks the member for words first (a custom zoom)."""


_DATA_URL = r"data:image/[\w.+-]+;base64,[A-Za-z0-9+/=_-]+"
_MD_IMAGE = r"!\[[^\]]*\]\((\S+?)(?:\s+\"[^\"]*\")?\)"
_MD_LINK = r"(?<!!)\[([^\]]*)\]\((https?://\S+?)\)"
_BARE_URL = r"https?://[^\s)<>\"'\]，。、；！？）」』]+"
_IMAGE_PATH = re.compile(r"\.(png|jpe?g|webp|gif)(\?|#|$)", re.I)
# Task viewers and progress pages some relays link to; never the picture itself.
_NOT_RESULTS = re.compile(r"asyncdata\.net/web/|/task/|videos\.openai\.com", re.I)


def unescape(text: str) -> str:
    return text.replace("\\u0026", "&").replace("&amp;", "&")


def image_refs_in_text(text: str) -> list[str]:
    """Picture references in model text, best first: data URLs, Markdown images, likely result links.

    Links and bare URLs count only when they look like a picture or are labelled as the download,
    so ordinary links in a refusal are not mistaken for results.
    """
    text = unescape(text)
    found: list[str] = re.findall(_DATA_URL, text)
    found += [url for url in re.findall(_MD_IMAGE, text) if not url.startswith("data:")]
    links = re.findall(_MD_LINK, text)
    found += [url for label, url in links if _looks_final(label, url)]
    found += [url for label, url in links if not _looks_final(label, url) and _IMAGE_PATH.search(url)]
    linked = {url for _, url in links}
    bare = [url.rstrip(".,;:!?") for url in re.findall(_BARE_URL, text)]
    found += [url for url in bare if url not in linked and _IMAGE_PATH.search(url)]
    return [url for url in dict.fromkeys(found) if not _NOT_RESULTS.search(url)]


def _looks_final(label: str, url: str) -> bool:
    return bool(re.search(r"下载|download|原图|result", label, re.I)) and not _NOT_RESULTS.search(url)
