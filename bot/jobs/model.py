"""A job as the journal keeps it: plain values that survive a restart (no Discord objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.request import GenerateRequest, Note

# Discord's interaction tokens last 15 minutes; past this, answers go to the channel instead.
TOKEN_LIFETIME = 15 * 60.0


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
    # The server's chosen language (Discord's guild_locale; None when the server chose none):
    # what a post in the channel speaks.
    guild_locale: str | None = None

    @property
    def channel_locale(self) -> str:
        """The language of what the bot posts in the channel, where the whole server reads it."""
        return self.guild_locale or self.locale

    def token_usable(self, now: float, margin: float = 30.0) -> bool:
        return bool(self.token) and self.token_expires_at is not None and now < self.token_expires_at - margin


@dataclass
class Job:
    id: int
    request: GenerateRequest  # planned: its model resolved and checked; no pictures inside
    origin: Origin
    units: int  # pictures it counts for in the daily limits
    notes: tuple[Note, ...] = ()  # what planning had to say about the request
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
    estimate: float | None = None  # what it should cost, when accepted; None: no price known
    cost: float | None = None  # what it cost, once done

    @property
    def model(self) -> str:
        return self.request.model
