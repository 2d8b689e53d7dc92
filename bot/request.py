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


class Derivation(StrEnum):
    """How a result came from an earlier one (its lineage)."""

    REROLL = "reroll"  # the same request again
    VARY = "vary"  # a subtle variation of one picture
    VARY_STRONG = "vary_strong"
    EDIT = "edit"  # the member's words on one picture (the Edit… button)
    UPSCALE = "upscale"  # the picture at the model's next size
    ZOOM = "zoom"  # the scene extended outward
    PICK = "pick"  # one picture of a set, alone on its own card
    REPLY = "reply"  # a reply (mention) to the result
    MENU = "menu"  # the Edit image / Blend images menu on the result


@dataclass(frozen=True)
class Parent:
    """The earlier result a request works on: its job, which of its pictures, and how."""

    job_id: int
    index: int
    how: Derivation

    @property
    def uses_picture(self) -> bool:
        """Whether the parent's picture is this request's first input (a reroll sends the parent's
        own inputs instead)."""
        return self.how is not Derivation.REROLL


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
    parent: Parent | None = None  # the earlier result this one comes from
    shown: str = ""  # what its card shows as the prompt, when the API is sent an instruction instead

    @property
    def caption(self) -> str:
        """What the result shows as its prompt: the member's words, else the action's name."""
        if self.shown:
            return self.shown
        if self.prompt or self.follow_up is None:
            return self.prompt
        return self.follow_up.caption

    @property
    def takes_pictures(self) -> bool:
        """Whether inputs are prepared for it: members' pictures, or an earlier result's."""
        return bool(self.sources) or (self.parent is not None and self.kind is not Kind.ACTION)

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
        parent = raw.get("parent")
        raw["parent"] = (
            Parent(parent["job_id"], parent["index"], Derivation(parent["how"])) if parent else None
        )
        raw["model"] = raw.get("model") or ""
        return cls(**raw)
