"""The one request value: what a member asked for, carried unchanged from the command to the API.

A command builds it, the image service plans it once (model resolved, checked against what the model
takes), the job engine journals it and fills in the prepared pictures, and an adapter turns it into
its format's request. Plain values only, so every layer can hold it.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from functools import cached_property
from typing import Any


class Kind(StrEnum):
    IMAGINE = "imagine"  # text to image, possibly with reference images
    EDIT = "edit"  # change the first image; the others are references
    BLEND = "blend"  # combine the images
    ACTION = "action"  # a follow-up action on an earlier task's result (a button under it)


@dataclass(frozen=True)
class SourceImage:
    """A picture a member pointed at: its file name, where to fetch it, what its sender declared."""

    name: str
    url: str
    content_type: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class InputImage:
    """A member's picture prepared for the model (sniffed, oriented, scaled, encoded once)."""

    data: bytes = field(repr=False)
    mime: str

    @cached_property
    def b64(self) -> str:
        """The base64 text, made once however many requests (retries, parallel calls) send it."""
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{self.b64}"


@dataclass(frozen=True)
class FollowUp:
    """An action on an earlier task's result: the task, the action's id there, what the result shows."""

    task_id: str
    custom_id: str
    caption: str


@dataclass(frozen=True)
class Note:
    """A remark for the member about how their request was taken (a catalog key and its values)."""

    key: str
    params: dict[str, str | int] = field(default_factory=dict)  # counts stay numbers for plural forms


@dataclass(frozen=True)
class GenerateRequest:
    prompt: str
    model: str
    aspect_ratio: str | None = None
    size: str | None = None
    images: tuple[InputImage, ...] = ()  # prepared pictures; in memory only, never journaled
    count: int = 1
    kind: Kind = Kind.IMAGINE
    sources: tuple[SourceImage, ...] = ()  # where the pictures come from, to fetch them again
    follow_up: FollowUp | None = None  # set for Kind.ACTION

    @property
    def caption(self) -> str:
        """What the result shows as its prompt: the member's words, else the action's name."""
        if self.prompt or self.follow_up is None:
            return self.prompt
        return self.follow_up.caption

    def with_images(self, images: tuple[InputImage, ...]) -> GenerateRequest:
        return replace(self, images=images)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the pictures themselves, which the journal keeps as files."""
        raw = asdict(replace(self, images=()))
        del raw["images"]
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GenerateRequest:
        raw = dict(raw)
        raw.pop("images", None)
        raw["kind"] = Kind(raw.get("kind") or Kind.IMAGINE)
        raw["sources"] = tuple(SourceImage(**s) for s in raw.get("sources") or ())
        follow_up = raw.get("follow_up")
        raw["follow_up"] = FollowUp(**follow_up) if follow_up else None
        raw["model"] = raw.get("model") or ""
        return cls(**raw)
