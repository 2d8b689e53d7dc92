"""The one request value: what a member asked for, carried unchanged from the command to the API.

A command builds it, the image service plans it once (model resolved, checked against what the model
takes), the job engine journals it and fills in the prepared pictures, and an adapter turns it into
its format's request. Plain values only, so every layer can hold it.
"""

from __future__ import annotations

import base64
import json
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
class Exchange:
    """One earlier turn of a conversation, in Gemini's wire form, to send back when it is edited.

    `user` holds the user turn's parts exactly as they were sent (text, inline_data...) and `model`
    the candidate's `content` object exactly as it came back, thought parts and `thoughtSignature`s
    included: the API checks those signatures, so nothing here may be rewritten or re-ordered.
    """

    user: tuple[dict[str, Any], ...]
    model: dict[str, Any]

    def to_json(self) -> str:
        """The exchange as compact JSON, to keep in a file beside the job's pictures."""
        return self._json

    @classmethod
    def from_json(cls, text: str | bytes) -> Exchange:
        raw = json.loads(text)
        if not isinstance(raw, dict) or not isinstance(raw.get("model"), dict):
            raise ValueError("not an exchange: expected an object with a model content")
        user = raw.get("user")
        if not isinstance(user, list) or not all(isinstance(part, dict) for part in user):
            raise ValueError("not an exchange: expected a list of user parts")
        return cls(tuple(user), raw["model"])

    @property
    def size(self) -> int:
        """Bytes of its JSON (base64 pictures included): what it adds to a request's byte budget."""
        return len(self._json.encode("utf-8"))

    @cached_property
    def _json(self) -> str:
        # Made once: budgets and files read it several times, and the pictures inside are large.
        return json.dumps({"user": list(self.user), "model": self.model}, separators=(",", ":"))

    def __hash__(self) -> int:
        # The generated hash would fail on the dicts; the JSON says the same as the fields.
        return hash(self._json)

    def __repr__(self) -> str:
        # The fields hold whole pictures in base64; a logged request must not carry them.
        parts = len(self.model.get("parts") or ())
        return f"Exchange(user={len(self.user)} parts, model={parts} parts, size={self.size})"


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
    # Earlier exchanges of the conversation being edited, oldest first; never journaled (the engine
    # keeps them in files, like the pictures).
    history: tuple[Exchange, ...] = ()

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

    def with_history(self, history: tuple[Exchange, ...]) -> GenerateRequest:
        return replace(self, history=history)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the pictures and the history themselves, which the journal keeps as files."""
        # Emptied before asdict, which would otherwise deep-copy every picture in the history.
        raw = asdict(replace(self, images=(), history=()))
        del raw["images"], raw["history"]
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GenerateRequest:
        raw = dict(raw)
        raw.pop("images", None)
        raw.pop("history", None)
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
