from __future__ import annotations

import logging

from bot.redact import RedactingFormatter, Redactor

KEY = "sk-relaysecret0123456789"
TOKEN = "MTAw.abc.def-token"


def test_own_secrets_in_plain_and_url_encoded_form() -> None:
    redact = Redactor([KEY, "a+b/c=d==secret"])
    assert redact(f"key {KEY} and a%2Bb%2Fc%3Dd%3D%3Dsecret") == "key *** and ***"


def test_credential_shapes_that_are_not_ours() -> None:
    redact = Redactor()
    assert (
        redact("GET https://r/x?alt=sse&key=AIzaSyA-1234567890abcdefghijklmnopqrstu")
        == "GET https://r/x?alt=sse&key=***"
    )
    assert redact("Authorization: Bearer abc.def-ghi") == "Authorization: Bearer ***"
    assert redact("used sk-live_ABCDEFGHIJKL1234") == "used sk-***"
    assert redact("AIzaSyA-1234567890abcdefghijklmnopqrstu") == "AIza***"


def test_short_values_are_not_treated_as_secrets() -> None:
    assert Redactor(["abc"])("abc is fine") == "abc is fine"


def test_formatter_redacts_messages_arguments_and_tracebacks() -> None:
    formatter = RedactingFormatter(Redactor([KEY, TOKEN]), "{message}")
    try:
        raise RuntimeError(f"failed with {KEY}")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s", (TOKEN,), sys.exc_info())
    text = formatter.format(record)
    assert "RuntimeError" in text
    assert KEY not in text and TOKEN not in text


def test_interaction_tokens_in_webhook_and_callback_paths() -> None:
    redact = Redactor()
    assert (
        redact("PATCH https://discord.com/api/v10/webhooks/1000/aW50ZXJhY3Rpb246dG9rZW4/messages/@original")
        == "PATCH https://discord.com/api/v10/webhooks/1000/***/messages/@original"
    )
    assert redact("POST /api/v10/interactions/1573/tok-abc.def/callback") == (
        "POST /api/v10/interactions/1573/***/callback"
    )


def test_credential_fields_in_json_and_gateway_dumps_are_masked() -> None:
    redact = Redactor()
    gateway = (
        "WebSocket Event: {'t': 'INTERACTION_CREATE', 'd': {'id': '1', 'token': 'aW50ZXJhY3Rpb246MTIz'}}"
    )
    assert redact(gateway) == "WebSocket Event: {'t': 'INTERACTION_CREATE', 'd': {'id': '1', 'token': '***'}}"
    upstream = '{"error": {"message": "bad", "api_key": "upstream-key-0123", "access_token": "abc.def"}}'
    assert redact(upstream) == '{"error": {"message": "bad", "api_key": "***", "access_token": "***"}}'
    assert redact('{"Authorization": "Basic dXNlcjpwYXNz"}') == '{"Authorization": "***"}'
    assert redact("form: apikey=zzz123&prompt=cat secret=s3cr3t") == "form: apikey=***&prompt=cat secret=***"
    assert redact('{"model": "gpt-image-1", "prompt": "a key to the city"}') == (
        '{"model": "gpt-image-1", "prompt": "a key to the city"}'
    ), "ordinary words and fields stay"
