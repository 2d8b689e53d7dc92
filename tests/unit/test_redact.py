from __future__ import annotations

import logging

import pytest

from bot.http import ErrorInfo, classify_error
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


# Someone else's key, in the shapes upstream text carries it (issue 12, defect 10). FOREIGN is not one
# of the bot's own secrets and looks like neither sk-… nor AIza….
FOREIGN = "up-9f8E7d6C5b4A3"


@pytest.mark.parametrize(
    "text",
    [
        # Query strings, with or without a leading ?/&, for every credential name.
        *(f"GET https://up.example/v1?{name}={FOREIGN}&alt=sse" for name in ("key", "api_key", "apikey")),
        *(
            f"https://up.example/v1?alt=sse&{name}={FOREIGN}"
            for name in ("api-key", "x-goog-api-key", "token")
        ),
        *(f"sent {name}={FOREIGN} upstream" for name in ("access_token", "secret", "client_secret")),
        *(f"form: {name}={FOREIGN}; next" for name in ("authorization", "password", "key")),
        # A URL inside a URL, percent-encoded; a Go relay's JSON escapes & as \u0026.
        f"redirect=https%3A%2F%2Fup.example%2Fv1%3Falt%3Dsse%26key%3D{FOREIGN}%26b%3D1",
        f'{{"message": "GET https://up.example/v1?alt=sse\\u0026key={FOREIGN}\\u0026b=1"}}',
        # JSON fields: spaces or none, single or double quotes, escaped inside a JSON string, bare values.
        *(f'{{"{name}": "{FOREIGN}"}}' for name in ("key", "api_key", "x-goog-api-key", "client_secret")),
        *(f'{{"{name}":"{FOREIGN}"}}' for name in ("apikey", "token", "access_token", "password")),
        f"{{'secret' :  '{FOREIGN}'}}",
        f'{{"error": {{"message": "upstream said {{\\"api_key\\": \\"{FOREIGN}\\"}}"}}}}',
        '{"token": 80422517339}',
        # Headers and schemes, whatever the value's shape.
        f"x-goog-api-key: {FOREIGN}",
        f"Authorization: {FOREIGN}",
        f"Authorization: Basic {FOREIGN}",
        f"upstream refused Bearer {FOREIGN} at the door",
        f'{{"Authorization": "Bearer {FOREIGN}"}}',
    ],
)
def test_a_foreign_credential_is_masked_in_any_shape(text: str) -> None:
    masked = Redactor()(text)
    secret = "80422517339" if "80422517339" in text else FOREIGN
    assert secret not in masked, masked
    assert "***" in masked


@pytest.mark.parametrize(
    "text",
    [
        "token limit exceeded",
        '{"error": {"message": "token limit exceeded", "code": "token_limit_exceeded"}}',
        "max_tokens=4096&temperature=1",
        '{"usageMetadata": {"promptTokenCount": 12, "candidatesTokenCount": 1290}}',
        "Bearer tokens are not accepted here; use Basic authentication",
        "the key to the city",
        '{"key": null}',
    ],
)
def test_ordinary_words_that_name_credentials_stay(text: str) -> None:
    assert Redactor()(text) == text


def test_an_error_inside_a_200_answer_is_masked_too() -> None:
    error = classify_error(400, ErrorInfo(message=f'bad request {{"api_key": "{FOREIGN}"}}'))
    assert FOREIGN not in str(error)
