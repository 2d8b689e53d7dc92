from __future__ import annotations

import logging
import time

import aiohttp
import pytest

from bot.errors import (
    ContentBlocked,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamModelNotFound,
    UpstreamQuotaExhausted,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from bot.http import (
    HttpClient,
    HttpResponse,
    RetryPolicy,
    error_from_response,
    parse_error_body,
    retry_after_header,
)
from bot.redact import Redactor
from tests.fakes.relay import FakeRelay

KEY = "sk-relaysecret0123456789"


def response(status: int, body: str, **headers: str) -> HttpResponse:
    return HttpResponse(status, headers, body.encode())


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, '{"error":{"message":"bad token","type":"new_api_error"}}', UpstreamAuthFailed),
        (403, "账号不可用", UpstreamAuthFailed),
        (
            400,
            '{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"API key not valid."}}',
            UpstreamAuthFailed,
        ),
        (429, '{"error":{"code":"insufficient_quota","message":"quota"}}', UpstreamQuotaExhausted),
        (403, '{"error":{"message":"用户余额不足"}}', UpstreamQuotaExhausted),
        (429, '{"error":{"code":429,"status":"RESOURCE_EXHAUSTED"}}', UpstreamRateLimited),
        (404, '{"error":{"code":404,"status":"NOT_FOUND"}}', UpstreamModelNotFound),
        (
            400,
            '{"error":{"code":"moderation_blocked","message":"rejected by the safety system"}}',
            ContentBlocked,
        ),
        (400, '{"error":{"message":"Invalid value"}}', UpstreamRejectedRequest),
        (413, "Request Entity Too Large", UpstreamRejectedRequest),
        (500, "", UpstreamUnavailable),
        (502, "<html><body>Bad gateway</body></html>", UpstreamUnavailable),
        (504, '{"error":{"status":"DEADLINE_EXCEEDED"}}', UpstreamTimeout),
        (408, "", UpstreamTimeout),
    ],
)
def test_error_classification(status: int, body: str, error: type) -> None:
    assert type(error_from_response(response(status, body), Redactor())) is error


def test_retry_delay_from_header_or_google_retry_info() -> None:
    err = error_from_response(response(429, "{}", **{"Retry-After": "7"}), Redactor())
    assert isinstance(err, UpstreamRateLimited) and err.retry_after == 7
    body = '[{"error":{"code":429,"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"53s"}]}}]'
    err = error_from_response(response(429, body), Redactor())
    assert isinstance(err, UpstreamRateLimited) and err.retry_after == 53
    assert retry_after_header({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0
    assert retry_after_header({"Retry-After": "soon"}) is None


def test_error_body_shapes() -> None:
    assert parse_error_body('{"code":24,"description":"存在敏感词"}').message == "存在敏感词"
    info = parse_error_body('{"error":{"message":"rejected (request id: 2026112401)","type":"x","code":"c"}}')
    assert (info.message, info.code) == ("rejected", "c")
    assert parse_error_body("<!DOCTYPE html><html>…").message == "(an HTML error page)"
    assert parse_error_body('{"error":"plain"}').message == "plain"


def test_error_messages_are_redacted() -> None:
    body = f'{{"error":{{"message":"bad key {KEY} at https://r/x?key={KEY}"}}}}'
    err = error_from_response(response(400, body), Redactor([KEY]))
    assert KEY not in str(err)


@pytest.fixture
async def client(relay: FakeRelay):  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as session:
        yield HttpClient(session, Redactor([KEY]), RetryPolicy(attempts=3, base_delay=0.01, deadline=5))


async def post(client: HttpClient, relay: FakeRelay) -> HttpResponse:
    url = f"{relay.base_url}/v1beta/models/gemini-x:generateContent?key={KEY}"
    return await client.request("POST", url, json_body={"contents": []}, timeout=2)


@pytest.mark.parametrize(
    "modes", [["http_429", "ok"], ["http_429_retry_info", "ok"], ["http_500", "http_503", "ok"]]
)
async def test_retryable_errors_are_retried(client: HttpClient, relay: FakeRelay, modes: list[str]) -> None:
    relay.queue(*modes)
    assert (await post(client, relay)).status == 200
    assert len(relay.generate_calls()) == len(modes)


@pytest.mark.parametrize(
    ("modes", "error", "calls"),
    [
        (["http_400"], UpstreamRejectedRequest, 1),
        (["http_401"], UpstreamAuthFailed, 1),
        (["http_429_quota"], UpstreamQuotaExhausted, 1),
        (["http_500", "http_500", "html_502"], UpstreamUnavailable, 3),
    ],
)
async def test_failures(
    client: HttpClient, relay: FakeRelay, modes: list[str], error: type, calls: int
) -> None:
    relay.queue(*modes)
    with pytest.raises(error):
        await post(client, relay)
    assert len(relay.generate_calls()) == calls


async def test_retry_after_beyond_the_deadline_is_not_waited_for(
    client: HttpClient, relay: FakeRelay
) -> None:
    relay.retry_after = "60"
    relay.queue("http_429")
    started = time.monotonic()
    with pytest.raises(UpstreamRateLimited):
        await post(client, relay)
    assert time.monotonic() - started < 2


async def test_timeout(relay: FakeRelay) -> None:
    relay.slow_seconds = 5
    relay.queue("slow", "slow")
    async with aiohttp.ClientSession() as session:
        client = HttpClient(session, Redactor(), RetryPolicy(attempts=2, base_delay=0.01, deadline=5))
        with pytest.raises(UpstreamTimeout) as info:
            await client.request("POST", f"{relay.base_url}/v1beta/models/m:generateContent", timeout=0.2)
    assert info.value.params == {"seconds": 0}
    assert len(relay.generate_calls()) == 2


async def test_connection_refused_is_unavailable() -> None:
    async with aiohttp.ClientSession() as session:
        client = HttpClient(session, Redactor(), RetryPolicy(attempts=2, base_delay=0.01))
        with pytest.raises(UpstreamUnavailable):
            await client.request("GET", "http://127.0.0.1:9/nothing", timeout=1)


async def test_oversized_body_is_refused(client: HttpClient, relay: FakeRelay) -> None:
    with pytest.raises(UpstreamBadResponse):
        url = f"{relay.base_url}/v1beta/models/m:generateContent"
        await client.request("POST", url, json_body={}, timeout=2, max_bytes=100)


async def test_logs_never_hold_the_key(
    client: HttpClient, relay: FakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    relay.queue("key_echo")
    with pytest.raises(UpstreamRejectedRequest) as info:
        await post(client, relay)
    assert "invalid request for key" in caplog.text
    assert KEY not in caplog.text
    assert KEY not in str(info.value)
