"""The fake Discord's messages: what the bot created and edited, kept as Discord stores them.

Creates and edits are checked as Discord checks them (`discord_components.message_problems`:
Components V2 flag, legacy fields, component rules, `attachment://` names); a refused request changes
nothing and gets Discord's 400 body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.discord_components import (
    EPHEMERAL,
    IS_COMPONENTS_V2,
    LOADING,
    form_error,
    message_problems,
    resolve_media,
)
from tests.fakes.discord_payloads import BOT_USER, message_object, snowflake
from tests.fakes.server import Upload

SUPPRESS_EMBEDS = 1 << 2
SUPPRESS_NOTIFICATIONS = 1 << 12
# The flags a bot may set when it creates a message, and those it may change by an edit.
CREATE_FLAGS = EPHEMERAL | IS_COMPONENTS_V2 | SUPPRESS_EMBEDS | SUPPRESS_NOTIFICATIONS
EDIT_FLAGS = IS_COMPONENTS_V2 | SUPPRESS_EMBEDS


class Refused(Exception):
    """A request Discord answers with 400 Invalid Form Body."""

    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__(body["errors"])
        self.body = body


class MessageStore:
    """Message create and edit for the fake's REST handlers (a part of `FakeDiscord`)."""

    base: str
    # token (or "channel:<id>") -> message id -> message; "@original" is an alias of the first response.
    messages: dict[str, dict[str, dict[str, Any]]]
    originals: dict[str, str]
    # Messages members posted and the bot's channel posts, by id, for GET /channels/{cid}/messages/{mid}.
    channel_messages: dict[str, dict[str, Any]]

    def add_cdn_file(self, name: str, data: bytes, content_type: str = "image/png") -> str:
        raise NotImplementedError

    def _find(self, token: str, mid: str) -> dict[str, Any] | None:
        if mid == "@original":
            mid = self.originals.get(token, "")
        return self.messages.get(token, {}).get(mid)

    def _find_any(self, mid: str) -> dict[str, Any] | None:
        """A message by id, wherever it was made (channel post, interaction response, follow-up)."""
        return self.channel_messages.get(mid) or next(
            (by_id[mid] for by_id in self.messages.values() if mid in by_id), None
        )

    def _store(
        self,
        token: str,
        payload: Mapping[str, Any] | None,
        files: Sequence[Upload],
        *,
        loading: bool = False,
        refusal_at: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """A new message from a create request; raises `Refused` as Discord would."""
        payload = payload or {}
        _check(payload, files, None, refusal_at)
        message = message_object(
            type=20,
            author=BOT_USER,
            flags=(LOADING if loading else 0) | ((payload.get("flags") or 0) & CREATE_FLAGS),
        )
        message.update(self._message_fields(payload, files, message))
        self.messages.setdefault(token, {})[message["id"]] = message
        return message

    def _edit(
        self,
        message: dict[str, Any],
        payload: Mapping[str, Any] | None,
        files: Sequence[Upload],
        *,
        refusal_at: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """`message` changed by an edit request, in place; raises `Refused` as Discord would."""
        payload = payload or {}
        _check(payload, files, message, refusal_at)
        flags = message.get("flags") or 0
        if payload.get("flags") is not None:
            # Only these can change by an edit; the V2 flag, once set, stays.
            flags = (flags & ~SUPPRESS_EMBEDS) | (payload["flags"] & EDIT_FLAGS)
        message.update(self._message_fields(payload, files, message))
        # An edit ends a deferred response's "thinking".
        message["flags"] = flags & ~LOADING
        return message

    def _message_fields(
        self, payload: Mapping[str, Any], files: Sequence[Upload], existing: Mapping[str, Any]
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        for key in ("content", "embeds"):
            if key in payload:
                fields[key] = payload[key] if payload[key] is not None else ([] if key != "content" else "")
        attachments = self._attachments(payload, files, existing.get("attachments") or [])
        if attachments is not None:
            fields["attachments"] = attachments
        if "components" in payload:
            by_name = {a["filename"]: a for a in fields.get("attachments", existing.get("attachments") or [])}
            fields["components"] = resolve_media(payload["components"] or [], by_name)
        return fields

    def _attachments(
        self, payload: Mapping[str, Any], files: Sequence[Upload], existing: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        """The message's files after the request (those `attachments` keeps, then the new uploads), or
        None when it leaves them as they were."""
        listed = {str(a.get("id")): a for a in payload.get("attachments") or []}
        new = [self._upload(upload, listed) for upload in files]
        if "attachments" not in payload:
            return [*existing, *new] if new else None
        return [a for a in existing if a["id"] in listed] + new

    def _upload(self, upload: Upload, listed: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        # The part `files[N]` is described by the `attachments` entry with id N.
        index = upload.name.removeprefix("files[").removesuffix("]")
        entry = listed.get(index, {})
        filename = entry.get("filename") or upload.filename
        stored: dict[str, Any] = {
            "id": snowflake(),
            "filename": filename,
            "size": len(upload.data),
            "url": self.add_cdn_file(f"{snowflake()}-{filename}", upload.data, upload.content_type),
            "proxy_url": f"{self.base}/cdn/{filename}",
            "content_type": upload.content_type,
        }
        if entry.get("description"):
            stored["description"] = entry["description"]
        return stored


def _check(
    payload: Mapping[str, Any],
    files: Sequence[Upload],
    existing: Mapping[str, Any] | None,
    prefix: tuple[str, ...],
) -> None:
    uploads = [f.filename for f in files if f.filename]
    problems = message_problems(payload, uploads, existing)
    if problems:
        raise Refused(form_error(problems, prefix))
