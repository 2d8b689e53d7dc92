"""What `python -m bot check` asks a relay, all of it free: the Gemini model list
(GET /v1beta/models) and `:countTokens`, each answered only for the ways of sending the key the
relay accepts (`relay.gemini_auth_accepted`) and, where the test set one, only for its key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.relay.common import reply

if TYPE_CHECKING:
    from tests.fakes.relay.core import FakeRelay


def gemini_key(relay: FakeRelay, request: web.Request) -> tuple[str, str] | None:
    """The way the key came (header, query, bearer) and the key, if it came in an accepted way."""
    sent = {
        "header": request.headers.get("x-goog-api-key", ""),
        "query": request.query.get("key", ""),
        "bearer": request.headers.get("Authorization", "").removeprefix("Bearer "),
    }
    accepted = relay.gemini_auth_accepted or set(sent)
    for way in ("header", "query", "bearer"):
        if way in accepted and sent[way]:
            return way, sent[way]
    return None


def refused(relay: FakeRelay, request: web.Request) -> web.Response | None:
    """The relay's 401 when the key is missing, sent in a way it does not take, or wrong."""
    found = gemini_key(relay, request)
    if found is None or (relay.api_key is not None and found[1] != relay.api_key):
        error = {
            "code": 401,
            "message": "API key not valid. Please pass a valid API key.",
            "status": "UNAUTHENTICATED",
        }
        return reply({"error": error}, 401)
    return None


def add_routes(relay: FakeRelay) -> None:
    async def gemini_models(request: web.Request) -> web.Response:
        await relay.record(request)
        if not relay.gemini_model_list:
            return reply({"error": {"code": 404, "message": "Not Found", "status": "NOT_FOUND"}}, 404)
        answer = refused(relay, request)
        if answer is not None:
            return answer
        names = relay.model_list or ["gemini-2.5-flash-image", "gemini-3-pro-image-preview"]
        return reply({"models": [{"name": f"models/{n}", "displayName": n} for n in names]})

    relay.app.router.add_get("/v1beta/models", gemini_models)


async def count_tokens(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    answer = refused(relay, request)
    return answer if answer is not None else reply({"totalTokens": 3})
