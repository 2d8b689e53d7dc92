"""A job as the journal keeps it: plain values that survive a restart (no Discord objects)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from bot.inputs import SourceImage

# Discord's interaction tokens last 15 minutes; past this, answers go to the channel instead.
TOKEN_LIFETIME = 15 * 60.0
ACTION = "action"  # a job kind besides Kind's: a follow-up action on an earlier task's result


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class Origin:
    """Who asked, where, and how the answer reaches them."""

    user_id: int
    user_name: str
    channel_id: int
    guild_id: int | None = None
    avatar_url: str | None = None
    locale: str = "en-US"
    upload_limit: int = 10 * 1024 * 1024
    application_id: int | None = None
    token: str | None = field(default=None, repr=False)  # the interaction's; None for mentions
    token_expires_at: float | None = None  # epoch seconds
    reply_to: int | None = None  # the member's message a mention answers

    def token_usable(self, now: float, margin: float = 30.0) -> bool:
        return bool(self.token) and self.token_expires_at is not None and now < self.token_expires_at - margin


@dataclass(frozen=True)
class FollowUp:
    """A press of a result's button: the API task it belongs to and the button's id there."""

    task_id: str
    custom_id: str
    caption: str


@dataclass(frozen=True)
class JobSpec:
    """What the member asked for, enough to run it again after a restart."""

    kind: str  # a Kind value, or ACTION
    prompt: str
    model: str | None = None
    aspect_ratio: str | None = None
    size: str | None = None
    count: int = 1
    sources: tuple[SourceImage, ...] = ()
    follow_up: FollowUp | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        raw: dict[str, Any] = json.loads(text)
        raw["sources"] = tuple(SourceImage(**s) for s in raw.get("sources") or ())
        follow_up = raw.get("follow_up")
        raw["follow_up"] = FollowUp(**follow_up) if follow_up else None
        return cls(**raw)


@dataclass
class Job:
    id: int
    spec: JobSpec
    origin: Origin
    model: str  # the resolved model name
    units: int  # pictures it counts for in the daily limits
    status: JobStatus = JobStatus.QUEUED
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    upstream_task: str | None = None  # a task API's id for the job, to resume polling
    error: str | None = None  # the error's class name, for the log and /status
    message_id: int | None = None  # the message that shows the job, once known
    delivered_at: float | None = None
    delivery_error: str | None = None
    cancelled_by: int | None = None
