"""Relay error families read right, whatever status they come with (issue 12, defect 9)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.errors import (
    ContentBlocked,
    UpstreamAuthFailed,
    UpstreamCoolingDown,
    UpstreamModelNotFound,
    UpstreamQuotaExhausted,
    UpstreamRateLimited,
    UpstreamRegionRefused,
    UpstreamRejectedRequest,
)
from bot.http import classify_error, parse_error_body
from bot.providers.midjourney import banned_word

# Each body is shaped as its source writes it (the file named above it). new-api writes every error of
# its own as {"error": {"message": "<text> (request id: <id>)", "type": "new_api_error", "param": "",
# "code": "<code>"}} (middleware/utils.go abortWithOpenAiMessage, controller/relay.go Relay with
# types/error.go ToOpenAIError); LiteLLM's proxy as {"error": {"message", "type", "param", "code"}}
# with `code` a string and a missing type or param written "None" (litellm/proxy/_types.py
# ProxyException.to_dict).
NEW_API_RID = " (request id: 20261201112233445566778899)"


def new_api(message: str, code: str, param: bool = True) -> str:
    error = {"message": message + NEW_API_RID, "type": "new_api_error", "code": code}
    return json.dumps({"error": {**error, "param": ""} if param else error}, ensure_ascii=False)


def litellm(message: Any, type_: str = "None", code: str = "400") -> str:
    return json.dumps({"error": {"message": message, "type": type_, "param": "None", "code": code}})


def google(code: int, status: str, message: str, *details: dict[str, Any]) -> str:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        error["details"] = list(details)
    return json.dumps({"error": error})


RETRY_0S = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"}
KEY_INVALID = {
    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
    "reason": "API_KEY_INVALID",
    "domain": "googleapis.com",
}
PER_MINUTE = {
    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
    "violations": [
        {
            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
        }
    ],
}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        # --- LiteLLM -------------------------------------------------------------------------------
        # route_llm_request.py: an unknown model is an HTTPException(400) whose detail is a dict; the
        # proxy writes its str() as the message (older versions the dict itself, issue BerriAI/litellm#8821).
        pytest.param(
            400,
            litellm(
                "{'error': '/images/generations: Invalid model name passed in model=gpt-x. "
                "Call `/v1/models` to view available models for your key.'}"
            ),
            UpstreamModelNotFound,
            id="litellm-invalid-model-name",
        ),
        pytest.param(
            400,
            litellm({"error": "/chat/completions: Invalid model name passed in model=gpt-x."}),
            UpstreamModelNotFound,
            id="litellm-invalid-model-name-dict",
        ),
        # types/router.py RouterRateLimitError: type all_deployments_in_cooldown; _types.py makes any
        # "No deployments available" a code "429".
        pytest.param(
            429,
            litellm(
                "No deployments available for selected model, Try again in 5 seconds. All deployments for "
                "selected model are in cooldown. Passed model=gemini-x. pre-call-checks=False, "
                "cooldown_list=['a1b2']",
                "all_deployments_in_cooldown",
                "429",
            ),
            UpstreamCoolingDown,
            id="litellm-cooldown",
        ),
        # Older LiteLLM: the same router error with no type.
        pytest.param(
            429,
            litellm("No deployments available for selected model, Try again in 60 seconds.", code="429"),
            UpstreamCoolingDown,
            id="litellm-cooldown-untyped",
        ),
        # types/router.py RouterErrors.no_healthy_deployments, raised as a BadRequestError.
        pytest.param(
            400,
            litellm(
                "litellm.BadRequestError: You passed in model=gemini-x. There is no 'model_name' with this "
                "string "
            ),
            UpstreamModelNotFound,
            id="litellm-no-model-name",
        ),
        # _types.py ProxyErrorTypes.key_model_access_denied: the key may not use this model.
        pytest.param(
            401,
            litellm(
                "key not allowed to access model. This key can only access models=['gpt-image-1']. "
                "Tried to access gemini-x",
                "key_model_access_denied",
                "401",
            ),
            UpstreamModelNotFound,
            id="litellm-key-model-access-denied",
        ),
        # _types.py ProxyErrorTypes.budget_exceeded, as LiteLLM's BudgetExceededError words it.
        pytest.param(
            429,
            litellm("Budget has been exceeded! Current cost: 5.0, Max budget: 1.0", "budget_exceeded", "429"),
            UpstreamQuotaExhausted,
            id="litellm-budget-exceeded",
        ),
        # user_api_key_auth: the /gemini pass-through got no x-goog-api-key or ?key= (a bearer).
        pytest.param(
            400,
            litellm(
                "Authentication Error, LiteLLM Virtual Key expected. Received=None, expected to start "
                "with 'sk-'.",
                "auth_error",
                "400",
            ),
            UpstreamAuthFailed,
            id="litellm-auth-error-400",
        ),
        # --- new-api ------------------------------------------------------------------------------
        # middleware/distributor.go: no channel serves the model: 503, code model_not_found, the text
        # from i18n/locales/{zh-CN,en}.yaml distributor.no_available_channel.
        pytest.param(
            503,
            new_api("分组 default 下模型 gemini-x 无可用渠道（distributor）", "model_not_found", param=False),
            UpstreamModelNotFound,
            id="newapi-no-available-channel-zh",
        ),
        pytest.param(
            503,
            new_api(
                "No available channel for model gemini-x under group default (distributor)",
                "model_not_found",
                param=False,
            ),
            UpstreamModelNotFound,
            id="newapi-no-available-channel-en",
        ),
        # distributor.go: the token's model list leaves this model out (403, no code).
        pytest.param(
            403,
            new_api("该令牌无权访问模型 gemini-x", "", param=False),
            UpstreamModelNotFound,
            id="newapi-token-model-forbidden",
        ),
        # relay/helper price: the model has no price set (types.NewError: status 500).
        pytest.param(
            500,
            new_api(
                "模型 gemini-x 倍率或价格未配置，请联系管理员设置或开始自用模式；Model gemini-x ratio or "
                "price not set, please set or start self-use mode",
                "model_price_error",
            ),
            UpstreamModelNotFound,
            id="newapi-model-price-not-set",
        ),
        # service pre-consume: the user's quota (403, insufficient_user_quota) …
        pytest.param(
            403,
            new_api("用户额度不足, 剩余额度: ＄0.000000", "insufficient_user_quota"),
            UpstreamQuotaExhausted,
            id="newapi-insufficient-user-quota",
        ),
        # … and the token's own (403, pre_consume_token_quota_failed).
        pytest.param(
            403,
            new_api(
                "token quota is not enough, token remain quota: ＄0.01, need quota: ＄0.04",
                "pre_consume_token_quota_failed",
            ),
            UpstreamQuotaExhausted,
            id="newapi-pre-consume-token-quota",
        ),
        # middleware/auth.go: a token whose quota ran out is refused at the door (401, no code),
        # with token.exhausted from zh-CN.yaml.
        pytest.param(
            401,
            new_api("该令牌额度已用尽 TokenStatusExhausted[sk-abc***xyz]", "", param=False),
            UpstreamQuotaExhausted,
            id="newapi-token-exhausted",
        ),
        # middleware/auth.go: an unknown token (401, token.invalid, no code).
        pytest.param(
            401, new_api("无效的令牌", "", param=False), UpstreamAuthFailed, id="newapi-invalid-token"
        ),
        # controller/relay.go: sensitive words found; the error has no text of its own and NewError's
        # default status is 500, so the message is the code itself.
        pytest.param(
            500,
            new_api("sensitive_words_detected", "sensitive_words_detected"),
            ContentBlocked,
            id="newapi-sensitive-words",
        ),
        pytest.param(
            400, new_api("prompt blocked", "prompt_blocked"), ContentBlocked, id="newapi-prompt-blocked"
        ),
        # --- Google ---------------------------------------------------------------------------------
        # A per-minute rate limit is worded as quota and billing, with a retry delay: rate limited.
        pytest.param(
            429,
            google(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details. For more "
                "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.",
                PER_MINUTE,
                RETRY_0S,
            ),
            UpstreamRateLimited,
            id="google-resource-exhausted-per-minute",
        ),
        # "limit: 0": the key's tier has no such model at all; waiting does not help.
        pytest.param(
            429,
            google(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details.\n* Quota "
                "exceeded for metric: generativelanguage.googleapis.com/generate_content_free_tier_requests, "
                "limit: 0, model: gemini-2.5-flash-image\nPlease retry in 20.04s.",
                RETRY_0S,
            ),
            UpstreamQuotaExhausted,
            id="google-limit-0",
        ),
        pytest.param(
            400,
            google(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", KEY_INVALID),
            UpstreamAuthFailed,
            id="google-api-key-invalid",
        ),
        pytest.param(
            403,
            google(
                403, "PERMISSION_DENIED", "Your API key was reported as leaked. Please use another API key."
            ),
            UpstreamAuthFailed,
            id="google-permission-denied",
        ),
        pytest.param(
            400,
            google(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
            UpstreamRegionRefused,
            id="google-location-not-supported",
        ),
        pytest.param(
            400,
            google(400, "INVALID_ARGUMENT", "Invalid value at 'generation_config.image_config'"),
            UpstreamRejectedRequest,
            id="google-invalid-argument",
        ),
        pytest.param(
            404,
            google(404, "NOT_FOUND", "models/gemini-x is not found for API version v1beta"),
            UpstreamModelNotFound,
            id="google-not-found",
        ),
        # --- OpenAI-shaped --------------------------------------------------------------------------
        pytest.param(
            400,
            '{"error": {"message": "bad size", "type": "invalid_request_error"}}',
            UpstreamRejectedRequest,
            id="openai-invalid-request",
        ),
        # Ordinary words that name a token are not an auth failure.
        pytest.param(
            400,
            '{"error": {"message": "token limit exceeded for this prompt", "type": "invalid_request_error"}}',
            UpstreamRejectedRequest,
            id="openai-token-limit",
        ),
    ],
)
def test_relay_error_families(status: int, body: str, expected: type) -> None:
    error = classify_error(status, parse_error_body(body))
    assert type(error) is expected, error
    assert "request id" not in str(error)


def test_litellm_detail_is_read_as_its_text() -> None:
    info = parse_error_body(litellm("{'error': '/chat/completions: Invalid model name passed in model=x.'}"))
    assert info.message == "/chat/completions: Invalid model name passed in model=x."
    assert (info.code, info.type) == ("400", "")


def test_google_rate_limit_waits_its_retry_delay() -> None:
    error = classify_error(
        429, parse_error_body(google(429, "RESOURCE_EXHAUSTED", "quota", PER_MINUTE, RETRY_0S))
    )
    assert isinstance(error, UpstreamRateLimited) and error.retry_after == 0.0
    assert error.retryable


def test_the_request_id_suffix_is_never_shown() -> None:
    info = parse_error_body('{"error": {"message": "bad size (request id: 2025112300000000001)"}}')
    assert "request id" not in info.message


@pytest.mark.parametrize(
    ("reason", "word"),
    [
        ("Banned prompt: nsfw", "nsfw"),
        ("[Banned prompt] The word `gore` is banned. Circumventing this filter may result in a ban.", "gore"),
        ("Sensitive content detected", ""),
    ],
)
def test_midjourney_names_the_banned_word(reason: str, word: str) -> None:
    assert banned_word(reason) == word
