"""The one HTTP layer every API adapter uses: timeouts, retries, error typing and redacted logs."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import yarl

from bot.attempts import attempts_left, next_relay_waits, take_attempt
from bot.errors import (
    AttemptsSpent,
    ContentBlocked,
    ResponseTooLarge,
    UnsafeResultUrl,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamCoolingDown,
    UpstreamError,
    UpstreamModelNotFound,
    UpstreamQuotaExhausted,
    UpstreamRateLimited,
    UpstreamRegionRefused,
    UpstreamRejectedRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bot.metrics import METRICS
from bot.netguard import NetGuard, UnsafeAddress, unsafe_cause
from bot.redact import Redactor

log = logging.getLogger(__name__)

# A 4K Gemini image is ~20 MB of base64; leave room for a few of them in one answer.
MAX_RESPONSE_BYTES = 96 * 1024 * 1024
_LOGGED_BODY_CHARS = 1500


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 3
    base_delay: float = 1.0
    max_delay: float = 30.0
    # Everything, waits included, ends by then: the interaction token lives 15 minutes.
    deadline: float = 720.0


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; UpstreamBadResponse when it is not (an HTML page, a cut-off body)."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise UpstreamBadResponse("response body is not JSON", status=self.status) from None


MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# The redirects that keep the method and the body (a POST stays a POST).
_SAME_METHOD_REDIRECTS = frozenset({307, 308})


class HttpClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        redactor: Redactor,
        policy: RetryPolicy | None = None,
        guard: NetGuard | None = None,
        *,
        retry_timeouts: bool = False,
    ) -> None:
        self.session = session
        self.redact = redactor
        self.policy = policy or RetryPolicy()
        # Checks links that name an address outright, at every redirect hop; names are checked by
        # the session's resolver (bot.netguard).
        self.guard = guard
        # A generation that timed out may still be running (and billed) upstream: sent once only,
        # unless the owner set RETRY_TIMEOUTS.
        self.retry_timeouts = retry_timeouts

    async def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
        max_bytes: int = MAX_RESPONSE_BYTES,
        makes_picture: bool = False,
    ) -> HttpResponse:
        """Send with retries on 408/429/5xx and connection errors; raise a typed UpstreamError otherwise.

        `makes_picture`: a call that can make (and bill) a picture draws on the picture's budget
        (bot.attempts), and is not sent again after a timeout unless RETRY_TIMEOUTS is set.
        """
        policy = self.policy
        started = time.monotonic()
        error: UpstreamError | None = None
        for attempt in range(1, policy.attempts + 1):
            if makes_picture and not take_attempt():
                if error is not None:
                    raise error
                raise AttemptsSpent("the picture's upstream calls are used up")
            remaining = policy.deadline - (time.monotonic() - started)
            try:
                response = await self._once(
                    method, url, headers, json_body, form, min(timeout, max(remaining, 0.1)), max_bytes
                )
                if 200 <= response.status < 300:
                    return response
                error = error_from_response(response, self.redact)
            except UpstreamError as exc:
                error = exc
            METRICS.upstream_error(type(error).__name__)
            delay = self._retry_delay(error, attempt)
            if makes_picture and (
                attempts_left() == 0
                or (isinstance(error, UpstreamTimeout) and not self.retry_timeouts)
                or (error.relay_specific and next_relay_waits())
            ):
                # No call left for this picture (or a timed-out one), or a next relay takes it over:
                # no wait for nothing.
                delay = None
            remaining = policy.deadline - (time.monotonic() - started)
            if delay is None or attempt == policy.attempts or delay >= remaining:
                raise error
            log.info("Retrying %s %s in %.1fs (%s)", method, self.redact(url), delay, type(error).__name__)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")

    async def _once(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        json_body: Any,
        form: Callable[[], aiohttp.FormData] | None,
        timeout: float,
        max_bytes: int,
    ) -> HttpResponse:
        shown_url = self.redact(url)
        started = time.monotonic()
        # Redirects are followed here, so every hop is checked like the first link.
        follow = self.guard is not None
        try:
            for _ in range(MAX_REDIRECTS + 1):
                self._check(url)
                async with self.session.request(
                    method,
                    url,
                    headers=headers,
                    json=json_body,
                    # A multipart form can be sent once only, so each attempt and hop builds its own.
                    data=form() if form is not None else None,
                    timeout=aiohttp.ClientTimeout(total=timeout),
                    allow_redirects=not follow,
                ) as resp:
                    location = resp.headers.get("Location")
                    if follow and resp.status in _REDIRECTS and location:
                        if method != "GET" and resp.status not in _SAME_METHOD_REDIRECTS:
                            # Followed, it would turn into a GET and lose the request.
                            log.warning(
                                "%s %s was redirected (%d): set the base URL to the address it redirects to",
                                method,
                                shown_url,
                                resp.status,
                            )
                            raise UpstreamBadResponse("redirected", status=resp.status)
                        url = str(resp.url.join(yarl.URL(location)))
                        continue
                    body = await _read_capped(resp, max_bytes)
                    response = HttpResponse(resp.status, dict(resp.headers), body)
                    break
            else:
                raise UpstreamBadResponse("too many redirects")
        except UnsafeAddress as exc:
            log.warning("%s %s refused: %s", method, shown_url, exc)
            raise UnsafeResultUrl("link into a refused network") from None
        except TimeoutError:
            log.warning("%s %s timed out after %.0fs", method, shown_url, timeout)
            raise UpstreamTimeout("request timed out", seconds=round(timeout)) from None
        except aiohttp.ClientError as exc:
            if unsafe_cause(exc):
                log.warning("%s %s refused: %s", method, shown_url, getattr(exc, "os_error", exc))
                raise UnsafeResultUrl("link into a refused network") from None
            log.warning("%s %s failed: %s", method, shown_url, self.redact(str(exc)) or type(exc).__name__)
            raise UpstreamUnavailable("connection failed") from None
        elapsed = time.monotonic() - started
        METRICS.upstream_call(elapsed)
        log.info("%s %s -> %d in %.2fs", method, shown_url, response.status, elapsed)
        if response.status >= 400:
            log.warning(
                "Upstream error body (%d): %s",
                response.status,
                self.redact(response.text()[:_LOGGED_BODY_CHARS]),
            )
        return response

    def _check(self, url: str) -> None:
        if self.guard is not None:
            self.guard.check_url(url)

    async def download(self, url: str, *, timeout: float, max_bytes: int) -> bytes:
        """GET a result file (an image URL an API answered with)."""
        return (await self.request("GET", url, timeout=timeout, max_bytes=max_bytes)).body

    def _retry_delay(self, error: UpstreamError, attempt: int) -> float | None:
        if not error.retryable:
            return None
        if isinstance(error, UpstreamRateLimited) and error.retry_after is not None:
            return error.retry_after
        backoff = min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1))
        return backoff * random.uniform(0.8, 1.2)  # noqa: S311 - jitter, not cryptography


async def _read_capped(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(f"response larger than {max_bytes} bytes", status=resp.status)
        chunks.append(chunk)
    return b"".join(chunks)


# --- error bodies ---------------------------------------------------------------------------------

# new-api (common.MessageWithRequestId) appends " (request id: …)" to every message it writes.
_REQUEST_ID_SUFFIX = re.compile(r"\s*\((?:request id|requestId|request_id)[^)]*\)\s*$", re.I)
# LiteLLM puts a FastAPI error's `detail` into `message` as it is: a dict, or its Python repr.
_DETAIL_REPR = re.compile(r"^\{'error': '(.*)'\}$", re.S)
# Masks what looks like a credential (not knowing the bot's own keys, which the caller's redactor does).
_CREDENTIAL_SHAPES = Redactor()
_SAFETY_WORDS = re.compile(
    r"safety|moderation|content_policy|content policy|prohibited|blocklist|sensitive|违规|敏感", re.I
)
_QUOTA_WORDS = re.compile(
    r"insufficient_quota|insufficient (?:balance|quota)|余额不足|额度不足|billing", re.I
)


@dataclass(frozen=True)
class ErrorInfo:
    """What an error body says, whichever API shape it came in."""

    message: str = ""
    code: str = ""  # `code`, or `type` when there is no code (what callers have always read)
    status: str = ""
    retry_delay: float | None = None
    type: str = ""
    reason: str = ""  # Google's ErrorInfo reason (API_KEY_INVALID, …)

    @property
    def words(self) -> str:
        return f"{self.code} {self.type} {self.status} {self.reason} {self.message}"


def parse_error_body(text: str) -> ErrorInfo:
    """Read Google, OpenAI-style, task-proxy, plain-text and HTML error bodies alike."""
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, list) and data:
            data = data[0]
        if isinstance(data, dict):
            err = data.get("error", data)
            if isinstance(err, str):
                return ErrorInfo(message=_clean(err))
            if isinstance(err, dict):
                message = err.get("message") or err.get("description") or data.get("message") or ""
                return ErrorInfo(
                    message=_clean(_message_text(message)),
                    code=_text(err.get("code")) or _text(err.get("type")),
                    status=_text(err.get("status")),
                    retry_delay=_google_retry_delay(err.get("details")),
                    type=_text(err.get("type")),
                    reason=_google_reason(err.get("details")),
                )
    if stripped.lower().startswith(("<!doctype", "<html")) or "<body" in stripped[:2000].lower():
        return ErrorInfo(message="(an HTML error page)")
    return ErrorInfo(message=_clean(stripped[:300]))


def _text(value: Any) -> str:
    # LiteLLM writes a missing type or param as the string "None".
    return "" if value is None or value == "None" else str(value)


def _message_text(message: Any) -> str:
    if isinstance(message, dict):
        message = message.get("error") or message.get("message") or json.dumps(message)
    text = str(message)
    match = _DETAIL_REPR.match(text.strip())
    return match.group(1) if match else text


def _clean(message: str) -> str:
    return _REQUEST_ID_SUFFIX.sub("", message).strip()


def _google_details(details: Any, kind: str) -> list[dict[str, Any]]:
    if not isinstance(details, list):
        return []
    return [d for d in details if isinstance(d, dict) and str(d.get("@type", "")).endswith(kind)]


def _google_retry_delay(details: Any) -> float | None:
    for item in _google_details(details, "RetryInfo"):
        match = re.fullmatch(r"\s*([\d.]+)s\s*", str(item.get("retryDelay", "")))
        if match:
            return float(match.group(1))
    return None


def _google_reason(details: Any) -> str:
    return next((str(d.get("reason") or "") for d in _google_details(details, "ErrorInfo")), "")


def retry_after_header(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_response(response: HttpResponse, redact: Redactor) -> UpstreamError:
    """Turn a non-2xx answer into the typed error it means."""
    info = parse_error_body(redact(response.text()))
    # Decoding the JSON can bring a credential's shape out (a Go relay writes & as \u0026, quotes
    # inside a message are escaped): the message is masked again as text.
    info = replace(info, message=redact(info.message))
    return classify_error(response.status, info, retry_after_header(response.headers))


def _family(words: str) -> re.Pattern[str]:
    return re.compile(words, re.I)


# Relay error families, read before the HTTP status (relays put the same failure under different
# statuses): OpenAI-shaped `type`/`code`, new-api's codes and messages, LiteLLM's proxy and router,
# Google's statuses. First match wins; each family is one typed error, so one member message.
# Where the shapes come from: new-api types/error.go (codes), middleware/utils.go and
# controller/relay.go (the body and its request-id suffix), i18n/locales/{en,zh-CN}.yaml (messages),
# service quota code; LiteLLM litellm/proxy/_types.py (ProxyException, ProxyErrorTypes),
# litellm/types/router.py (RouterErrors, RouterRateLimitError), litellm/proxy/route_llm_request.py;
# Google's error statuses as the Gemini API answers them.
_RELAY_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Credit, balance or budget used up: the owner's to top up, whatever the status (new-api answers
    # 403 or 401; LiteLLM 400 or 429). Google's "limit: 0" is a model the key's tier does not include.
    (
        _family(
            r"insufficient_user_quota|pre_consume_token_quota_failed|insufficient_quota|quota_exceeded"
            r"|entitlement_(?:required|inactive|daily_limit_exceeded|total_limit_exceeded)"
            r"|TokenStatusExhausted|quota is exhausted|额度已用尽|用户额度不足|余额不足|额度不足"
            r"|budget_exceeded|budget has been exceeded|ExceededBudget|crossed budget|\blimit: 0\b"
        ),
        "quota",
    ),
    # Google's own rate limits (per minute or per day) come as quota words with a retry delay.
    (_family(r"RESOURCE_EXHAUSTED"), "rate"),
    # LiteLLM's router resting the model's deployments after earlier errors.
    (_family(r"all_deployments_in_cooldown|no deployments available|in cooldown"), "cooldown"),
    (
        _family(
            r"model_not_found|invalid model name|model_not_supported|no available channel|无可用渠道"
            r"|可用渠道不存在|模型不存在|has no access to (?:any )?models?|无权访问(?:任何)?模型"
            r"|(?:key|team|user|org)_model_access_denied|not allowed to access model"
            r"|no 'model_name' with this string|no healthy deployments for this model"
            r"|model_price_error|ratio or price not set|倍率或价格未配置"
            r"|\bmodel\b[^.]{0,80}\b(?:does not exist|not found|is not supported)"
        ),
        "model",
    ),
    (
        _family(
            r"prompt_blocked|sensitive_words_detected|content_policy_violation|ContentPolicyViolationError"
        ),
        "blocked",
    ),
    (_family(r"location is not supported|not available in your country"), "region"),
    (
        _family(
            r"API_KEY_INVALID|api key not valid|invalid api key|invalid_api_key|无效的令牌|该令牌已过期"
            r"|未提供令牌|\bauth_error\b|authentication error|expired_key|virtual key expected"
            r"|invalid proxy server token"
        ),
        "auth",
    ),
)


def relay_family(info: ErrorInfo) -> str | None:
    words = info.words
    return next((family for pattern, family in _RELAY_FAMILIES if pattern.search(words)), None)


def classify_error(status: int, info: ErrorInfo, retry_after: float | None = None) -> UpstreamError:
    """The typed error for a status and what the body said (also for errors inside a 200 answer)."""
    # The detail is logged when the job ends: credential shapes go, whichever path read the body.
    info = replace(info, message=_CREDENTIAL_SHAPES(info.message))
    words = info.words
    delay = retry_after if retry_after is not None else info.retry_delay
    family = relay_family(info)
    if family == "quota":
        return UpstreamQuotaExhausted(info.message, status=status)
    if family == "rate":
        return UpstreamRateLimited(info.message, retry_after=delay)
    if family == "cooldown":
        return UpstreamCoolingDown(info.message, retry_after=delay)
    if family == "model":
        return UpstreamModelNotFound(info.message, status=status)
    if family == "blocked":
        return ContentBlocked(info.message, status=status, reason_key="block.policy")
    if family == "region":
        return UpstreamRegionRefused(info.message, status=status)
    if family == "auth" or status in (401, 403):
        if _QUOTA_WORDS.search(words):
            return UpstreamQuotaExhausted(info.message, status=status)
        return UpstreamAuthFailed(info.message, status=status)
    if status == 429:
        # OpenAI's rate-limit messages link to the billing page; the code says which 429 it is.
        if "rate_limit_exceeded" not in info.code and _QUOTA_WORDS.search(words):
            return UpstreamQuotaExhausted(info.message, status=status)
        return UpstreamRateLimited(info.message, retry_after=delay)
    if status == 404:
        return UpstreamModelNotFound(info.message, status=status)
    if status in (408, 504):
        return UpstreamTimeout(info.message, status=status)
    if status >= 500:
        return UpstreamUnavailable(info.message, status=status)
    if _QUOTA_WORDS.search(words):
        return UpstreamQuotaExhausted(info.message, status=status)
    if _SAFETY_WORDS.search(words):
        return ContentBlocked(info.message, status=status, reason_key="block.policy")
    return UpstreamRejectedRequest(info.message, status=status)


def status_for_code(error: Any) -> int:
    """The HTTP status an error inside a 200 answer stands for (relays put 502 or "server_error" there)."""
    code = str(error.get("code") or error.get("type") or "") if isinstance(error, dict) else str(error or "")
    if code.isdigit() and 400 <= int(code) < 600:
        return int(code)
    return {"server_error": 502, "upstream_error": 502, "rate_limit_exceeded": 429}.get(code, 400)


def looks_like_safety_refusal(text: str) -> bool:
    return bool(_SAFETY_WORDS.search(text))
