"""A fake Discord on 127.0.0.1: REST under /api/v10, the gateway websocket and a CDN route.

A real discord.py client logs in to it; tests push INTERACTION_CREATE events through the gateway and
read back what the bot sent (callbacks, webhook edits and followups, multipart files included).
The wire details follow shared/discord.md (discord.py 2.7).

Its parts live beside it: `discord_payloads` (ids, users, messages, the interaction payloads tests
push), `discord_calls` (the record of requests), `discord_messages` (the message store) and
`discord_components` (the rules Discord applies to components, Components V2 included). Messages
are refused as Discord refuses them (400 Invalid Form Body); `FakeDiscord.refusals` lists those.

The gateway takes several connections at once, as Discord's does for a sharded bot: an IDENTIFY
with `shard: [id, count]` makes its connection that shard's, and guild events and interactions go
only to the connection of the guild's shard, `(guild_id >> 22) % count` (DMs: shard 0). An
unsharded connection takes every event, as before. `GET /gateway/bot` answers as Discord does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes.discord_calls import (
    Call,
    CallLog,
    SentInteraction,
    invalid_token,
    is_progress,
    read_body,
)
from tests.fakes.discord_calls import json_response as _json
from tests.fakes.discord_components import IS_COMPONENTS_V2, buttons_in
from tests.fakes.discord_messages import MessageStore, Refused
from tests.fakes.discord_payloads import (
    APP_ID,
    BOT_USER,
    CHANNEL_ID,
    DEFAULT_UPLOAD_LIMIT,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    OWNER,
    PLAIN_PERMISSIONS,
    PayloadBuilder,
    created_at,
    guild_object,
    message_object,
    snowflake,
    user,
)
from tests.fakes.server import FakeServer, Upload, stored_file

# Names tests import from here (the payload builders and the component rules live beside this module).
__all__ = [
    "APP_ID",
    "BOT_USER",
    "CHANNEL_ID",
    "DEFAULT_UPLOAD_LIMIT",
    "GUILD_ID",
    "IS_COMPONENTS_V2",
    "MEMBER_PERMISSIONS",
    "OWNER",
    "PLAIN_PERMISSIONS",
    "Call",
    "FakeDiscord",
    "SentInteraction",
    "buttons_in",
    "invalid_token",
    "is_progress",
    "message_object",
    "read_body",
    "snowflake",
    "user",
]

TOKEN_LIFETIME = 15 * 60
# Events whose own `id` is the guild's; every other guild event carries `guild_id`.
GUILD_OBJECT_EVENTS = ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE")


def shard_of(event: str, data: dict[str, Any], shard_count: int) -> int:
    """The shard Discord sends an event on: its guild's, and shard 0 for what has no guild (DMs)."""
    guild = data.get("id") if event in GUILD_OBJECT_EVENTS else data.get("guild_id")
    return (int(guild) >> 22) % shard_count if guild else 0


@dataclass
class GatewayConnection:
    """One bot connection to the gateway."""

    ws: web.WebSocketResponse
    shard: tuple[int, int] | None = None  # IDENTIFY's [id, count]; None: unsharded (or not identified)
    identified: bool = False
    ready: bool = False
    seq: int = 0

    def takes(self, event: str, data: dict[str, Any]) -> bool:
        if not self.identified or self.ws.closed:
            return False
        return self.shard is None or shard_of(event, data, self.shard[1]) == self.shard[0]


class FakeDiscord(PayloadBuilder, MessageStore, CallLog, FakeServer):
    def __init__(self) -> None:
        super().__init__(client_max_size=200 * 1024 * 1024)
        r = self.app.router
        r.add_get("/api/v10/users/@me", self._me)
        r.add_get("/api/v10/oauth2/applications/@me", self._app_info)
        r.add_get("/gateway", self._gateway)
        r.add_get("/api/v10/gateway/bot", self._gateway_bot)
        r.add_post("/api/v10/interactions/{iid}/{token}/callback", self._callback)
        r.add_post("/api/v10/webhooks/{app}/{token}", self._followup)
        r.add_get("/api/v10/webhooks/{app}/{token}/messages/{mid}", self._get_message)
        r.add_patch("/api/v10/webhooks/{app}/{token}/messages/{mid}", self._edit_message)
        r.add_delete("/api/v10/webhooks/{app}/{token}/messages/{mid}", self._delete_message)
        r.add_put("/api/v10/applications/{app}/commands", self._bulk_overwrite)
        r.add_put("/api/v10/applications/{app}/guilds/{gid}/commands", self._bulk_overwrite)
        r.add_get("/api/v10/applications/{app}/commands", self._registered)
        r.add_get("/api/v10/applications/{app}/guilds/{gid}/commands", self._registered)
        r.add_get("/api/v10/users/@me/guilds", self._my_guilds)
        r.add_post("/api/v10/channels/{cid}/messages", self._channel_send)
        r.add_post("/api/v10/channels/{cid}/typing", self._typing)
        r.add_get("/api/v10/channels/{cid}/messages/{mid}", self._channel_message)
        r.add_patch("/api/v10/channels/{cid}/messages/{mid}", self._channel_edit)
        r.add_delete("/api/v10/channels/{cid}/messages/{mid}", self._channel_delete)
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
        # The servers the bot is in (GET /users/@me/guilds), and servers whose commands it may not
        # touch (403 Missing Access, 50001: not in them, or invited without applications.commands).
        self.guilds: list[dict[str, Any]] = []
        self.missing_access: set[str] = set()
        # True: the gateway refuses every new connection (after `drop_gateway`).
        self.gateway_down = False
        # Messages members posted, by id, for GET /channels/{cid}/messages/{mid}.
        self.channel_messages: dict[str, dict[str, Any]] = {}
        self.bot_posts: list[dict[str, Any]] = []  # what the bot posted in channels, as Discord stored it
        self.forbidden_channels: set[str] = set()  # channels where the bot may not post (403 50013)
        # True: an interaction's message takes no upload (404 Unknown Webhook), as Discord sometimes does.
        self.refuse_uploads_to_original = False
        # Set: an edit carrying files is recorded and then waits for it before it is answered (a
        # result being posted, held as long as a test needs).
        self.hold_uploads: asyncio.Event | None = None
        self.upload_delay = 0.0  # seconds an edit carrying files takes to be answered (a slow upload)
        # Called with each interaction callback as it arrives, before it is answered (a test may
        # kill the bot at that instant).
        self.on_callback: Callable[[Call], None] | None = None
        self._nonces: dict[str, dict[str, Any]] = {}
        # Every gateway connection so far, oldest first; `identifies` holds each IDENTIFY's `shard`
        # field (None when it had none), in order; `undelivered` the events no connection's shard took.
        self.connections: list[GatewayConnection] = []
        self.identifies: list[list[int] | None] = []
        self.undelivered: list[tuple[str, dict[str, Any]]] = []
        # GET /gateway/bot: the shard count Discord recommends, and IDENTIFYs allowed at once.
        self.recommended_shards = 1
        self.max_concurrency = 1
        self._gateway_changed = asyncio.Condition()
        self._changed = asyncio.Condition()

    # --- lifecycle --------------------------------------------------------------------------------

    async def close(self) -> None:
        # A clean close frame first, so the bot sees Discord hang up rather than a dropped socket.
        for connection in self.connections:
            if not connection.ws.closed:
                await connection.ws.close()
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

    # --- gateway ----------------------------------------------------------------------------------

    async def drop_gateway(self, shard: tuple[int, int] | None = None) -> None:
        """Discord's gateway goes away: new connections are refused, and the open ones close (only
        `shard`'s, when given: the bot's other shards stay connected)."""
        self.gateway_down = True
        for connection in self.connections:
            if not connection.ws.closed and shard in (None, connection.shard):
                await connection.ws.close(code=1011)

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        if self.gateway_down:
            return web.Response(status=503)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = GatewayConnection(ws)
        self.connections.append(connection)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for msg in ws:
                packet = json.loads(msg.data)
                if packet["op"] == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif packet["op"] == 2:
                    if packet["d"]["token"] == self.reject_token:
                        await ws.close(code=4004)
                        break
                    await self._identify(connection, packet["d"])
                elif packet["op"] == 6:
                    await self._send(connection, "RESUMED", {})
        finally:
            async with self._gateway_changed:
                self._gateway_changed.notify_all()
        return ws

    async def _identify(self, connection: GatewayConnection, identify: dict[str, Any]) -> None:
        shard = identify.get("shard")
        self.identifies.append(shard)
        connection.shard = (shard[0], shard[1]) if shard else None
        connection.identified = True
        self.identified.set()
        ready: dict[str, Any] = {
            "v": 10,
            "user": BOT_USER,
            "guilds": [],
            "session_id": f"fake-session-{len(self.identifies)}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": APP_ID, "flags": 0},
        }
        if shard:
            ready["shard"] = shard
        await self._send(connection, "READY", ready)
        connection.ready = True
        self.ready.set()
        async with self._gateway_changed:
            self._gateway_changed.notify_all()

    def ready_shards(self) -> set[tuple[int, int]]:
        """The shards ([id, count]) with an open connection that has had its READY."""
        return {c.shard for c in self.connections if c.ready and c.shard and not c.ws.closed}

    async def wait_shards(self, *shards: tuple[int, int], timeout: float = 10.0) -> None:
        """Until each shard ([id, count]) has an open connection that has had its READY."""
        async with self._gateway_changed:
            await asyncio.wait_for(
                self._gateway_changed.wait_for(lambda: set(shards) <= self.ready_shards()), timeout
            )

    async def dispatch(self, event: str, data: dict[str, Any]) -> bool:
        """Send an event as Discord would: on the connection of its shard. False when no connection
        holds that shard (the event is then lost, as it is for a shard nobody connects)."""
        assert self.connections, "no bot is connected to the gateway"
        connection = self._route(event, data)
        if connection is None:
            self.undelivered.append((event, data))
            return False
        await self._send(connection, event, data)
        return True

    def _route(self, event: str, data: dict[str, Any]) -> GatewayConnection | None:
        for connection in reversed(self.connections):  # the newest, when a shard reconnected
            if connection.takes(event, data):
                return connection
        latest = self.connections[-1]
        # Unsharded as before: the latest connection, even one not identified or already closed.
        return latest if latest.shard is None else None

    async def _send(self, connection: GatewayConnection, event: str, data: dict[str, Any]) -> None:
        connection.seq += 1
        await connection.ws.send_str(json.dumps({"op": 0, "s": connection.seq, "t": event, "d": data}))

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        await self._record(Call("GET", request.path, dict(request.query), dict(request.headers), None))
        limit = {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": self.max_concurrency}
        return _json(
            {"url": self.gateway_url, "shards": self.recommended_shards, "session_start_limit": limit}
        )

    async def set_guild_locale(self, preferred_locale: str) -> None:
        """The server's preferred language: sent as GUILD_CREATE (what mentions read) and carried
        by every later interaction as `guild_locale`. The bot reads events in order, so a message
        sent after this is read with the server known."""
        self.guild_locale = preferred_locale
        await self.dispatch("GUILD_CREATE", guild_object(preferred_locale))

    async def send_interaction(self, payload: dict[str, Any]) -> SentInteraction:
        sent = SentInteraction(payload, time.monotonic())
        self.sent[sent.id] = sent
        await self.dispatch("INTERACTION_CREATE", payload)
        return sent

    def original_message(self, token: str) -> dict[str, Any]:
        """The message an interaction's response became, as Discord would send it back."""
        message = self._find(token, "@original")
        assert message is not None, f"no response message for {token}"
        return dict(message)

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
        call = await self._received(request)
        if self.on_callback is not None:
            self.on_callback(call)
        payload, files = call.payload or {}, call.files
        iid, token = request.match_info["iid"], request.match_info["token"]
        kind = payload.get("type")
        data = payload.get("data") or {}
        try:
            if kind in (4, 5):
                message = self._store(token, data, files, loading=kind == 5, refusal_at=("data",))
                self.originals[token] = message["id"]
            elif kind == 7:  # UPDATE_MESSAGE: edits the message whose component was used
                self._update_pressed(iid, data, files)
        except Refused as refused:
            return self._refuse(call, refused)
        # Discord's interaction callback object: the response's message is named inside it.
        interaction: dict[str, Any] = {
            "id": iid,
            "type": self.sent[iid].payload["type"] if iid in self.sent else 2,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool((data.get("flags") or 0) & 64),
        }
        if kind in (4, 5):
            interaction["response_message_id"] = self.originals[token]
        return _json({"interaction": interaction})

    def _update_pressed(self, iid: str, data: dict[str, Any], files: list[Upload]) -> None:
        pressed = self.sent[iid].payload.get("message") if iid in self.sent else None
        assert pressed is not None, "an UPDATE_MESSAGE callback for an interaction without a message"
        stored = self._find_any(pressed["id"])
        # A message the fake never stored (built by the test) is checked and changed as a copy.
        self._edit(stored if stored is not None else dict(pressed), data, files, refusal_at=("data",))

    def token_expired(self, token: str) -> bool:
        """Discord honours an interaction token for 15 minutes from the interaction's creation."""
        sent = next((s for s in self.sent.values() if s.token == token), None)
        if sent is None:
            return False
        return time.time() > created_at(sent.id) + TOKEN_LIFETIME

    async def _followup(self, request: web.Request) -> web.Response:
        call = await self._received(request)
        if self.token_expired(request.match_info["token"]):
            return invalid_token()
        try:
            return _json(self._store(request.match_info["token"], call.payload, call.files))
        except Refused as refused:
            return self._refuse(call, refused)

    async def _get_message(self, request: web.Request) -> web.Response:
        await self._record(Call("GET", request.path, dict(request.query), dict(request.headers), None))
        if self.token_expired(request.match_info["token"]):
            return invalid_token()
        message = self._find(request.match_info["token"], request.match_info["mid"])
        return _json(message) if message else _json({"message": "Unknown Message", "code": 10008}, 404)

    async def _edit_message(self, request: web.Request) -> web.Response:
        call = await self._received(request)
        token, mid = request.match_info["token"], request.match_info["mid"]
        if self.token_expired(token):
            return invalid_token()
        message = self._find(token, mid)
        if message is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        if self.refuse_uploads_to_original and call.files and mid == "@original":
            return _json({"message": "Unknown Webhook", "code": 10015}, 404)
        if self.hold_uploads is not None and call.files:
            await self.hold_uploads.wait()
        if self.upload_delay and call.files:
            await asyncio.sleep(self.upload_delay)
        try:
            return _json(self._edit(message, call.payload, call.files))
        except Refused as refused:
            return self._refuse(call, refused)

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

    async def _registered(self, request: web.Request) -> web.Response:
        await self._record(Call("GET", request.path, dict(request.query), dict(request.headers), None))
        scope = request.match_info.get("gid", "global")
        if scope in self.missing_access:
            return _json({"message": "Missing Access", "code": 50001}, 403)
        return _json(self.commands.get(scope, []))

    async def _my_guilds(self, request: web.Request) -> web.Response:
        await self._record(Call("GET", request.path, dict(request.query), dict(request.headers), None))
        return _json(self.guilds)

    async def _bulk_overwrite(self, request: web.Request) -> web.Response:
        payload, _ = await read_body(request)
        await self._record(Call("PUT", request.path, dict(request.query), dict(request.headers), payload))
        if request.match_info.get("gid") in self.missing_access:
            return _json({"message": "Missing Access", "code": 50001}, 403)
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
        call = await self._received(request)
        payload = call.payload or {}
        if request.match_info["cid"] in self.forbidden_channels:
            return _json({"message": "Missing Permissions", "code": 50013}, 403)
        nonce = payload.get("nonce")
        if nonce and payload.get("enforce_nonce") and nonce in self._nonces:
            return _json(self._nonces[nonce])  # Discord answers a repeated nonce with the first message
        try:
            message = self._store(f"channel:{request.match_info['cid']}", payload, call.files)
        except Refused as refused:
            return self._refuse(call, refused)
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
        call = await self._received(request)
        found = self._find_any(request.match_info["mid"])
        if found is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        try:
            return _json(self._edit(found, call.payload, call.files))
        except Refused as refused:
            return self._refuse(call, refused)

    async def _channel_delete(self, request: web.Request) -> web.Response:
        await self._record(Call("DELETE", request.path, dict(request.query), dict(request.headers), None))
        if self.channel_messages.pop(request.match_info["mid"], None) is None:
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        return web.Response(status=204)

    async def send_message(self, message: dict[str, Any]) -> None:
        """A member posts `message` in the channel (MESSAGE_CREATE)."""
        self.channel_messages[message["id"]] = message
        await self.dispatch("MESSAGE_CREATE", message)

    async def _cdn(self, request: web.Request) -> web.Response:
        await self._record(Call("GET", request.path, dict(request.query), dict(request.headers), None))
        return stored_file(self.cdn, request.match_info["name"])

    async def _unknown(self, request: web.Request) -> web.Response:
        call = await self._received(request)
        self.unknown.append(call)
        return _json({"message": "404: Not Found", "code": 0}, 404)
