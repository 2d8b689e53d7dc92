from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image

from bot.errors import (
    ContentBlocked,
    UpstreamAuthFailed,
    UpstreamBadResponse,
    UpstreamQuotaExhausted,
    UpstreamRateLimited,
    UpstreamRejectedRequest,
    UpstreamUnavailable,
)
from bot.providers.base import COMMON_RATIOS, GenerateRequest, InputImage, Kind, image_refs_in_text, unescape
from bot.providers.openai_chat import build_body, capabilities, parse_answer, prompt_text


def png(width: int = 8, height: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = png()
PNG_B64 = base64.b64encode(PNG).decode()
DATA_URL = f"data:image/png;base64,{PNG_B64}"
CDN = "https://cdn.relay.example"

PROGRESS_LOG = """```json
{"prompt": "a cat drinking milk", "ratio": "2:3", "n": 2}
```

> ID: `task_01jx5v8yq2f3s9t0`
>🕐 排队中，请耐心等待...
>⚡ 生成中.......
>🏃 进度 48..[100](https://videos.openai.com/vg-assets/assets%2Ftask_01%2Fsrc_0.webp?st=2025-06-01T00%3A00%3A00Z&se=2025-06-07T00%3A00%3A00Z&sp=r&sig=YWJj%3D)

> ✅ 生成完成

[点击下载](https://filesystem.site/cdn/download/20250601/a1b2c3.png)
[点击下载](https://filesystem.site/cdn/download/20250601/d4e5f6.png)
"""


def chat(message: dict[str, object]) -> bytes:
    return json.dumps(
        {"id": "chatcmpl-1", "object": "chat.completion", "choices": [{"index": 0, "message": message}]}
    ).encode()


def sse(*events: str) -> bytes:
    return "".join(f"{event}\n\n" for event in events).encode()


def delta(**fields: object) -> str:
    chunk = {
        "id": "gen-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": fields, "finish_reason": None}],
    }
    return "data: " + json.dumps(chunk, ensure_ascii=False)


# --- request ---------------------------------------------------------------------------------------


def test_capabilities_put_the_ratio_in_the_prompt() -> None:
    caps = capabilities("gpt-4o-image")
    assert caps.aspect_ratios == COMMON_RATIOS
    assert (caps.sizes, caps.max_input_images, caps.max_prompt_chars) == ((), 10, 8000)
    assert (caps.ratio_by_prompt, caps.native_count, caps.max_count) == (True, False, 4)


@pytest.mark.parametrize(
    ("kind", "images", "ratio", "text"),
    [
        (Kind.IMAGINE, 0, None, "a cat"),
        (Kind.IMAGINE, 0, "16:9", "a cat\n\nAspect ratio: 16:9."),
        (Kind.IMAGINE, 1, None, "a cat"),
        (Kind.EDIT, 0, None, "a cat"),
        (
            Kind.EDIT,
            2,
            "3:4",
            "Edit the first image as follows; any other images are references.\n\na cat\n\nAspect ratio: 3:4.",
        ),
        (Kind.BLEND, 2, None, "Combine the images as follows.\n\na cat"),
    ],
)
def test_prompt_text(kind: Kind, images: int, ratio: str | None, text: str) -> None:
    request = GenerateRequest(
        "a cat",
        "gpt-4o-image",
        aspect_ratio=ratio,
        kind=kind,
        images=(InputImage(PNG, "image/png"),) * images,
    )
    assert prompt_text(request) == text


def test_body_without_images_sends_plain_text_content() -> None:
    assert build_body(GenerateRequest("a fox", "sora_image", aspect_ratio="1:1")) == {
        "model": "sora_image",
        "stream": False,
        "messages": [{"role": "user", "content": "a fox\n\nAspect ratio: 1:1."}],
    }


def test_body_with_images_sends_one_image_url_part_per_image() -> None:
    jpeg = io.BytesIO()
    Image.new("RGB", (4, 4)).save(jpeg, "JPEG")
    images = (InputImage(PNG, "image/png"), InputImage(jpeg.getvalue(), "image/jpeg"))
    body = build_body(GenerateRequest("mix", "gpt-4o-image", images=images, kind=Kind.BLEND))
    assert body["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Combine the images as follows.\n\nmix"},
                {"type": "image_url", "image_url": {"url": DATA_URL}},
                {
                    "type": "image_url",
                    "image_url": {
                        "url": "data:image/jpeg;base64," + base64.b64encode(jpeg.getvalue()).decode()
                    },
                },
            ],
        }
    ]
    assert body["stream"] is False


def test_data_url_is_one_unbroken_line() -> None:
    big = InputImage(png(300, 300), "image/png")
    url = big.data_url()
    assert url.startswith("data:image/png;base64,iVBORw0KGgo")
    assert "\n" not in url and " " not in url
    assert base64.b64decode(url.split(",", 1)[1]) == big.data


# --- shared text helpers ---------------------------------------------------------------------------


def test_unescape_both_ampersand_forms() -> None:
    assert unescape("a?x=1\\u0026y=2&amp;z=3") == "a?x=1&y=2&z=3"


@pytest.mark.parametrize(
    ("text", "refs"),
    [
        ("![图片](https://cdn.relay.example/x.png)", [f"{CDN}/x.png"]),
        ('![img](https://cdn.relay.example/x.png "the result")', [f"{CDN}/x.png"]),
        (f"![image]({DATA_URL})", [DATA_URL]),
        ("![a](https://cdn.relay.example/a.png?x=1\\u0026y=2)", [f"{CDN}/a.png?x=1&y=2"]),
        ("![a](https://cdn.relay.example/a.png?x=1&amp;y=2)", [f"{CDN}/a.png?x=1&y=2"]),
        ("[download](https://cdn.relay.example/file/42)", [f"{CDN}/file/42"]),
        ("[原图](https://cdn.relay.example/full)", [f"{CDN}/full"]),
        ("[preview](https://cdn.relay.example/p.webp)", [f"{CDN}/p.webp"]),
        ("Done: https://cdn.relay.example/b.jpg", [f"{CDN}/b.jpg"]),
        ("Done: https://cdn.relay.example/b.jpeg?sig=1.", [f"{CDN}/b.jpeg?sig=1"]),
        ("Your image: https://cdn.relay.example/b.png.", [f"{CDN}/b.png"]),
        ("图片：https://cdn.relay.example/b.png。请查收", [f"{CDN}/b.png"]),
        ("see https://cdn.relay.example/b.gif, enjoy", [f"{CDN}/b.gif"]),
        ("[open](https://example.com/about) and https://example.com/terms", []),
        ("[查看任务](https://asyncdata.net/web/task_1)", []),
        ("[下载](https://relay.example/task/123)", []),
        ("[100](https://videos.openai.com/a/src.webp?se=1&sig=2)", []),
        ("I can't help with that request.", []),
    ],
)
def test_image_refs_in_text(text: str, refs: list[str]) -> None:
    assert image_refs_in_text(text) == refs


def test_image_refs_are_ordered_best_first_and_deduplicated() -> None:
    text = (
        "https://cdn.relay.example/bare.png "
        "[more](https://cdn.relay.example/other.png) "
        "[点击下载](https://cdn.relay.example/final.png) "
        "![shown](https://cdn.relay.example/shown.png) "
        f"![inline]({DATA_URL}) "
        "![shown again](https://cdn.relay.example/shown.png)"
    )
    assert image_refs_in_text(text) == [
        DATA_URL,
        f"{CDN}/shown.png",
        f"{CDN}/final.png",
        f"{CDN}/other.png",
        f"{CDN}/bare.png",
    ]


def test_progress_log_yields_the_download_links_and_not_the_preview() -> None:
    assert image_refs_in_text(PROGRESS_LOG) == [
        "https://filesystem.site/cdn/download/20250601/a1b2c3.png",
        "https://filesystem.site/cdn/download/20250601/d4e5f6.png",
    ]


# --- answers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "refs", "said"),
    [
        pytest.param(
            {"role": "assistant", "content": "![图片](https://cdn.relay.example/x.png)"},
            [f"{CDN}/x.png"],
            "![图片](https://cdn.relay.example/x.png)",
            id="markdown-image",
        ),
        pytest.param(
            {"role": "assistant", "content": PROGRESS_LOG},
            [
                "https://filesystem.site/cdn/download/20250601/a1b2c3.png",
                "https://filesystem.site/cdn/download/20250601/d4e5f6.png",
            ],
            PROGRESS_LOG,
            id="progress-log",
        ),
        pytest.param(
            {"role": "assistant", "content": f"Here you go ![image]({DATA_URL})"},
            [DATA_URL],
            f"Here you go ![image]({DATA_URL})",
            id="data-url",
        ),
        pytest.param(
            {
                "role": "assistant",
                "content": "",
                "images": [{"type": "image_url", "image_url": {"url": DATA_URL}}],
            },
            [DATA_URL],
            "",
            id="message-images",
        ),
        pytest.param(
            {
                "role": "assistant",
                "content": None,
                "images": [{"type": "image_url", "imageUrl": {"url": f"{CDN}/camel.png"}}],
            },
            [f"{CDN}/camel.png"],
            "",
            id="imageUrl-camel-case",
        ),
        pytest.param(
            {
                "role": "assistant",
                "content": "Here it is ![x](https://cdn.relay.example/x.png)",
                "images": [{"type": "image_url", "image_url": {"url": f"{CDN}/x.png"}}],
            },
            [f"{CDN}/x.png"],
            "Here it is ![x](https://cdn.relay.example/x.png)",
            id="same-url-twice",
        ),
        pytest.param(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "First "},
                    {"type": "image_url", "image_url": {"url": f"{CDN}/part.png"}},
                    {"type": "output_image", "url": f"{CDN}/out.webp"},
                    {"type": "text", "text": "then ![md](https://cdn.relay.example/md.jpg)"},
                ],
            },
            [f"{CDN}/part.png", f"{CDN}/out.webp", f"{CDN}/md.jpg"],
            "First then ![md](https://cdn.relay.example/md.jpg)",
            id="content-as-list",
        ),
        pytest.param(
            {"role": "assistant", "content": "![a](https://cdn.relay.example/a.png?x=1\\u0026y=2&amp;z=3)"},
            [f"{CDN}/a.png?x=1&y=2&z=3"],
            "![a](https://cdn.relay.example/a.png?x=1\\u0026y=2&amp;z=3)",
            id="escaped-ampersands",
        ),
        pytest.param(
            {
                "role": "assistant",
                "content": "I'm sorry, but I can't create that image because it violates our content policy.",
            },
            [],
            "I'm sorry, but I can't create that image because it violates our content policy.",
            id="refusal",
        ),
        pytest.param(
            {"role": "assistant", "content": PROGRESS_LOG.split("> ✅")[0]},
            [],
            PROGRESS_LOG.split("> ✅")[0],
            id="progress-log-without-result",
        ),
    ],
)
def test_answer_shapes(message: dict[str, object], refs: list[str], said: str) -> None:
    assert parse_answer(chat(message)) == (refs, said)


def test_json_escaped_ampersand_in_the_raw_body() -> None:
    body = b'{"choices":[{"message":{"content":"![a](https://cdn.relay.example/a.png?x=1\\u0026y=2)"}}]}'
    assert parse_answer(body)[0] == [f"{CDN}/a.png?x=1&y=2"]


def test_stream_with_comments_and_a_data_url_split_across_chunks() -> None:
    cut = len(PNG_B64) // 2
    body = sse(
        ": OPENROUTER PROCESSING",
        delta(role="assistant", content=""),
        ": OPENROUTER PROCESSING",
        delta(content="Here you go ![image](data:image/png;base"),
        delta(content="64," + PNG_B64[:cut]),
        delta(content=PNG_B64[cut:]),
        delta(content=")"),
        'data: {"id":"gen-1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"total_tokens":9}}',
        "data: [DONE]",
    )
    assert parse_answer(body) == ([DATA_URL], f"Here you go ![image]({DATA_URL})")


def test_stream_merges_delta_images_and_text_links() -> None:
    body = sse(
        delta(role="assistant", images=[{"type": "image_url", "image_url": {"url": f"{CDN}/one.png"}}]),
        delta(content="[点击下载](https://cdn.relay.example/"),
        delta(content="two.png)", images=[{"type": "image_url", "imageUrl": {"url": f"{CDN}/three.png"}}]),
        "data: [DONE]",
    )
    assert parse_answer(body) == (
        [f"{CDN}/one.png", f"{CDN}/three.png", f"{CDN}/two.png"],
        "[点击下载](https://cdn.relay.example/two.png)",
    )


def test_stream_ignores_what_follows_done() -> None:
    body = sse(
        delta(content="no picture"), "data: [DONE]", delta(content="![x](https://cdn.relay.example/x.png)")
    )
    assert parse_answer(body) == ([], "no picture")


def test_stream_starting_with_a_comment_is_still_a_stream() -> None:
    body = sse(": OPENROUTER PROCESSING", delta(content="![x](https://cdn.relay.example/x.png)"))
    assert parse_answer(body) == ([f"{CDN}/x.png"], "![x](https://cdn.relay.example/x.png)")


@pytest.mark.parametrize(
    ("error", "expected", "message"),
    [
        pytest.param(
            {"code": "server_error", "message": "Provider disconnected unexpectedly"},
            UpstreamUnavailable,
            "Provider disconnected unexpectedly",
            id="server-error",
        ),
        pytest.param(
            {"code": 502, "message": "Provider returned error"},
            UpstreamUnavailable,
            "Provider returned error",
            id="numeric-502",
        ),
        pytest.param(
            {"code": 429, "message": "Rate limit exceeded: google/gemini-2.5-flash-image"},
            UpstreamRateLimited,
            "Rate limit exceeded: google/gemini-2.5-flash-image",
            id="numeric-429",
        ),
        pytest.param(
            {"code": "moderation_blocked", "message": "Your request was rejected by the safety system."},
            ContentBlocked,
            "Your request was rejected by the safety system.",
            id="moderation",
        ),
        pytest.param(
            {"code": None, "type": "insufficient_quota", "message": "quota gone"},
            UpstreamQuotaExhausted,
            "quota gone",
            id="quota-by-type",
        ),
    ],
)
def test_stream_error_event(error: dict[str, object], expected: type, message: str) -> None:
    body = sse(
        delta(role="assistant", content="![image](data:image/png;base64,iVBOR"),
        ": OPENROUTER PROCESSING",
        "data: "
        + json.dumps(
            {"id": "gen-1", "error": error, "choices": [{"index": 0, "delta": {}, "finish_reason": "error"}]}
        ),
    )
    with pytest.raises(expected) as info:
        parse_answer(body)
    assert type(info.value) is expected
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"message": "invalid token", "type": "new_api_error", "code": 401}, UpstreamAuthFailed),
        (
            {"message": "model gpt-4o-image not available", "type": "invalid_request_error"},
            UpstreamRejectedRequest,
        ),
        ("upstream said no", UpstreamRejectedRequest),
    ],
)
def test_error_object_in_a_200_answer(error: object, expected: type) -> None:
    with pytest.raises(expected) as info:
        parse_answer(json.dumps({"error": error}).encode())
    assert type(info.value) is expected


@pytest.mark.parametrize(
    "body",
    [b"<html><body>502 Bad Gateway</body></html>", b"[1, 2]", b'{"choices": []}', b'{"choices": [null]}'],
)
def test_bad_answers(body: bytes) -> None:
    with pytest.raises(UpstreamBadResponse):
        parse_answer(body)
