"""Midjourney-proxy: POST /mj/submit/{action} starts a task, GET /mj/task/{id}/fetch walks its states.

Fetches are not queued: each task follows the lifecycle its submit mode gave it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.relay.common import Handler, png, reply, serve

if TYPE_CHECKING:
    from tests.fakes.relay.core import FakeRelay


@dataclass
class MjTask:
    fields: dict[str, Any]
    states: list[dict[str, Any]]


def add_routes(relay: FakeRelay) -> None:
    async def fetch(request: web.Request) -> web.Response:
        await relay.record(request)
        task = relay.mj_tasks.get(request.match_info["task_id"])
        if task is None or not task.states:
            return web.Response(status=200, text="", content_type="application/json")
        state = task.states.pop(0) if len(task.states) > 1 else task.states[0]
        return reply({**task.fields, **state})

    relay.app.router.add_post("/mj/submit/{action}", relay.endpoint(_mj_submit))
    relay.app.router.add_get("/mj/task/{task_id}/fetch", fetch)


MJ_HASH = "82c51c9d-bc33-4c07-a471-36c3dcb1a6f0"
GRID_BUTTONS = [
    *(
        {
            "customId": f"MJ::JOB::upsample::{i}::{MJ_HASH}",
            "emoji": "",
            "label": f"U{i}",
            "style": 2,
            "type": 2,
        }
        for i in range(1, 5)
    ),
    {"customId": f"MJ::JOB::reroll::0::{MJ_HASH}::SOLO", "emoji": "🔄", "label": "", "style": 2, "type": 2},
    *(
        {
            "customId": f"MJ::JOB::variation::{i}::{MJ_HASH}",
            "emoji": "",
            "label": f"V{i}",
            "style": 2,
            "type": 2,
        }
        for i in range(1, 5)
    ),
]
UPSCALE_BUTTONS = [
    {
        "customId": f"MJ::JOB::high_variation::1::{MJ_HASH}::SOLO",
        "emoji": "🪄",
        "label": "Vary (Strong)",
        "style": 2,
        "type": 2,
    },
    {
        "customId": f"MJ::Outpaint::50::1::{MJ_HASH}::SOLO",
        "emoji": "🔍",
        "label": "Zoom Out 2x",
        "style": 2,
        "type": 2,
    },
    {"customId": f"MJ::CustomZoom::{MJ_HASH}", "emoji": "🔍", "label": "Custom Zoom", "style": 2, "type": 2},
    {
        "customId": f"MJ::Inpaint::1::{MJ_HASH}::SOLO",
        "emoji": "🖌️",
        "label": "Vary (Region)",
        "style": 2,
        "type": 2,
    },
    {"customId": "MJ::BOOKMARK::fake", "emoji": "❤️", "label": "", "style": 2, "type": 2},
]


def mj_lifecycle(relay: FakeRelay, task_id: str, action: str, *, end: dict[str, Any]) -> None:
    preview = serve(relay, f"preview_{task_id}.png", png(32, 32))
    relay.mj_tasks[task_id] = MjTask(
        {"id": task_id, "action": action, "submitTime": 1689231405854, "failReason": None, "properties": {}},
        [
            {"status": "NOT_START", "progress": "0%", "imageUrl": None},
            {"status": "IN_PROGRESS", "progress": "45%", "imageUrl": preview},
            {"status": "IN_PROGRESS", "progress": "80%", "imageUrl": preview},
            end,
        ],
    )


def mj_success(relay: FakeRelay, task_id: str, action: str) -> dict[str, Any]:
    if action in ("UPSCALE", "ZOOM"):
        url, buttons = serve(relay, f"up_{task_id}.png", png(200, 200, (250, 120, 0))), UPSCALE_BUTTONS
    else:
        url, buttons = serve(relay, f"grid_{task_id}.png", png(256, 256, (120, 0, 250))), GRID_BUTTONS
    return {
        "status": "SUCCESS",
        "progress": "100%",
        "imageUrl": url,
        "buttons": buttons,
        "finishTime": 1689231500000,
    }


def _mj_action_name(path: str, body: dict[str, Any]) -> str:
    kind = path.rsplit("/", 1)[1]
    if kind != "action":
        return {"imagine": "IMAGINE", "blend": "BLEND", "modal": "ZOOM"}.get(kind, kind.upper())
    custom = str(body.get("customId", ""))
    for marker, action in (
        ("upsample", "UPSCALE"),
        ("variation", "VARIATION"),
        ("reroll", "REROLL"),
        ("Outpaint", "ZOOM"),
        ("CustomZoom", "ZOOM"),
    ):
        if marker in custom:
            return action
    return "ACTION"


async def _mj_submit(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    kind = request.match_info["action"]
    if kind == "modal":
        task_id = str(body.get("taskId"))
        mj_lifecycle(relay, task_id, "ZOOM", end=mj_success(relay, task_id, "ZOOM"))
        return reply({"code": 1, "description": "提交成功", "result": task_id})
    if kind == "action" and str(body.get("taskId")) not in relay.mj_tasks:
        return reply({"code": 3, "description": "关联任务不存在或已失效"}, 404)
    task_id = snowflake_id()
    custom_id = str(body.get("customId", ""))
    if kind == "action" and (
        custom_id.startswith("MJ::CustomZoom::") or (relay.mj_remix and "::variation::" in custom_id)
    ):
        relay.mj_tasks[task_id] = MjTask(
            {"id": task_id, "action": "ZOOM"}, [{"status": "MODAL", "progress": "0%"}]
        )
        properties = {"remix": True, "finalPrompt": "a cat --zoom 2"}
        return reply(
            {
                "code": 21,
                "description": "Waiting for window confirm",
                "result": task_id,
                "properties": properties,
            }
        )
    action = _mj_action_name(request.path, body)
    mj_lifecycle(relay, task_id, action, end=mj_success(relay, task_id, action))
    return reply(
        {"code": 1, "description": "提交成功", "result": task_id, "properties": {"discordInstanceId": "1"}}
    )


async def _mj_queued(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    task_id = snowflake_id()
    mj_lifecycle(relay, task_id, "IMAGINE", end=mj_success(relay, task_id, "IMAGINE"))
    # Some relays send the id as a number.
    return reply(
        {
            "code": 22,
            "description": "排队中，前面还有1个任务",
            "result": int(task_id),
            "properties": {"numberOfQueues": 1},
        }
    )


async def _mj_failure(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    task_id = snowflake_id()
    end = {
        "status": "FAILURE",
        "progress": "",
        "failReason": f"Invalid parameter: --ar 99:1 (key {request.headers.get('mj-api-secret')})",
    }
    mj_lifecycle(relay, task_id, "IMAGINE", end=end)
    return reply({"code": 1, "description": "提交成功", "result": task_id})


async def _mj_banned_late(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    """Accepted, then failed by Midjourney's own filter, which names the word in the reason."""
    task_id = snowflake_id()
    end = {"status": "FAILURE", "progress": "", "failReason": "[Banned prompt] The word `bloody` is banned."}
    mj_lifecycle(relay, task_id, "IMAGINE", end=end)
    return reply({"code": 1, "description": "提交成功", "result": task_id})


async def _mj_unknown(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply({"code": 1, "description": "提交成功", "result": snowflake_id()})


async def _mj_banned(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    properties = {"promptEn": "a bloody scene", "bannedWord": "bloody"}
    return reply({"code": 24, "description": "可能包含敏感词", "properties": properties})


async def _mj_queue_full(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply({"code": 23, "description": "队列已满，请稍后尝试", "result": None})


async def _mj_validation(relay: FakeRelay, request: web.Request, body: dict[str, Any]) -> web.Response:
    return reply({"code": 4, "description": "base64List参数错误"}, 400)


_mj_ids = itertools.count(1320098173412546)


def snowflake_id() -> str:
    return str(next(_mj_ids))


MODES: dict[str, Handler] = {
    "mj_queued": _mj_queued,
    "mj_failure": _mj_failure,
    "mj_unknown": _mj_unknown,
    "mj_banned": _mj_banned,
    "mj_banned_late": _mj_banned_late,
    "mj_queue_full": _mj_queue_full,
    "mj_validation": _mj_validation,
}
