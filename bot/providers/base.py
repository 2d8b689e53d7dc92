"""What every API adapter takes and gives: plain values, no Discord objects."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from bot.http import HttpClient
from bot.routing import ApiFormat


@dataclass(frozen=True)
class InputImage:
    data: bytes
    mime: str


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    model: str
    aspect_ratio: str | None = None
    size: str | None = None
    images: tuple[InputImage, ...] = ()


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime: str


@dataclass(frozen=True)
class GenerationResult:
    images: tuple[GeneratedImage, ...]
    text: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What a model accepts; commands check requests against it before spending a call."""

    aspect_ratios: tuple[str, ...]
    sizes: tuple[str, ...]  # empty: the model has one size and takes no size parameter
    max_input_images: int
    max_prompt_chars: int


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str
    timeout: float


class ImageProvider(ABC):
    format: ClassVar[ApiFormat]

    def __init__(self, http: HttpClient, endpoint: Endpoint) -> None:
        self.http = http
        self.endpoint = endpoint

    @abstractmethod
    def capabilities(self, model: str) -> Capabilities: ...

    @abstractmethod
    async def generate(self, request: GenerateRequest) -> GenerationResult: ...
