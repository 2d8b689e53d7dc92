from __future__ import annotations

import base64
import email
import email.policy
import io
import json
from dataclasses import replace

import aiohttp
import pytest
from PIL import Image

from bot.errors import (
    ContentBlocked,
    NoImageReturned,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamQuotaExhausted,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamUnavailable,
)
from bot.http import HttpResponse, classify_error, error_from_response, parse_error_body
from bot.providers.base import COMMON_RATIOS, GenerateRequest, InputImage, Kind
from bot.providers.openai_images import (
    capabilities,
    edit_form,
    family,
    generation_body,
    parse_answer,
    pixel_size,
)
from bot.redact import Redactor


def encoded(fmt: str, size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 90, 200)).save(buffer, fmt)
    return buffer.getvalue()


PNG = encoded("PNG")
JPEG = encoded("JPEG")
WEBP = encoded("WEBP")
PNG_B64 = base64.b64encode(PNG).decode()


def request(
    model: str, ratio: str | None = None, size: str | None = None, images: int = 0
) -> GenerateRequest:
    inputs = (InputImage(PNG, "image/png"), InputImage(JPEG, "image/jpeg"), InputImage(WEBP, "image/webp"))
    return GenerateRequest("a lighthouse", model, aspect_ratio=ratio, size=size, images=inputs[:images])


# --- model families and limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-image-1", "gpt-image"),
        ("gpt-image-1-mini", "gpt-image"),
        ("gpt-image-1.5", "gpt-image"),
        ("GPT-Image-1", "gpt-image"),
        ("gpt-image-2", "gpt-image-2"),
        ("dall-e-3", "dall-e-3"),
        ("dall-e-2", "dall-e-2"),
        ("gemini-2.5-flash-image", "other"),
        ("jimeng-4.0", "other"),
        ("flux-kontext-pro", "other"),
    ],
)
def test_family(model: str, expected: str) -> None:
    assert family(model) == expected


@pytest.mark.parametrize(
    ("model", "ratios", "sizes", "inputs", "chars", "native", "exact", "blend"),
    [
        ("gpt-image-1", COMMON_RATIOS, ("1K", "2K", "4K"), 16, 32000, True, ("1:1", "3:2", "2:3"), (2, 5)),
        ("gpt-image-2", COMMON_RATIOS, ("1K", "2K", "4K"), 16, 32000, True, (), (2, 5)),
        ("dall-e-3", COMMON_RATIOS, ("1K", "2K", "4K"), 0, 4000, False, ("1:1",), (2, 5)),
        ("dall-e-2", ("1:1",), (), 1, 1000, True, (), (1, 1)),
        ("seedream-4.0", COMMON_RATIOS, ("1K", "2K", "4K"), 10, 8000, True, (), (2, 5)),
    ],
)
def test_capabilities(
    model: str,
    ratios: tuple[str, ...],
    sizes: tuple[str, ...],
    inputs: int,
    chars: int,
    native: bool,
    exact: tuple[str, ...],
    blend: tuple[int, int],
) -> None:
    caps = capabilities(model)
    assert (caps.aspect_ratios, caps.sizes, caps.max_input_images, caps.max_prompt_chars) == (
        ratios,
        sizes,
        inputs,
        chars,
    )
    assert (caps.native_count, caps.exact_ratios, caps.blend_images) == (native, exact, blend)


@pytest.mark.parametrize(
    ("model", "ratio", "size", "expected"),
    [
        ("gpt-image-1", None, None, None),
        ("gpt-image-1", "1:1", None, "1024x1024"),
        ("gpt-image-1", "5:4", None, "1536x1024"),
        ("gpt-image-1", "16:9", "4K", "1536x1024"),
        ("gpt-image-1", "4:5", None, "1024x1536"),
        ("gpt-image-1.5", "9:16", None, "1024x1536"),
        ("dall-e-3", None, None, "1024x1024"),
        ("dall-e-3", "21:9", None, "1792x1024"),
        ("dall-e-3", "2:3", None, "1024x1792"),
        ("dall-e-2", "16:9", None, "1024x1024"),
        ("gpt-image-2", None, None, "1024x1024"),
        ("gpt-image-2", "16:9", "1K", "1024x576"),
        ("gpt-image-2", "16:9", "4K", "3840x2160"),
        ("gpt-image-2", "9:16", "4K", "2160x3840"),
        ("gpt-image-2", "1:1", "4K", "2880x2880"),
        ("gpt-image-2", "4:3", "4K", "3312x2480"),
        ("gpt-image-2", "21:9", "2K", "2048x880"),
        ("jimeng-4.0", None, None, None),
        ("jimeng-4.0", None, "2K", "2048x2048"),
        ("jimeng-4.0", "16:9", None, "1024x576"),
        ("jimeng-4.0", "16:9", "2K", "2048x1152"),
        ("jimeng-4.0", "3:4", "4K", "3072x4096"),
        ("jimeng-4.0", "4:5", "1K", "832x1024"),
        ("jimeng-4.0", "5:4", "1K", "1024x832"),
        ("jimeng-4.0", "2:3", "1K", "704x1024"),
        ("jimeng-4.0", "21:9", "1K", "1024x448"),
    ],
)
def test_pixel_size(model: str, ratio: str | None, size: str | None, expected: str | None) -> None:
    assert pixel_size(model, ratio, size) == expected


@pytest.mark.parametrize("size", ["1K", "2K", "4K"])
@pytest.mark.parametrize("ratio", COMMON_RATIOS)
def test_gpt_image_2_sizes_are_valid(ratio: str, size: str) -> None:
    """Both sides divisible by 16, at most 3840x2160 worth of pixels, and the ratio kept."""
    result = pixel_size("gpt-image-2", ratio, size)
    assert result is not None
    w, h = (int(v) for v in result.split("x"))
    assert w % 16 == 0 and h % 16 == 0
    assert w * h <= 3840 * 2160 and max(w, h) <= 3840
    rw, rh = (int(v) for v in ratio.split(":"))
    assert abs(w / h - rw / rh) / (rw / rh) < 0.03


@pytest.mark.parametrize("ratio", COMMON_RATIOS)
def test_relay_sizes_map_back_to_the_requested_ratio(ratio: str) -> None:
    """Relays that turn pixel sizes into ratios must land on the ratio the member picked."""
    result = pixel_size("gemini-2.5-flash-image", ratio, "1K")
    assert result is not None
    w, h = (int(v) for v in result.split("x"))
    assert w % 64 == 0 and h % 64 == 0

    def distance(r: str) -> float:
        a, b = (int(v) for v in r.split(":"))
        return abs(w / h - a / b)

    assert min(COMMON_RATIOS, key=distance) == ratio


# --- requests --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("req", "count", "body"),
    [
        (
            request("gpt-image-1", "3:2"),
            2,
            {"model": "gpt-image-1", "prompt": "a lighthouse", "n": 2, "size": "1536x1024"},
        ),
        (request("gpt-image-1"), 1, {"model": "gpt-image-1", "prompt": "a lighthouse", "n": 1}),
        (
            request("dall-e-3", "9:16"),
            1,
            {
                "model": "dall-e-3",
                "prompt": "a lighthouse",
                "n": 1,
                "size": "1024x1792",
                "response_format": "b64_json",
            },
        ),
        (
            request("dall-e-2"),
            3,
            {
                "model": "dall-e-2",
                "prompt": "a lighthouse",
                "n": 3,
                "size": "1024x1024",
                "response_format": "b64_json",
            },
        ),
        (
            request("gpt-image-2", "16:9", "4K"),
            1,
            {"model": "gpt-image-2", "prompt": "a lighthouse", "n": 1, "size": "3840x2160"},
        ),
        (
            request("gemini-3-pro-image-preview", "16:9", "2K"),
            1,
            {"model": "gemini-3-pro-image-preview", "prompt": "a lighthouse", "n": 1, "size": "2048x1152"},
        ),
    ],
)
def test_generation_body(req: GenerateRequest, count: int, body: dict[str, object]) -> None:
    assert generation_body(req, count) == body


class _Sink:
    def __init__(self) -> None:
        self.data = b""

    async def write(self, chunk: bytes) -> None:
        self.data += bytes(chunk)


async def parts(form: aiohttp.FormData) -> list[tuple[str, str | None, str, bytes]]:
    """The multipart body as sent: (field name, file name, content type, payload) per part."""
    writer = form()
    sink = _Sink()
    await writer.write(sink)
    raw = f"Content-Type: {writer.headers['Content-Type']}\r\n\r\n".encode() + sink.data
    message = email.message_from_bytes(raw, policy=email.policy.HTTP)
    return [
        (
            str(part.get_param("name", header="content-disposition")),
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    ]


async def test_edit_form_with_one_image() -> None:
    form = edit_form(request("gpt-image-1", "2:3", images=1), 1, "image")
    assert await parts(form) == [
        ("model", None, "text/plain", b"gpt-image-1"),
        ("prompt", None, "text/plain", b"a lighthouse"),
        ("n", None, "text/plain", b"1"),
        ("size", None, "text/plain", b"1024x1536"),
        ("image", "image_1.png", "image/png", PNG),
    ]


async def test_edit_form_with_several_images_uses_one_field_name_and_real_types() -> None:
    form = edit_form(request("gpt-image-1", images=3), 2, "image[]")
    assert await parts(form) == [
        ("model", None, "text/plain", b"gpt-image-1"),
        ("prompt", None, "text/plain", b"a lighthouse"),
        ("n", None, "text/plain", b"2"),
        ("image[]", "image_1.png", "image/png", PNG),
        ("image[]", "image_2.jpg", "image/jpeg", JPEG),
        ("image[]", "image_3.webp", "image/webp", WEBP),
    ]


async def test_edit_form_for_dall_e_2_asks_for_base64() -> None:
    form = edit_form(request("dall-e-2", images=1), 2, "image")
    fields = {name: payload for name, _, _, payload in await parts(form)}
    assert fields["response_format"] == b"b64_json"
    assert fields["size"] == b"1024x1024"
    assert fields["image"] == PNG


async def test_edit_form_unicode_prompt_survives() -> None:
    req = GenerateRequest(
        "把猫变成蓝色", "gpt-image-1", images=(InputImage(PNG, "image/png"),), kind=Kind.EDIT
    )
    fields = {name: payload for name, _, _, payload in await parts(edit_form(req, 1, "image"))}
    assert fields["prompt"].decode() == "把猫变成蓝色"


# --- answers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "urls", "text"),
    [
        pytest.param(
            {
                "created": 1713833628,
                "data": [{"b64_json": PNG_B64, "revised_prompt": None}],
                "background": "opaque",
                "output_format": "png",
                "usage": {"input_tokens": 50, "output_tokens": 4160, "total_tokens": 4210},
            },
            [],
            "",
            id="official-b64",
        ),
        pytest.param({"data": [{"b64Json": PNG_B64}]}, [], "", id="camel-case"),
        pytest.param(
            {"data": [{"b64_json": f"data:image/png;base64,{PNG_B64}"}]}, [], "", id="data-url-prefix"
        ),
        pytest.param({"data": [{"url": "", "b64_json": PNG_B64}]}, [], "", id="empty-url-next-to-b64"),
        pytest.param(
            {"data": [{"b64_json": PNG_B64, "url": "https://cdn.relay.example/same.png"}]},
            [],
            "",
            id="both-fields",
        ),
        pytest.param(
            {
                "code": 200,
                "msg": "success",
                "data": {"created": 1713833628, "data": [{"b64_json": PNG_B64, "url": ""}]},
            },
            [],
            "",
            id="relay-wrapper",
        ),
        pytest.param(
            {"data": [{"b64_json": PNG_B64, "revised_prompt": "A tall lighthouse at dusk"}]},
            [],
            "A tall lighthouse at dusk",
            id="revised-prompt",
        ),
    ],
)
def test_answer_with_base64(answer: dict[str, object], urls: list[str], text: str) -> None:
    images, found_urls, said = parse_answer(answer)
    assert [(i.data, i.mime) for i in images] == [(PNG, "image/png")]
    assert (found_urls, said) == (urls, text)


@pytest.mark.parametrize(
    ("answer", "urls"),
    [
        pytest.param(
            {"data": [{"url": "https://oaidalleapiprodscus.blob.core.windows.net/x.png?se=1&sig=2"}]},
            ["https://oaidalleapiprodscus.blob.core.windows.net/x.png?se=1&sig=2"],
            id="url-only",
        ),
        pytest.param(
            {"data": [{"b64_json": "", "url": "https://cdn.relay.example/a.webp"}]},
            ["https://cdn.relay.example/a.webp"],
            id="empty-b64-next-to-url",
        ),
        pytest.param(
            {"data": [{"url": f"data:image/png;base64,{PNG_B64}"}]},
            [f"data:image/png;base64,{PNG_B64}"],
            id="data-url-in-url",
        ),
        pytest.param(
            {"code": "200", "data": {"data": [{"url": "https://cdn.relay.example/1.png"}, {"url": ""}]}},
            ["https://cdn.relay.example/1.png"],
            id="relay-wrapper-urls",
        ),
    ],
)
def test_answer_with_urls(answer: dict[str, object], urls: list[str]) -> None:
    assert parse_answer(answer) == ([], urls, "")


def test_several_items_keep_their_order() -> None:
    jpeg_b64 = base64.b64encode(JPEG).decode()
    images, urls, _ = parse_answer(
        {"data": [{"b64_json": PNG_B64}, {"url": "https://cdn.relay.example/2.png"}, {"b64_json": jpeg_b64}]}
    )
    assert [(i.data, i.mime) for i in images] == [(PNG, "image/png"), (JPEG, "image/jpeg")]
    assert urls == ["https://cdn.relay.example/2.png"]


def test_base64_that_is_not_an_image_is_dropped() -> None:
    junk = base64.b64encode(b"<html>not a picture</html>").decode()
    assert parse_answer({"data": [{"b64_json": junk}, {"b64_json": "%%%not base64%%%"}]}) == ([], [], "")


@pytest.mark.parametrize(
    "answer",
    [
        {"created": 1, "data": []},
        {"created": 1},
        {"data": None},
        {"code": 200, "msg": "ok", "data": {"data": []}},
        {"code": 0, "data": {"data": None}},
    ],
)
def test_empty_data_is_no_image(answer: dict[str, object]) -> None:
    with pytest.raises(NoImageReturned) as info:
        parse_answer(answer)
    assert info.value.params == {"said": ""}


@pytest.mark.parametrize(
    ("answer", "expected", "message"),
    [
        pytest.param(
            {
                "data": [],
                "error": {
                    "message": "Your request was rejected by the safety system. safety_violations=[sexual].",
                    "type": "image_generation_user_error",
                    "code": "moderation_blocked",
                },
            },
            ContentBlocked,
            "Your request was rejected by the safety system. safety_violations=[sexual].",
            id="moderation",
        ),
        pytest.param(
            {
                "error": {
                    "message": "You exceeded your current quota.",
                    "type": "insufficient_quota",
                    "code": None,
                }
            },
            UpstreamQuotaExhausted,
            "You exceeded your current quota.",
            id="quota-named-by-type",
        ),
        pytest.param(
            {"error": {"message": "Invalid size", "type": "invalid_request_error", "code": "invalid_value"}},
            UpstreamRejectedRequest,
            "Invalid size",
            id="invalid-value",
        ),
        pytest.param(
            {"code": 400, "msg": "prompt contains sensitive words", "data": None},
            ContentBlocked,
            "prompt contains sensitive words",
            id="relay-wrapper-failure",
        ),
        pytest.param(
            {"code": "error", "message": "channel unavailable"},
            UpstreamRejectedRequest,
            "channel unavailable",
            id="relay-wrapper-message",
        ),
        pytest.param({"error": "token expired"}, UpstreamRejectedRequest, "token expired", id="string-error"),
    ],
)
def test_error_bodies_in_the_answer(answer: dict[str, object], expected: type, message: str) -> None:
    with pytest.raises(expected) as info:
        parse_answer(answer)
    assert type(info.value) is expected
    assert str(info.value) == message


@pytest.mark.parametrize("answer", [[{"b64_json": PNG_B64}], "ok", None])
def test_answer_that_is_not_an_object(answer: object) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_answer(answer)


# --- HTTP error bodies (protocols.md §2.3) ---------------------------------------------------------


def openai_error(message: str, type_: str | None, code: str | None, **extra: object) -> str:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code, **extra}})


@pytest.mark.parametrize(
    ("status", "body", "expected", "message", "code"),
    [
        pytest.param(
            400,
            openai_error(
                "Your request was rejected by the safety system. If you believe this is an error, contact us "
                "at help.openai.com and include the request ID req_abc. safety_violations=[sexual]. "
                "(request id: 20261124093015123456789abcdef)",
                "image_generation_user_error",
                "moderation_blocked",
                moderation_details={"moderation_stage": "input", "categories": ["sexual"]},
            ),
            ContentBlocked,
            "Your request was rejected by the safety system. If you believe this is an error, contact us "
            "at help.openai.com and include the request ID req_abc. safety_violations=[sexual].",
            "moderation_blocked",
            id="moderation-blocked",
        ),
        pytest.param(
            400,
            openai_error(
                "Your request was rejected as a result of our safety system. Your prompt may contain text "
                "that is not allowed by our safety system.",
                "invalid_request_error",
                "content_policy_violation",
            ),
            ContentBlocked,
            "Your request was rejected as a result of our safety system. Your prompt may contain text "
            "that is not allowed by our safety system.",
            "content_policy_violation",
            id="content-policy-violation",
        ),
        pytest.param(
            400,
            openai_error(
                "Invalid file 'image[0]': unsupported mimetype ('application/octet-stream'). Supported file "
                "formats are 'image/jpeg', 'image/png', and 'image/webp'.",
                "invalid_request_error",
                "unsupported_file_mimetype",
                param="image[0]",
            ),
            UpstreamRejectedRequest,
            "Invalid file 'image[0]': unsupported mimetype ('application/octet-stream'). Supported file "
            "formats are 'image/jpeg', 'image/png', and 'image/webp'.",
            "unsupported_file_mimetype",
            id="unsupported-mimetype",
        ),
        pytest.param(
            400,
            openai_error(
                "Invalid image file or mode for image 1.", "invalid_request_error", "invalid_image_file"
            ),
            UpstreamRejectedRequest,
            "Invalid image file or mode for image 1.",
            "invalid_image_file",
            id="invalid-image-file",
        ),
        pytest.param(
            401,
            openai_error(
                "Incorrect API key provided: sk-abc***xyz.", "invalid_request_error", "invalid_api_key"
            ),
            UpstreamAuthFailed,
            "Incorrect API key provided: sk-abc***xyz.",
            "invalid_api_key",
            id="invalid-api-key",
        ),
        pytest.param(
            401,
            openai_error("无效的令牌 (request id: 2026112409301512)", "one_api_error", None),
            UpstreamAuthFailed,
            "无效的令牌",
            "one_api_error",
            id="one-api-token",
        ),
        pytest.param(
            403,
            openai_error(
                "Your organization must be verified to use the model `gpt-image-1`.",
                "invalid_request_error",
                None,
            ),
            UpstreamAuthFailed,
            "Your organization must be verified to use the model `gpt-image-1`.",
            "invalid_request_error",
            id="organization-not-verified",
        ),
        pytest.param(
            429,
            openai_error(
                "Rate limit reached for gpt-image-1 in organization org-x on images per min (IPM): Limit 5. "
                "Please try again in 12s.",
                "requests",
                "rate_limit_exceeded",
            ),
            UpstreamRateLimited,
            "Rate limit reached for gpt-image-1 in organization org-x on images per min (IPM): Limit 5. "
            "Please try again in 12s.",
            "rate_limit_exceeded",
            id="rate-limit",
        ),
        pytest.param(
            429,
            openai_error(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            ),
            UpstreamQuotaExhausted,
            "You exceeded your current quota, please check your plan and billing details.",
            "insufficient_quota",
            id="insufficient-quota",
        ),
        pytest.param(
            400,
            openai_error(
                "Gemini image generation blocked [IMAGE_SAFETY]: output image was filtered "
                "(request id: 2026112409301512)",
                "channel_error",
                "channel:image_generation_failed",
            ),
            ContentBlocked,
            "Gemini image generation blocked [IMAGE_SAFETY]: output image was filtered",
            "channel:image_generation_failed",
            id="relay-image-safety",
        ),
        pytest.param(
            502,
            openai_error("upstream error: do request failed", "upstream_error", "do_request_failed"),
            UpstreamUnavailable,
            "upstream error: do request failed",
            "do_request_failed",
            id="relay-upstream-error",
        ),
        pytest.param(
            500,
            openai_error("The server had an error while processing your request.", "server_error", None),
            UpstreamUnavailable,
            "The server had an error while processing your request.",
            "server_error",
            id="server-error",
        ),
    ],
)
def test_http_error_bodies(status: int, body: str, expected: type, message: str, code: str) -> None:
    info = parse_error_body(body)
    assert (info.message, info.code) == (message, code)
    error = error_from_response(HttpResponse(status, {}, body.encode()), Redactor())
    assert type(error) is expected
    assert str(error) == message


@pytest.mark.parametrize(
    "suffix",
    [
        " (request id: 2026112409301512)",
        " (request_id: req_7f3a)",
        " (requestId: abc-123)",
        "(Request ID: X1)",
    ],
)
def test_request_id_suffix_spellings_are_stripped(suffix: str) -> None:
    assert (
        parse_error_body(openai_error(f"bad size{suffix}", "invalid_request_error", None)).message
        == "bad size"
    )


def test_request_id_in_the_middle_is_kept() -> None:
    message = "failed (request id: 1) while resizing"
    assert parse_error_body(openai_error(message, None, None)).message == message


def test_rate_limit_that_mentions_billing_is_still_a_rate_limit() -> None:
    info = parse_error_body(
        openai_error(
            "Rate limit reached for requests. Please try again in 20s. Visit "
            "https://platform.openai.com/account/billing to add a payment method.",
            "requests",
            "rate_limit_exceeded",
        )
    )
    assert type(classify_error(429, info)) is UpstreamRateLimited


@pytest.mark.parametrize(
    ("model", "size", "quality"),
    [
        ("gpt-image-1", None, None),
        ("gpt-image-1", "1K", None),
        ("gpt-image-1", "2K", "high"),
        ("gpt-image-1.5", "4K", "high"),
        ("dall-e-3", "4K", "hd"),
        ("dall-e-3", "1K", None),
        ("gpt-image-2", "4K", None),
        ("seedream-4.0", "4K", None),
    ],
)
async def test_bigger_size_asks_fixed_size_families_for_their_best_quality(
    model: str, size: str | None, quality: str | None
) -> None:
    body = generation_body(GenerateRequest("x", model, size=size), 1)
    assert body.get("quality") == quality
    form = edit_form(replace(request(model, images=1), size=size), 1, "image")
    fields = {name: payload for name, _, _, payload in await parts(form)}
    assert fields.get("quality") == (quality.encode() if quality else None)
