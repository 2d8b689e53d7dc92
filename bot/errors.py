"""The errors a request can end in. Each names the catalog message members see for it.

The Discord side maps them to text in one place (`bot.ui.tree.BananaTree.on_error`); nothing here knows
about Discord. Upstream bodies never go into `params`: they are logged (redacted), not shown.
Counts go into `params` as numbers: the catalog picks a message's plural form by them.
"""

from __future__ import annotations

import math
import time
from typing import Any, ClassVar

from bot.i18n import Catalog


class BotError(Exception):
    """Base of every error with a member-facing message."""

    key: ClassVar[str] = "error.unexpected"
    # True: a relay failed in a way another relay may not share (an outage, a refused key …), so a
    # model with a backup relay moves the picture there (bot.relays).
    relay_specific: ClassVar[bool] = False
    # How /status counts a job that ended in it: a failure of the service (or the bot), a refusal
    # (a safety filter, a model that answered in words), or the member's own mistake.
    outcome: ClassVar[str] = "failure"

    def __init__(self, detail: str = "", **params: Any) -> None:
        super().__init__(detail or self.key)
        self.params = params

    def message_key(self) -> str:
        return self.key


# --- the member's request -------------------------------------------------------------------------


class MemberMistake(BotError):
    """The request itself cannot be made as asked: the member can fix it."""

    outcome = "mistake"


class EmptyPrompt(MemberMistake):
    key = "error.empty_prompt"


class MentionWithoutWords(MemberMistake):
    """A bare mention on (or in reply to) a picture: the member has to say what to do with it."""

    key = "error.mention_hint"  # params: name (the bot's name, as members type it)


class PromptTooLong(MemberMistake):
    key = "error.prompt_too_long"  # params: limit, model


class UnknownModel(MemberMistake):
    key = "error.unknown_model"  # params: model, models


class TooManyImages(MemberMistake):
    key = "error.too_many_images"  # params: model, limit, given


class BlendImageCount(MemberMistake):
    key = "error.blend_image_count"  # params: model, low, high, given


class ImagesNotAccepted(MemberMistake):
    key = "error.images_not_accepted"  # params: model


class UnsupportedOption(MemberMistake):
    key = "error.unsupported_option"  # params: model, option, value, allowed (count: limit)
    # The options whose refusal has advice of its own; any other reads the general sentence.
    ADVISED: ClassVar[frozenset[str]] = frozenset({"aspect_ratio", "count", "size"})

    def message_key(self) -> str:
        option = self.params.get("option")
        return f"error.unsupported_{option}" if option in self.ADVISED else self.key


class FormatNotAvailable(BotError):
    key = "error.format_not_available"  # params: model, format


# --- the upstream image API -----------------------------------------------------------------------


class UpstreamError(BotError):
    """The image API failed; `status` is the HTTP status when there was one."""

    key = "error.upstream"
    retryable: ClassVar[bool] = False

    def __init__(self, detail: str = "", *, status: int | None = None, **params: Any) -> None:
        super().__init__(detail, **params)
        self.status = status


class UpstreamAuthFailed(UpstreamError):
    key = "error.upstream_auth"
    relay_specific = True


class UpstreamQuotaExhausted(UpstreamError):
    key = "error.upstream_quota"
    relay_specific = True


class UpstreamModelNotFound(UpstreamError):
    key = "error.upstream_model_not_found"  # params: model
    relay_specific = True


class UpstreamRegionRefused(UpstreamError):
    """The API does not serve where the call came from (Google: FAILED_PRECONDITION, "User location
    is not supported"); a relay's host can be in such a place too. The owner's to fix, not the member's."""

    key = "error.upstream_region"


class UpstreamRejectedRequest(UpstreamError):
    key = "error.upstream_rejected"  # params: reason (already cleaned of ids and secrets)


class UpstreamRateLimited(UpstreamError):
    key = "error.upstream_rate_limited"
    retryable = True
    relay_specific = True

    def __init__(self, detail: str = "", *, retry_after: float | None = None, **params: Any) -> None:
        super().__init__(detail, status=429, **params)
        self.retry_after = retry_after
        if retry_after is not None and retry_after >= 1 and "retry_at" not in self.params:
            # The service said when: the member reads that moment (a Discord timestamp), not "a minute".
            self.params["retry_at"] = math.ceil(time.time() + retry_after)

    def message_key(self) -> str:
        if self.key == UpstreamRateLimited.key and "retry_at" in self.params:
            return "error.upstream_rate_limited_at"
        return self.key


class UpstreamCoolingDown(UpstreamRateLimited):
    """The relay rests a route after earlier errors (LiteLLM's deployments in cooldown): not the
    member's rate limit, and over in a minute."""

    key = "error.upstream_cooldown"


class UpstreamUnavailable(UpstreamError):
    key = "error.upstream_unavailable"
    retryable = True
    relay_specific = True


class UpstreamTimeout(UpstreamError):
    key = "error.upstream_timeout"  # params: seconds
    retryable = True
    relay_specific = True


class UpstreamBadResponse(UpstreamError):
    """The API answered with something that is not its documented format (HTML, broken JSON)."""

    key = "error.upstream_bad_response"
    relay_specific = True


class ResponseTooLarge(UpstreamBadResponse):
    """A body went past the byte cap the caller set; it was not read to the end."""


class ContentBlocked(UpstreamError):
    """A safety system refused the prompt or the picture."""

    key = "error.content_blocked"  # params: reason_key (a catalog key naming the kind of block)
    outcome = "refusal"


class NoImageReturned(UpstreamError):
    """The API answered normally but sent no picture (often a text refusal)."""

    key = "error.no_image"  # params: said (the model's own words, trimmed; may be empty)
    outcome = "refusal"

    def message_key(self) -> str:
        return "error.no_image_said" if self.params.get("said") else self.key


class ResultDownloadFailed(UpstreamError):
    """The API made a picture and sent a link to it, but the link gave no picture (dead, expired)."""

    key = "error.result_download_failed"
    relay_specific = True


class TaskFailed(UpstreamError):
    """A task-based API ran the job and reported failure."""

    key = "error.task_failed"  # params: reason (the proxy's failReason, redacted and trimmed)


class TaskExpired(UpstreamError):
    """A follow-up button names a task the API no longer knows."""

    key = "error.task_expired"


# --- delivering the result ------------------------------------------------------------------------


class OutputTooLarge(BotError):
    key = "error.output_too_large"  # params: limit_mb


# --- members' pictures ----------------------------------------------------------------------------


class UnusableImage(MemberMistake):
    """A picture a member gave cannot be used; `reason_key` names why (a catalog key)."""

    key = "error.unusable_image"  # params: name, reason_key (+ what the reason needs)


class InputTooLarge(MemberMistake):
    key = "error.input_too_large"  # params: name, size_mb, limit_mb


class DownloadFailed(BotError):
    key = "error.download_failed"  # params: name


class NoPictures(MemberMistake):
    key = "error.no_pictures"


# --- the job engine: admission, quotas, time -------------------------------------------------------


class Restarting(BotError):
    key = "error.restarting"


class QueueFull(BotError):
    key = "error.queue_full"


class UserBusy(BotError):
    key = "error.user_busy"  # params: limit


class Cooldown(BotError):
    key = "error.cooldown"  # params: retry_at (epoch seconds)


class DailyLimitReached(BotError):
    key = "error.user_daily_limit"  # params: used, limit, reset_at (epoch seconds)

    def __init__(self, detail: str = "", *, guild: bool = False, **params: Any) -> None:
        super().__init__(detail, **params)
        self.guild = guild

    def message_key(self) -> str:
        return "error.guild_daily_limit" if self.guild else self.key


class BudgetReached(BotError):
    """A job's expected cost would pass a budget (bot.jobs.budgets)."""

    key = "error.budget_user_day"  # params: left, currency, reset_at (Unix seconds)

    def __init__(self, detail: str = "", *, scope: str, **params: Any) -> None:
        super().__init__(detail, **params)
        self.scope = scope  # user_day, user_month or guild_month

    def message_key(self) -> str:
        return f"error.budget_{self.scope}"


class NotAllowed(BotError):
    key = "error.not_allowed"


class JobTimedOut(BotError):
    key = "error.job_timeout"  # params: seconds


class NotYourJob(BotError):
    key = "error.not_your_job"


class JobAlreadyOver(BotError):
    key = "error.job_over"


class AttemptsSpent(UpstreamError):
    """A picture used up its MAX_ATTEMPTS upstream calls before it could be sent again."""

    key = "error.upstream"


class UnsafeResultUrl(BotError):
    """The API answered with a link into a network the bot does not reach (private, metadata)."""

    key = "error.unsafe_url"
    relay_specific = True


class RelaysResting(UpstreamError):
    """Every relay of a model failed again and again and is passed over for a while (bot.relays)."""

    key = "error.relays_resting"  # params: retry_at (Unix seconds)

    def __init__(self, detail: str = "", *, retry_at: float) -> None:
        super().__init__(detail, retry_at=int(retry_at))


class StorageFailed(BotError):
    """The bot could not keep a job's pictures or journal it (a full disk, a broken DATA_DIR)."""

    key = "error.storage"


class StoreUnavailable(BotError):
    """The shared journal (PostgreSQL, DATABASE_URL) cannot be reached right now."""

    key = "error.store_unavailable"


class PictureGone(BotError):
    """A result's button was pressed after its picture was cleaned away (RESULT_RETENTION_HOURS)."""

    key = "error.picture_gone"  # params: hours


class AlreadyOnIt(BotError):
    """The same member pressed the same follow-up again while the first press is still running."""

    key = "error.already_on_it"


class NotYourPicture(BotError):
    key = "error.not_your_picture"


class NotAllowedToLook(BotError):
    """Another member's /history is for moderators (Manage Messages)."""

    key = "error.not_allowed_to_look"


def outcome_of(name: str | None) -> str:
    """How /status counts a job that failed with the error class `name` (as the journal keeps it)."""
    found = _by_name().get(name or "")
    return found.outcome if found is not None else "failure"


def _by_name() -> dict[str, type[BotError]]:
    found: dict[str, type[BotError]] = {}
    pending: list[type[BotError]] = [BotError]
    while pending:
        cls = pending.pop()
        found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def render_error(error: BotError, catalog: Catalog, locale: str) -> str:
    """The one member-facing sentence for an error; params ending in `_key` are catalog keys too."""
    params = {
        name: catalog.text(value, locale, **error.params) if name.endswith("_key") else value
        for name, value in error.params.items()
    }
    return catalog.text(error.message_key(), locale, **params)
