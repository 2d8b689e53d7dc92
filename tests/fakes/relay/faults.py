"""Failures any endpoint can be told to answer with: HTTP errors, broken bodies, slow or held calls."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.relay.common import Handler, reply
from tests.fakes.relay.gemini import ok

if TYPE_CHECKING:
    from tests.fakes.relay.core import FakeRelay


def _google_error(code: int, status: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status, **extra}}


async def _http_400(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(
        _google_error(400, "INVALID_ARGUMENT", "Invalid value at 'generation_config.image_config'"), 400
    )


async def _http_400_key(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]
    return reply(_google_error(400, "INVALID_ARGUMENT", "API key not valid.", details=details), 400)


async def _http_401(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = {
        "message": "无效的令牌 (request id: 2026112400000)",
        "type": "new_api_error",
        "code": "invalid_api_key",
    }
    return reply({"error": error}, 401)


async def _http_403(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(_google_error(403, "PERMISSION_DENIED", "Permission denied on this model"), 403)


async def _http_404(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(_google_error(404, "NOT_FOUND", "models/x is not found for API version v1beta"), 404)


async def _http_429(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = _google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for requests per minute")
    return reply(error, 429, headers={"Retry-After": relay.retry_after})


async def _http_429_retry_info(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"}]
    return reply(_google_error(429, "RESOURCE_EXHAUSTED", "Resource exhausted", details=details), 429)


async def _http_429_quota(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    error = {
        "message": "You exceeded your current quota",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
    return reply({"error": error}, 429)


async def _http_500(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(_google_error(500, "INTERNAL", "Internal error encountered."), 500)


async def _http_503(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(_google_error(503, "UNAVAILABLE", "The model is overloaded."), 503)


async def _html_502(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    page = "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"
    return web.Response(status=502, text=page, content_type="text/html")


async def _malformed(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return web.Response(
        status=200, text='{"candidates": [{"content": {"parts": [', content_type="application/json"
    )


async def _slow(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    await asyncio.sleep(relay.slow_seconds)
    return await ok(relay, request, body)


async def _gated(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    await relay.gate.wait()
    return await ok(relay, request, body)


# --- real relays' error bodies -----------------------------------------------------------------------
# new-api writes its own errors as {"error": {"message": "<text> (request id: <id>)", "type":
# "new_api_error", "param": "", "code": "<code>"}} (middleware/utils.go abortWithOpenAiMessage has no
# param; controller/relay.go with types/error.go ToOpenAIError has one). LiteLLM's proxy writes
# {"error": {"message", "type", "param", "code"}}, `code` a string, a missing type or param "None"
# (litellm/proxy/_types.py ProxyException).
NEW_API_REQUEST_ID = "2026120111223344556677"


def _new_api(message: str, code: str, status: int, *, param: bool = True) -> web.Response:
    error: dict[str, Any] = {
        "message": f"{message} (request id: {NEW_API_REQUEST_ID})",
        "type": "new_api_error",
        "code": code,
    }
    if param:
        error["param"] = ""
    return reply({"error": error}, status)


def _litellm(message: str, type_: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    error = {"message": message, "type": type_, "param": "None", "code": str(status)}
    return reply({"error": error}, status, headers=headers)


async def _litellm_unknown_model(
    relay: FakeRelay, request: web.Request, body: dict[str, Any]
) -> web.Response:
    # litellm/proxy/route_llm_request.py: the HTTPException's detail dict, written as its str().
    detail = (
        f"{{'error': '{request.path}: Invalid model name passed in model=gemini-x. "
        "Call `/v1/models` to view available models for your key.'}"
    )
    return _litellm(detail, "None", 400)


async def _litellm_cooldown(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    # litellm/types/router.py RouterRateLimitError; the proxy answers 429 with a Retry-After.
    message = (
        "No deployments available for selected model, Try again in 5 seconds. All deployments for "
        "selected model are in cooldown. Passed model=gemini-x. pre-call-checks=False, "
        "cooldown_list=['7f3c2a']"
    )
    return _litellm(message, "all_deployments_in_cooldown", 429, {"Retry-After": relay.retry_after})


async def _litellm_budget(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    # litellm/proxy/_types.py ProxyErrorTypes.budget_exceeded.
    return _litellm("Budget has been exceeded! Current cost: 5.0, Max budget: 1.0", "budget_exceeded", 429)


async def _newapi_no_channel(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    # middleware/distributor.go, text from i18n/locales/zh-CN.yaml distributor.no_available_channel.
    return _new_api(
        "分组 default 下模型 gemini-x 无可用渠道（distributor）", "model_not_found", 503, param=False
    )


async def _newapi_quota(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    # The pre-consume check of the user's quota.
    return _new_api("用户额度不足, 剩余额度: ＄0.000000", "insufficient_user_quota", 403)


async def _newapi_token_exhausted(
    relay: FakeRelay, request: web.Request, body: dict[str, Any]
) -> web.Response:
    # middleware/auth.go refuses a token with no quota left: 401, no code (zh-CN.yaml token.exhausted).
    return _new_api("该令牌额度已用尽 TokenStatusExhausted[sk-abc***xyz]", "", 401, param=False)


async def _newapi_sensitive(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    # controller/relay.go: NewError with no text of its own, so status 500 and the code as message.
    return _new_api("sensitive_words_detected", "sensitive_words_detected", 500)


async def _google_location(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply(
        _google_error(400, "FAILED_PRECONDITION", "User location is not supported for the API use."), 400
    )


async def _google_per_minute(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    details = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                }
            ],
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"},
    ]
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
    )
    return reply(_google_error(429, "RESOURCE_EXHAUSTED", message, details=details), 429)


# Someone else's credentials (the upstream's, not the bot's), each in another shape, none sk-… or AIza….
FOREIGN_KEYS = (
    "up-Q1w2E3r4T5y6",
    "up-A9s8D7f6G5h4",
    "up-Z1x2C3v4B5n6",
    "dXBzdHJlYW06c2VjcmV0",
    "up-P0o9I8u7Y6t5",
)


def _foreign_keys(status: int) -> Handler:
    """An upstream error passed through by the relay, carrying the upstream's keys: in a URL (its &
    escaped as a Go relay's JSON writes it), a JSON field inside the message, a header dump, a Basic
    credential and (in the 400) a bearer."""

    async def answer(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
        url, field, header, basic, bearer = FOREIGN_KEYS
        message = (
            f"upstream said 401 for https://up.example/v1beta/models/x:generateContent?alt=sse\\u0026key={url}: "
            f'{{\\"error\\": {{\\"api_key\\": \\"{field}\\"}}}} with headers x-goog-api-key: {header}; '
            f"Authorization: Basic {basic}"
        )
        if status == 400:
            message += f" and Bearer {bearer}"
        raw = f'{{"error": {{"message": "{message}", "type": "upstream_error", "code": "bad_response_status_code"}}}}'
        return web.Response(status=status, text=raw, content_type="application/json")

    return answer


async def _key_echo(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    """A relay that repeats the caller's credentials in its error, as some do."""
    key = (
        request.query.get("key")
        or request.headers.get("x-goog-api-key")
        or request.headers.get("Authorization", "")
    )
    message = f"invalid request for key {key} at {request.url}"
    return reply({"error": {"message": message, "type": "upstream_error", "code": 400}}, 400)


MODES: dict[str, Handler] = {
    "http_400": _http_400,
    "http_400_key": _http_400_key,
    "http_401": _http_401,
    "http_403": _http_403,
    "http_404": _http_404,
    "http_429": _http_429,
    "http_429_retry_info": _http_429_retry_info,
    "http_429_quota": _http_429_quota,
    "http_500": _http_500,
    "http_503": _http_503,
    "html_502": _html_502,
    "malformed": _malformed,
    "slow": _slow,
    "gated": _gated,
    "key_echo": _key_echo,
    "foreign_keys_500": _foreign_keys(500),
    "foreign_keys_400": _foreign_keys(400),
    "litellm_unknown_model": _litellm_unknown_model,
    "litellm_cooldown": _litellm_cooldown,
    "litellm_budget": _litellm_budget,
    "newapi_no_channel": _newapi_no_channel,
    "newapi_quota": _newapi_quota,
    "newapi_token_exhausted": _newapi_token_exhausted,
    "newapi_sensitive": _newapi_sensitive,
    "google_location": _google_location,
    "google_per_minute": _google_per_minute,
}
