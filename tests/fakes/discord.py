"""A fake Discord on 127.0.0.1: REST under /api/v10, the gateway websocket and a CDN route.

A real discord.py client logs in to it; tests push INTERACTION_CREATE events through the gateway and
read back what the bot sent (callbacks, webhook edits and followups, multipart files included).
The wire details follow shared/discord.md (discord.py 2.7).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer, Upload, read_parts, stored_file

APP_ID = "100000000000000001"
GUILD_ID = "100000000000000003"
CHANNEL_ID = "100000000000000004"
BOT_USER = {"id": APP_ID, "username": "bananabot", "discriminator": "0", "avatar": None, "bot": True}
OWNER = {"id": "100000000000000002", "username": "owner", "discriminator": "0", "avatar": None}
MEMBER_PERMISSIONS = "2251799813685247"
# View channel, send messages, attach files, use application commands: no moderation rights.
PLAIN_PERMISSIONS = str(1024 | 2048 | 32768 | 2147483648)
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024

DISCORD_EPOCH_MS = 1420070400000
TOKEN_LIFETIME = 15 * 60


def invalid_token() -> web.Response:
    return _json({"message": "Invalid Webhook Token", "code": 50027}, 401)


_sequence = itertools.count(1)


def snowflake(at: float | None = None) -> str:
    """A unique id whose embedded time is `at` (default now), as Discord's ids carry theirs."""
    stamp = int((time.time() if at is None else at) * 1000) - DISCORD_EPOCH_MS
    return str((stamp << 22) | (next(_sequence) & 0x3FFFFF))


def user(user_id: str = "100000000000000005", name: str = "alice") -> dict[str, Any]:
    return {"id": user_id, "username": name, "discriminator": "0", "avatar": None, "global_name": None}


def _json(data: Any, status: int = 200) -> web.Response:
    # discord.py parses JSON only when the content type is exactly application/json.
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


@dataclass
class Call:
    """One REST request the bot made."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    payload: Any
    files: list[Upload] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)


@dataclass
class SentInteraction:
    payload: dict[str, Any]
    sent_at: float

    @property
    def id(self) -> str:
        return self.payload["id"]

    @property
    def token(self) -> str:
        return self.payload["token"]


async def read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        files: list[Upload] = []
        for part in await read_parts(request):
            if part.name == "payload_json":
                payload = json.loads(part.data)
            else:
                files.append(part)
        return payload, files
    raw = await request.read()
    return (json.loads(raw) if raw else None), []


class FakeDiscord(FakeServer):
    def __init__(self) -> None:
        super().__init__(client_max_size=200 * 1024 * 1024)
        r = self.app.router
        r.add_get("/api/v10/users/@me", self._me)
        r.add_get("/api/v10/oauth2/applications/@me", self._app_info)
        r.add_get("/gateway", self._gateway)
        r.add_post("/api/v10/interactions/{iid}/{token}/callback", self._callback)
        r.add_post("/api/v10/webhooks/{app}/{token}", self._followup)
        r.add_get("/api/v10/webhooks/{app}/{token}/messages/{mid}", self._get_message)
        r.add_patch("/api/v10/webhooks/{app}/{token}/messages/{mid}", self._edit_message)
        r.add_delete("/api/v10/webhooks/{app}/{token}/messages/{mid}", self._delete_message)
        r.add_put("/api/v10/applications/{app}/commands", self._bulk_overwrite)
        r.add_put("/api/v10/applications/{app}/guilds/{gid}/commands", self._bulk_overwrite)
        r.add_post("/api/v10/channels/{cid}/messages", self._channel_send)
        r.add_post("/api/v10/channels/{cid}/typing", self._typing)
        r.add_get("/api/v10/channels/{cid}/messages/{mid}", self._channel_message)
        r.add_patch("/api/v10/channels/{cid}/messages/{mid}", self._channel_edit)
        r.add_get("/cdn/{name}", self._cdn)
        r.add_route("*", "/{tail:.*}", self._unknown)
        self.calls: list[Call] = []
        self.unknown: list[Call] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.cdn: dict[str, tuple[bytes, str]] = {}
        self.sent: dict[str, SentInteraction] = {}
        # token -> message id -> message; "@original" is an alias of the first response message.
        self.messages: dict[str, dict[str, dict[str, Any]]] = {}
        self.originals: dict[str, str] = {}
        self.identified = asyncio.Event()
        self.ready = asyncio.Event()
        self.reject_token: str | None = None
        self.sync_delay = 0.0
        # Messages members posted, by id, for GET /channels/{cid}/messages/{mid}.
        self.channel_messages: dict[str, dict[str, Any]] = {}
        self.bot_posts: list[dict[str, Any]] = []  # what the bot posted in channels, as Discord stored it
        self.forbidden_channels: set[str] = set()  # channels where the bot may not post (403 50013)
        self._nonces: dict[str, dict[str, Any]] = {}
        self._ws: web.WebSocketResponse | None = None
        self._seq = 0
        self._changed = asyncio.Condition()

    # --- lifecycle --------------------------------------------------------------------------------

    async def close(self) -> None:
        # A clean close frame first, so the bot sees Discord hang up rather than a dropped socket.
        if self._ws is not None and not self._ws.closed:
            await self._ws.close()
        await super().close()

    @property
    def base(self) -> str:
        return self.base_url

    @property
    def api_url(self) -> str:
        return f"{self.base}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    def add_cdn_file(self, name: str, data: bytes, content_type: str = "image/png") -> str:
        self.cdn[name] = (data, content_type)
        return f"{self.base}/cdn/{name}"

    # --- what the bot did -------------------------------------------------------------------------

    async def _record(self, call: Call) -> None:
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[Call], bool], timeout: float = 10.0) -> Call:
        """The first call (past or future) that matches."""

        def find() -> Call | None:
            return next((c for c in self.calls if predicate(c)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: find() is not None), timeout)
        found = find()
        assert found is not None
        return found

    def calls_for(self, token: str) -> list[Call]:
        return [c for c in self.calls if token in c.path]

    async def wait_final(self, sent: SentInteraction, timeout: float = 10.0) -> Call:
        """The call that finished an interaction: an edit of @original or a followup (not a
        progress edit, which carries the job's Cancel button)."""
        return await self.wait_for(
            lambda c: (
                sent.token in c.path
                and c.method in ("PATCH", "POST")
                and "/webhooks/" in c.path
                and not is_progress(c)
            ),
            timeout,
        )

    def callback(self, sent: SentInteraction) -> Call | None:
        return next((c for c in self.calls if c.path.endswith(f"/{sent.id}/{sent.token}/callback")), None)

    # --- gateway ----------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._ws = ws
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        async for msg in ws:
            packet = json.loads(msg.data)
            if packet["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif packet["op"] == 2:
                if packet["d"]["token"] == self.reject_token:
                    await ws.close(code=4004)
                    break
                self.identified.set()
                ready = {
                    "v": 10,
                    "user": BOT_USER,
                    "guilds": [],
                    "session_id": "fake-session",
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": APP_ID, "flags": 0},
                }
                await self.dispatch("READY", ready)
                self.ready.set()
            elif packet["op"] == 6:
                await self.dispatch("RESUMED", {})
        return ws

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        assert self._ws is not None, "no bot is connected to the gateway"
        self._seq += 1
        await self._ws.send_str(json.dumps({"op": 0, "s": self._seq, "t": event, "d": data}))

    async def send_interaction(self, payload: dict[str, Any]) -> SentInteraction:
        sent = SentInteraction(payload, time.monotonic())
        self.sent[sent.id] = sent
        await self.dispatch("INTERACTION_CREATE", payload)
        return sent

    # --- interaction payloads ---------------------------------------------------------------------

    def interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        locale: str = "en-US",
        member: dict[str, Any] | None = None,
        upload_limit: int = DEFAULT_UPLOAD_LIMIT,
        message: dict[str, Any] | None = None,
        created_at: float | None = None,
        roles: list[str] | None = None,
        permissions: str = MEMBER_PERMISSIONS,
        guild_id: str = GUILD_ID,
        channel_id: str = CHANNEL_ID,
    ) -> dict[str, Any]:
        """An interaction; `created_at` back-dates it (its token dies 15 minutes after that)."""
        payload: dict[str, Any] = {
            "id": snowflake(created_at),
            "application_id": APP_ID,
            "type": kind,
            "token": f"tok-{snowflake()}",
            "version": 1,
            "attachment_size_limit": upload_limit,
            "guild_id": guild_id,
            "channel_id": channel_id,
            "channel": {"id": channel_id, "type": 0, "name": "general", "position": 0, "guild_id": guild_id},
            "member": {
                "user": (member or user()),
                "roles": roles or [],
                "flags": 0,
                "joined_at": "2024-01-01T00:00:00+00:00",
                "permissions": permissions,
            },
            "app_permissions": MEMBER_PERMISSIONS,
            "locale": locale,
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": guild_id},
            "context": 0,
            "data": data,
        }
        if message is not None:
            payload["message"] = message
        return payload

    def slash(self, name: str, options: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """A slash command; attachment options are given as `attachment(...)` dicts."""
        data: dict[str, Any] = {
            "id": snowflake(),
            "name": name,
            "type": 1,
            "options": _options(options or {}),
        }
        files = {v["id"]: v for v in (options or {}).values() if isinstance(v, dict)}
        if files:
            data["resolved"] = {"attachments": files}
        return self.interaction(2, data, **kwargs)

    def attachment(
        self, filename: str, data: bytes, content_type: str | None = "image/png", size: int | None = None
    ) -> dict[str, Any]:
        """An uploaded file as Discord describes it; its URL serves `data` from the fake CDN."""
        attachment_id = snowflake()
        url = self.add_cdn_file(
            f"{attachment_id}-{filename}", data, content_type or "application/octet-stream"
        )
        described: dict[str, Any] = {
            "id": attachment_id,
            "filename": filename,
            "size": len(data) if size is None else size,
            "url": f"{url}?ex=6a1b2c3d&is=6a1a0000&hm=abcdef",
            "proxy_url": url,
        }
        if content_type:
            described["content_type"] = content_type
        return described

    def message(
        self,
        content: str = "",
        *,
        attachments: list[dict[str, Any]] | None = None,
        embeds: list[dict[str, Any]] | None = None,
        author: dict[str, Any] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A channel message as Discord sends it (for context menus and MESSAGE_CREATE)."""
        return message_object(
            content=content,
            author=author or user(),
            attachments=attachments or [],
            embeds=embeds or [],
            guild_id=GUILD_ID,
            **extra,
        )

    def message_menu(self, name: str, message: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """A message context menu used on `message`."""
        data = {
            "id": snowflake(),
            "name": name,
            "type": 3,
            "target_id": message["id"],
            "resolved": {"messages": {message["id"]: message}},
        }
        return self.interaction(2, data, **kwargs)

    def autocomplete(self, name: str, options: dict[str, Any], focused: str, **kwargs: Any) -> dict[str, Any]:
        opts = _options(options)
        for opt in opts:
            if opt["name"] == focused:
                opt["focused"] = True
        return self.interaction(4, {"id": snowflake(), "name": name, "type": 1, "options": opts}, **kwargs)

    def original_message(self, token: str) -> dict[str, Any]:
        """The message an interaction's response became, as Discord would send it back."""
        message = self._find(token, "@original")
        assert message is not None, f"no response message for {token}"
        return dict(message)

    def button(self, custom_id: str, message: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """A press of one of `message`'s buttons."""
        data = {"custom_id": custom_id, "component_type": 2}
        return self.interaction(3, data, message=message, **kwargs)

    def modal_submit(self, custom_id: str, values: dict[str, str], **kwargs: Any) -> dict[str, Any]:
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in values.items()
        ]
        return self.interaction(5, {"custom_id": custom_id, "components": rows}, **kwargs)

    # --- REST -------------------------------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.Response:
        await self._record(Call("GET", request.path, dict(request.query), dict(request.headers), None))
        if request.headers.get("Authorization") == f"Bot {self.reject_token}":
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        return _json(BOT_USER)

    async def _app_info(self, request: web.Request) -> web.Response:
        await self._record(Call("GET", request.path, dict(request.query), dict(request.headers), None))
        return _json(
            {
                "id": APP_ID,
                "name": "bananabot",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": OWNER,
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _callback(self, request: web.Request) -> web.Response:
        payload, files = await read_body(request)
        await self._record(
            Call("POST", request.path, dict(request.query), dict(request.headers), payload, files)
        )
        iid, token = request.match_info["iid"], request.match_info["token"]
        kind = payload.get("type")
        if kind in (4, 5):
            data = payload.get("data") or {}
            message = self._store(token, data, files, loading=kind == 5)
            self.originals[token] = message["id"]
        return _json(
            {
                "interaction": {"id": iid, "type": self.sent[iid].payload["type"] if iid in self.sent else 2},
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool((payload.get("data") or {}).get("flags", 0) & 64),
            }
        )

    def token_expired(self, token: str) -> bool:
        """Discord honours an interaction token for 15 minutes from the interaction's creation."""
        sent = next((s for s in self.sent.values() if s.token == token), None)
        if sent is None:
            return False
        created = ((int(sent.id) >> 22) + DISCORD_EPOCH_MS) / 1000
        return time.time() > created + TOKEN_LIFETIME

    async def _followup(self, request: web.Request) -> web.Response:
        payload, files = await read_body(request)
        await self._record(
            Call("POST", request.path, dict(request.query), dict(request.headers), payload, files)
        )
        if self.token_expired(request.match_info["token"]):
            return invalid_token()
        return _json(self._store(request.match_info["token"], payload, files))

    async def _get_message(self, request: web.Request) -> web.Response:
        await self._record(Call("GET", request.path, dict(request.query), dict(request.headers), None))
        if self.token_expired(request.match_info["token"]):
            return invalid_token()
        message = self._find(request.match_info["token"], request.match_info["mid"])
        return _json(message) if message else _json({"message": "Unknown Message", "code": 10008}, 404)

    async def _edit_message(self, request: web.Request) -> web.Response:
        payload, files = await read_body(request)
        await self._record(
            Call("PATCH", request.path, dict(request.query), dict(request.headers), payload, files)
        )
        token, mid = request.match_info["token"], request.match_info["mid"]
        if self.token_expired(token):
            return invalid_token()
        message = self._find(token, mid)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        message.update(self._message_fields(payload, files))
        return _json(message)

    async def _delete_message(self, request: web.Request) -> web.Response:
        await self._record(Call("DELETE", request.path, dict(request.query), dict(request.headers), None))
        token, mid = request.match_info["token"], request.match_info["mid"]
        if self.token_expired(token):
            return invalid_token()
        message = self._find(token, mid)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        del self.messages[token][message["id"]]
        return web.Response(status=204)

    async def _bulk_overwrite(self, request: web.Request) -> web.Response:
        payload, _ = await read_body(request)
        await self._record(Call("PUT", request.path, dict(request.query), dict(request.headers), payload))
        await asyncio.sleep(self.sync_delay)
        scope = request.match_info.get("gid", "global")
        echoed = [
            # Discord answers context menus with an empty description.
            {"description": "", **cmd, "id": snowflake(), "application_id": APP_ID, "version": snowflake()}
            | ({"guild_id": scope} if scope != "global" else {})
            for cmd in payload
        ]
        self.commands[scope] = echoed
        return _json(echoed)

    async def _channel_send(self, request: web.Request) -> web.Response:
        payload, files = await read_body(request)
        await self._record(
            Call("POST", request.path, dict(request.query), dict(request.headers), payload, files)
        )
        if request.match_info["cid"] in self.forbidden_channels:
            return _json({"message": "Missing Permissions", "code": 50013}, 403)
        nonce = payload.get("nonce")
        if nonce and payload.get("enforce_nonce") and nonce in self._nonces:
            return _json(self._nonces[nonce])  # Discord answers a repeated nonce with the first message
        message = self._store(f"channel:{request.match_info['cid']}", payload, files)
        message["type"] = 19 if payload.get("message_reference") else 0
        if payload.get("message_reference"):
            message["message_reference"] = payload["message_reference"]
        if nonce:
            message["nonce"] = nonce
            self._nonces[nonce] = message
        self.channel_messages[message["id"]] = message
        self.bot_posts.append(message)
        return _json(message)

    async def _typing(self, request: web.Request) -> web.Response:
        await self._record(Call("POST", request.path, dict(request.query), dict(request.headers), None))
        return web.Response(status=204)

    async def _channel_message(self, request: web.Request) -> web.Response:
        await self._record(Call("GET", request.path, dict(request.query), dict(request.headers), None))
        message = self.channel_messages.get(request.match_info["mid"])
        return _json(message) if message else _json({"message": "Unknown Message", "code": 10008}, 404)

    async def _channel_edit(self, request: web.Request) -> web.Response:
        payload, files = await read_body(request)
        await self._record(
            Call("PATCH", request.path, dict(request.query), dict(request.headers), payload, files)
        )
        mid = request.match_info["mid"]
        found = self.channel_messages.get(mid) or next(
            (by_id[mid] for by_id in self.messages.values() if mid in by_id), None
        )
        if found is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        found.update(self._message_fields(payload, files))
        return _json(found)

    async def send_message(self, message: dict[str, Any]) -> None:
        """A member posts `message` in the channel (MESSAGE_CREATE)."""
        self.channel_messages[message["id"]] = message
        await self.dispatch("MESSAGE_CREATE", message)

    async def _cdn(self, request: web.Request) -> web.Response:
        await self._record(Call("GET", request.path, dict(request.query), dict(request.headers), None))
        return stored_file(self.cdn, request.match_info["name"])

    async def _unknown(self, request: web.Request) -> web.Response:
        payload, files = await read_body(request)
        call = Call(request.method, request.path, dict(request.query), dict(request.headers), payload, files)
        self.unknown.append(call)
        await self._record(call)
        return _json({"message": "404: Not Found", "code": 0}, 404)

    # --- message store ----------------------------------------------------------------------------

    def _find(self, token: str, mid: str) -> dict[str, Any] | None:
        if mid == "@original":
            mid = self.originals.get(token, "")
        return self.messages.get(token, {}).get(mid)

    def _store(
        self, token: str, payload: dict[str, Any], files: list[Upload], *, loading: bool = False
    ) -> dict[str, Any]:
        message = message_object(
            type=20,
            author=BOT_USER,
            flags=(128 if loading else 0) | ((payload or {}).get("flags", 0) & 64),
        )
        message.update(self._message_fields(payload or {}, files))
        self.messages.setdefault(token, {})[message["id"]] = message
        return message

    def _message_fields(self, payload: dict[str, Any], files: list[Upload]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key in ("content", "embeds", "components"):
            if key in payload:
                fields[key] = payload[key] if payload[key] is not None else ([] if key != "content" else "")
        if "attachments" in payload:
            fields["attachments"] = [
                {
                    "id": snowflake(),
                    "filename": upload.filename,
                    "size": len(upload.data),
                    "url": self.add_cdn_file(
                        f"{snowflake()}-{upload.filename}", upload.data, upload.content_type
                    ),
                    "proxy_url": f"{self.base}/cdn/{upload.filename}",
                    "content_type": upload.content_type,
                }
                for upload in files
            ]
        return fields


def is_progress(call: Call) -> bool:
    """Whether a call is a job's progress edit (it carries the Cancel button)."""
    return call.method == "PATCH" and "bb:cancel:" in json.dumps((call.payload or {}).get("components") or [])


def message_object(**fields: Any) -> dict[str, Any]:
    """A message with every field discord.py reads, overridden by `fields`."""
    return {
        "id": snowflake(),
        "type": 0,
        "channel_id": CHANNEL_ID,
        "author": user(),
        "content": "",
        "embeds": [],
        "attachments": [],
        "components": [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "timestamp": "2026-01-01T00:00:00+00:00",
        "edited_timestamp": None,
        "flags": 0,
        **fields,
    }


def _options(options: dict[str, Any]) -> list[dict[str, Any]]:
    kinds = {str: 3, bool: 5, int: 4, float: 10}
    return [
        {"name": k, "type": 11, "value": v["id"]}
        if isinstance(v, dict)
        else {"name": k, "type": kinds[type(v)], "value": v}
        for k, v in options.items()
    ]
