"""OpenAI chat completions: POST /v1/chat/completions, pictures linked or embedded in the reply."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.relay.common import Handler, b64, png, reply, serve

if TYPE_CHECKING:
    from tests.fakes.relay.core import FakeRelay


def add_routes(relay: FakeRelay) -> None:
    relay.app.router.add_post("/v1/chat/completions", relay.endpoint(_chat_markdown))


def _chat(content: str, **message: Any) -> web.Response:
    return reply(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": "gpt-4o-image",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, **message},
                    "finish_reason": "stop",
                }
            ],
        }
    )


async def _chat_markdown(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    url = serve(relay, "chat.png", png(128, 128, (10, 200, 10)))
    return _chat(f"好的，这是你要的图片：\n\n![图片]({url})")


async def _chat_progress_log(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    url = serve(relay, "final.png", png(96, 64, (10, 10, 200)))
    log = (
        '```\n{"prompt": "a cat", "ratio": "1:1"}\n```\n\n> ID: `task_01k0fake`\n>🕐 排队中\n>⚡ 生成中.......\n'
        ">🏃 进度 48..[100](https://videos.openai.com/vg-assets/preview.webp?se=2026-01-01&sig=abc)\n"
        f"> ✅ 生成完成\n\n[点击下载]({url})"
    )
    return _chat(log)


async def _chat_data_url(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _chat(f"![image](data:image/png;base64,{b64(png(64, 64, (200, 10, 10)))})")


async def _chat_images_field(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(png(72, 48))}"}}
    return _chat("", images=[image])


async def _chat_stream(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
    text = f"Here you go: ![out](data:image/png;base64,{b64(png(80, 80, (1, 150, 250)))})"
    pieces = [text[i : i + 97] for i in range(0, len(text), 97)]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b": OPENROUTER PROCESSING\n\n")
    for piece in pieces:
        chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": piece}}]}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
    await response.write(b"data: [DONE]\n\n")
    await response.write_eof()
    return response


async def _chat_refusal_with_key(
    relay: FakeRelay, request: web.Request, body: dict[str, Any]
) -> web.Response:
    key = request.headers.get("Authorization", "").removeprefix("Bearer ")
    return _chat(f"Your token {key} may not use this model; here is a description instead.")


async def _chat_refusal(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _chat("I can only describe this scene in words: a quiet harbour at night, boats asleep.")


async def _chat_policy(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return _chat("This request violates our content policy, so no image was generated.")


async def _chat_dead_link(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    # The model made a picture, but the relay's link to it answers 404.
    return _chat(f"Here is your image: ![image]({relay.base_url}/files/missing-0b1c.png)")


async def _chat_translation(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    # A chat model asked to translate a prompt (PROMPT_TRANSLATE_MODEL), answering in quotes.
    return _chat('"a koi pond at dawn, ink painting"')


MODES: dict[str, Handler] = {
    "chat_markdown": _chat_markdown,
    "chat_translation": _chat_translation,
    "chat_dead_link": _chat_dead_link,
    "chat_progress_log": _chat_progress_log,
    "chat_data_url": _chat_data_url,
    "chat_images_field": _chat_images_field,
    "chat_stream": _chat_stream,
    "chat_refusal": _chat_refusal,
    "chat_refusal_with_key": _chat_refusal_with_key,
    "chat_policy": _chat_policy,
}
