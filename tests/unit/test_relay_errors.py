"""Relay error families read right, whatever status they come with (issue 12, defect 9)."""

from __future__ import annotations

import pytest

from bot.errors import (
    ContentBlocked,
    UpstreamCoolingDown,
    UpstreamModelNotFound,
    UpstreamQuotaExhausted,
    UpstreamRejectedRequest,
)
from bot.http import classify_error, parse_error_body
from bot.providers.midjourney import banned_word


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        # LiteLLM: an unknown model is a 400 "Invalid model name".
        (
            400,
            '{"error": {"message": "Invalid model name passed in model=gpt-x", "type": "invalid_request_error"}}',
            UpstreamModelNotFound,
        ),
        # new-api: model_not_found, and "no available channel" (无可用渠道) as a 503.
        (
            503,
            '{"error": {"message": "当前分组 default 下对于模型 gpt-x 无可用渠道", "type": "new_api_error", "code": "model_not_found"}}',
            UpstreamModelNotFound,
        ),
        (
            503,
            '{"error": {"message": "no available channel for model gpt-x", "type": "new_api_error"}}',
            UpstreamModelNotFound,
        ),
        # LiteLLM's router resting a deployment: not the member's rate limit.
        (
            429,
            '{"error": {"message": "No deployments available for selected model", "type": "None", "code": "429", "param": "all_deployments_in_cooldown"}}',
            UpstreamCoolingDown,
        ),
        # new-api quota codes, whatever the status.
        (
            403,
            '{"error": {"message": "用户额度不足, 剩余额度: $0.01", "type": "new_api_error", "code": "insufficient_user_quota"}}',
            UpstreamQuotaExhausted,
        ),
        (
            500,
            '{"error": {"message": "pre-consume quota failed", "type": "new_api_error", "code": "pre_consume_token_quota_failed"}}',
            UpstreamQuotaExhausted,
        ),
        (
            400,
            '{"error": {"message": "sensitive words detected", "code": "sensitive_words_detected"}}',
            ContentBlocked,
        ),
        (400, '{"error": {"message": "bad size", "type": "invalid_request_error"}}', UpstreamRejectedRequest),
    ],
)
def test_relay_error_families(status: int, body: str, expected: type) -> None:
    error = classify_error(status, parse_error_body(body))
    assert type(error) is expected, error


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
