from __future__ import annotations

import pytest

from bot.errors import ContentBlocked, NoImageReturned, UpstreamBadResponse
from bot.http import classify_error, parse_error_body
from bot.providers.base import GenerateRequest, InputImage
from bot.providers.gemini import build_body, capabilities, judge, parse_answer, refused_the_key
from tests.fakes.relay import b64, png

PNG = png(8, 8)


def inline(camel: bool = True, **extra: object) -> dict[str, object]:
    if camel:
        return {"inlineData": {"mimeType": "image/png", "data": b64(PNG)}, **extra}
    return {"inline_data": {"mime_type": "image/png", "data": b64(PNG)}, **extra}


def answer(parts: list[dict[str, object]], finish: str = "STOP") -> dict[str, object]:
    return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": finish}]}


def test_body_for_a_model_without_sizes_omits_image_size() -> None:
    request = GenerateRequest("a cat", "gemini-2.5-flash-image", aspect_ratio="16:9", size="2K")
    assert build_body(request, capabilities(request.model)) == {
        "contents": [{"role": "user", "parts": [{"text": "a cat"}]}],
        "generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "16:9"}},
    }


def test_body_with_size_and_input_images() -> None:
    request = GenerateRequest(
        "blend", "gemini-3-pro-image-preview", size="4K", images=(InputImage(PNG, "image/png"),)
    )
    body = build_body(request, capabilities(request.model))
    assert body["contents"][0]["parts"][1] == {"inline_data": {"mime_type": "image/png", "data": b64(PNG)}}
    assert body["generationConfig"]["imageConfig"] == {"imageSize": "4K"}


def test_capabilities_by_family() -> None:
    assert capabilities("gemini-2.5-flash-image").sizes == ()
    assert capabilities("gemini-3-pro-image-preview").sizes == ("1K", "2K", "4K")
    assert "1:8" in capabilities("gemini-3.1-flash-image-preview").aspect_ratios
    assert "1:8" not in capabilities("gemini-3-pro-image-preview").aspect_ratios
    assert capabilities("gemini-2.5-flash-image").max_input_images == 3


@pytest.mark.parametrize("camel", [True, False])
def test_inline_image_in_either_spelling(camel: bool) -> None:
    data = answer([{"text": "Here you go"}, inline(camel)])
    if not camel:
        data["candidates"][0]["finish_reason"] = data["candidates"][0].pop("finishReason")  # type: ignore[index]
    parsed = parse_answer(data)
    assert [i.data for i in parsed.images] == [PNG]
    assert parsed.images[0].mime == "image/png"
    assert parsed.said == "Here you go"


def test_thought_parts_are_skipped_and_signatures_are_not_images() -> None:
    draft = {"inlineData": {"mimeType": "image/png", "data": b64(png(4, 4))}, "thought": True}
    parsed = parse_answer(
        answer(
            [draft, {"text": "thinking", "thought": True}, inline(thoughtSignature="c2ln"), {"text": "Done"}]
        )
    )
    assert [i.data for i in parsed.images] == [PNG]
    assert parsed.said == "Done"


def test_base64_variants_are_decoded() -> None:
    raw = b64(PNG)
    wrapped = "data:image/png;base64," + "\n".join(raw[i : i + 40] for i in range(0, len(raw), 40))
    urlsafe = raw.replace("+", "-").replace("/", "_").rstrip("=")
    for data in (wrapped, urlsafe):
        parsed = parse_answer(answer([{"inlineData": {"mimeType": "image/jpeg", "data": data}}]))
        assert parsed.images[0].data == PNG and parsed.images[0].mime == "image/png"


def test_non_image_inline_data_is_ignored() -> None:
    parsed = parse_answer(answer([{"inlineData": {"mimeType": "image/png", "data": b64(b"not an image")}}]))
    assert parsed.images == []


def test_urls_in_parts() -> None:
    parts = [
        {"text": "![img](https://cdn.example/a.png?x=1\\u0026y=2)", "thoughtSignature": "c2ln"},
        {"fileData": {"mimeType": "image/png", "fileUri": "https://cdn.example/b.webp"}},
        {"text": "download: https://cdn.example/c.jpg"},
        {"text": "see https://example.com/about for our terms"},
    ]
    parsed = parse_answer(answer(parts))
    assert parsed.urls == [
        "https://cdn.example/a.png?x=1&y=2",
        "https://cdn.example/b.webp",
        "https://cdn.example/c.jpg",
    ]
    assert parsed.said == "see https://example.com/about for our terms"


@pytest.mark.parametrize(
    ("data", "reason_key"),
    [
        ({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}, "block.prompt"),
        ({"prompt_feedback": {"block_reason": "SAFETY"}}, "block.prompt"),
        ({"candidates": [{"finishReason": "IMAGE_SAFETY"}]}, "block.image"),
        ({"candidates": [{"finishReason": "SAFETY", "content": {}}]}, "block.prompt"),
        ({"candidates": [{"finishReason": "IMAGE_RECITATION"}]}, "block.recitation"),
        ({"candidates": None, "usageMetadata": {"candidatesTokenCount": 0}}, "block.moderation"),
    ],
)
def test_blocks(data: dict[str, object], reason_key: str) -> None:
    with pytest.raises(ContentBlocked) as info:
        judge(parse_answer(data))
    assert info.value.params == {"reason_key": reason_key}


@pytest.mark.parametrize(
    ("data", "reason", "said"),
    [
        (answer([{"text": "I can only describe it."}]), "TEXT_ONLY", "I can only describe it."),
        ({"candidates": [{"finishReason": "NO_IMAGE"}]}, "NO_IMAGE", ""),
        ({"candidates": [{"finishReason": "OTHER", "finishMessage": "try later"}]}, "OTHER", "try later"),
        ({"candidates": []}, "TEXT_ONLY", ""),
        ({}, "TEXT_ONLY", ""),
    ],
)
def test_no_image(data: dict[str, object], reason: str, said: str) -> None:
    with pytest.raises(NoImageReturned) as info:
        judge(parse_answer(data))
    assert str(info.value) == reason
    assert info.value.params == {"said": said}


def test_not_an_object() -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_answer(["nope"])


@pytest.mark.parametrize(
    ("status", "body", "refused"),
    [
        # LiteLLM's /gemini pass-through given a bearer: no key where it reads one (a 400).
        (
            400,
            '{"error": {"message": "Authentication Error, LiteLLM Virtual Key expected. Received=None, '
            'expected to start with \'sk-\'.", "type": "auth_error", "param": "None", "code": "400"}}',
            True,
        ),
        (401, '{"error": {"message": "无效的令牌", "type": "new_api_error", "code": ""}}', True),
        (
            403,
            '{"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}}',
            True,
        ),
        (
            400,
            '{"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}',
            True,
        ),
        # Not about the key: the way it is sent cannot help.
        (
            400,
            '{"error": {"code": 400, "message": "Invalid value at x", "status": "INVALID_ARGUMENT"}}',
            False,
        ),
        (
            403,
            '{"error": {"message": "用户额度不足", "type": "new_api_error", "code": "insufficient_user_quota"}}',
            False,
        ),
        (
            500,
            '{"error": {"code": 500, "message": "Internal error encountered.", "status": "INTERNAL"}}',
            False,
        ),
    ],
)
def test_which_refusals_may_come_from_the_way_the_key_is_sent(status: int, body: str, refused: bool) -> None:
    assert refused_the_key(classify_error(status, parse_error_body(body))) is refused
