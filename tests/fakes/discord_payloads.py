"""What the fake Discord sends the bot: ids, users, messages and the interaction payloads tests push.

`PayloadBuilder` is a part of `FakeDiscord` (tests call `discord_fake.slash(...)`); it only needs the
fake's CDN (`add_cdn_file`) for attachments. The shapes follow shared/discord.md (discord.py 2.7).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.discord_components import buttons_in

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

_sequence = itertools.count(1)

# What a modal field receives: text for a text input, attachments (from `attachment(...)`) for a file
# upload.
FieldValue = str | Sequence[Mapping[str, Any]]
SELECTS = (3, 5, 6, 7, 8)


def snowflake(at: float | None = None) -> str:
    """A unique id whose embedded time is `at` (default now), as Discord's ids carry theirs."""
    stamp = int((time.time() if at is None else at) * 1000) - DISCORD_EPOCH_MS
    return str((stamp << 22) | (next(_sequence) & 0x3FFFFF))


def created_at(snowflake_id: str) -> float:
    """The time (epoch seconds) a snowflake carries."""
    return ((int(snowflake_id) >> 22) + DISCORD_EPOCH_MS) / 1000


def user(user_id: str = "100000000000000005", name: str = "alice") -> dict[str, Any]:
    return {"id": user_id, "username": name, "discriminator": "0", "avatar": None, "global_name": None}


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


def guild_object(preferred_locale: str, guild_id: str = GUILD_ID) -> dict[str, Any]:
    """The server as GUILD_CREATE describes it: its preferred language and the one text channel."""
    return {
        "id": guild_id,
        "name": "Banana Land",
        "icon": None,
        "owner_id": OWNER["id"],
        "preferred_locale": preferred_locale,
        "features": [],
        "roles": [{"id": guild_id, "name": "@everyone", "permissions": PLAIN_PERMISSIONS, "position": 0}],
        "emojis": [],
        "stickers": [],
        "channels": [
            {"id": CHANNEL_ID, "type": 0, "name": "general", "position": 0, "permission_overwrites": []}
        ],
        "threads": [],
        "members": [],
        "member_count": 2,
        "premium_tier": 0,
        "unavailable": False,
        "large": False,
        "joined_at": "2024-01-01T00:00:00+00:00",
    }


class PayloadBuilder:
    """The interaction payloads a member's client makes Discord send."""

    # The server's preferred language, as interactions carry it (`guild_locale`).
    guild_locale = "en-US"

    def add_cdn_file(self, name: str, data: bytes, content_type: str = "image/png") -> str:
        raise NotImplementedError

    def interaction(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        locale: str = "en-US",
        guild_locale: str | None = None,
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
            "guild_locale": guild_locale or self.guild_locale,
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

    def button(self, custom_id: str, message: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """A press of one of `message`'s buttons, wherever it sits (action rows, containers, sections).

        A member can only press a button the message shows, and not a disabled one."""
        shown = [b for b in buttons_in(message.get("components") or []) if b.get("custom_id") == custom_id]
        assert shown, f"the message has no button {custom_id!r}"
        assert not shown[0].get("disabled"), f"button {custom_id!r} is disabled"
        data = {"custom_id": custom_id, "component_type": 2}
        return self.interaction(3, data, message=message, **kwargs)

    def modal_submit(
        self,
        custom_id: str,
        values: Mapping[str, FieldValue],
        *,
        modal: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """A member submits a modal: text for text inputs, `attachment(...)` lists for file uploads.

        Without `modal`, text-only values come back in action rows (the legacy shape) and anything with
        files in labels, the only place Discord allows a file upload. With `modal` (the `data` of the
        bot's type-9 callback), the answer mirrors its layout as Discord does (rows, labels with their
        ids, text displays) and every value must name one of its fields."""
        files = {k: list(v) for k, v in values.items() if not isinstance(v, str)}
        resolved = {a["id"]: dict(a) for uploads in files.values() for a in uploads}
        if modal is not None:
            components = _mirror(modal, values)
        else:
            components = [_answer(key, value, label=bool(files)) for key, value in values.items()]
        data: dict[str, Any] = {"custom_id": custom_id, "components": components}
        if resolved:
            data["resolved"] = {"attachments": resolved}
        return self.interaction(5, data, **kwargs)


def _field(key: str, value: FieldValue, *, kind: int | None = None) -> dict[str, Any]:
    if isinstance(value, str):
        assert kind in (None, 4), f"field {key!r} is not a text input"
        return {"type": 4, "custom_id": key, "value": value}
    assert kind in (None, 19), f"field {key!r} is not a file upload"
    return {"type": 19, "custom_id": key, "values": [a["id"] for a in value]}


def _answer(key: str, value: FieldValue, *, label: bool) -> dict[str, Any]:
    if label:
        return {"type": 18, "component": _field(key, value)}
    return {"type": 1, "components": [_field(key, value)]}


def _mirror(modal: Mapping[str, Any], values: Mapping[str, FieldValue]) -> list[dict[str, Any]]:
    """The submitted components for `modal`: its layout, its ids, the member's values."""
    unknown = set(values)

    def answer(component: Mapping[str, Any]) -> dict[str, Any]:
        key, kind = component.get("custom_id", ""), component["type"]
        given = values.get(key)
        if kind == 19:
            uploads = list(given) if given is not None and not isinstance(given, str) else []
            # Discord's defaults (discord.py sends null for the ones not given).
            low, high = (
                1 if component.get(k) is None else component[k] for k in ("min_values", "max_values")
            )
            required = component.get("required") is not False
            assert (not uploads and not required) or low <= len(uploads) <= high, (
                f"file upload {key!r} takes {low}..{high} files, not {len(uploads)}"
            )
            answered = _field(key, uploads, kind=19)
        elif kind == 4:
            answered = _field(key, given if isinstance(given, str) else "", kind=4)
        elif kind in SELECTS:  # selects answer with the chosen option values
            chosen: Any = given or []
            answered = {"type": kind, "custom_id": key, "values": list(chosen)}
        else:
            assert given is None, f"field {key!r} of type {kind} takes no value here"
            answered = {"type": kind, "custom_id": key}
        unknown.discard(key)
        return answered | ({"id": component["id"]} if "id" in component else {})

    mirrored: list[dict[str, Any]] = []
    for top in modal.get("components") or []:
        ident = {"id": top["id"]} if "id" in top else {}
        if top["type"] == 1:
            mirrored.append({"type": 1, **ident, "components": [answer(c) for c in top["components"]]})
        elif top["type"] == 18:
            mirrored.append({"type": 18, **ident, "component": answer(top["component"])})
        else:  # a text display: Discord sends back only its type and id
            mirrored.append({"type": top["type"], **ident})
    assert not unknown, f"the modal has no fields {sorted(unknown)}"
    return mirrored
