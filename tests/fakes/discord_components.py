"""Message components as Discord checks them: V1 action rows and Components V2 trees.

`message_problems` is what Discord's message create and edit endpoints refuse (400, "Invalid Form
Body"); `walk` and `buttons_in` read a component tree in document order. Facts: shared/discord.md
section C and discord.py 2.7 (`ui/view.py` counts every item of a LayoutView, 40 at most).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

IS_COMPONENTS_V2 = 1 << 15
EPHEMERAL = 1 << 6
LOADING = 1 << 7

ACTION_ROW, BUTTON, SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, CONTAINER = (
    1,
    2,
    9,
    10,
    11,
    12,
    13,
    17,
)
SELECTS = frozenset({3, 5, 6, 7, 8})
V2_ONLY = frozenset({SECTION, TEXT_DISPLAY, THUMBNAIL, MEDIA_GALLERY, FILE, 14, CONTAINER})
LINK_STYLES = frozenset({5, 6})  # link and premium buttons carry no custom_id

MAX_COMPONENTS = 40  # every node of the tree, as discord.py's LayoutView counts
MAX_V1_ROWS = 5
MAX_ROW_BUTTONS = 5
MAX_TEXT = 4000
MAX_GALLERY = 10
MAX_CUSTOM_ID = 100
LEGACY_FIELDS = ("content", "embeds", "poll", "sticker_ids")

Path = tuple[str | int, ...]
Component = Mapping[str, Any]


@dataclass(frozen=True)
class Problem:
    """One refused field, at its place in the request body."""

    path: Path
    code: str
    message: str


def form_error(problems: Sequence[Problem], prefix: Path = ()) -> dict[str, Any]:
    """Discord's error body: `{"code": 50035, "message": "Invalid Form Body", "errors": {...}}`, the
    errors nested along each field's path with string keys, `_errors` at the leaves."""
    errors: dict[str, Any] = {}
    for problem in problems:
        node = errors
        for key in (*prefix, *problem.path):
            node = node.setdefault(str(key), {})
        node.setdefault("_errors", []).append({"code": problem.code, "message": problem.message})
    return {"code": 50035, "message": "Invalid Form Body", "errors": errors}


def walk(components: Sequence[Component], path: Path = ("components",)) -> Iterator[tuple[Path, Component]]:
    """Every component with its path, in document order: rows, containers and sections' children,
    a section's `accessory`, a label's `component`. Gallery items are not components."""
    for index, component in enumerate(components):
        here = (*path, index)
        yield here, component
        yield from walk(component.get("components") or [], (*here, "components"))
        for key in ("accessory", "component"):
            if isinstance(component.get(key), Mapping):
                yield (*here, key), component[key]
                yield from walk(component[key].get("components") or [], (*here, key, "components"))


def buttons_in(components: Sequence[Component]) -> list[Component]:
    return [c for _, c in walk(components) if c.get("type") == BUTTON]


def media_urls(component: Component) -> list[str]:
    """The media a gallery, thumbnail or file component shows, in order."""
    kind = component.get("type")
    if kind == MEDIA_GALLERY:
        return [(item.get("media") or {}).get("url", "") for item in component.get("items") or []]
    if kind == THUMBNAIL:
        return [(component.get("media") or {}).get("url", "")]
    if kind == FILE:
        return [(component.get("file") or {}).get("url", "")]
    return []


def message_problems(
    payload: Mapping[str, Any],
    uploads: Sequence[str],
    existing: Mapping[str, Any] | None = None,
) -> list[Problem]:
    """What Discord refuses in a message create (`existing` None) or an edit of `existing`.

    `uploads` are the names of the files sent with the request."""
    problems: list[Problem] = []
    old_flags = (existing or {}).get("flags") or 0
    new_flags = payload.get("flags")
    if old_flags & IS_COMPONENTS_V2 and new_flags is not None and not new_flags & IS_COMPONENTS_V2:
        problems.append(
            Problem(
                ("flags",),
                "MESSAGE_CANNOT_REMOVE_COMPONENTS_V2_FLAG",
                "The IS_COMPONENTS_V2 flag can't be removed",
            )
        )
    v2 = bool((old_flags | (new_flags or 0)) & IS_COMPONENTS_V2)
    if v2:
        for key in LEGACY_FIELDS:
            value = payload[key] if key in payload else (existing or {}).get(key)
            if value:
                problems.append(
                    Problem(
                        (key,),
                        "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                        f"The '{key}' field cannot be used when using MessageFlags.IS_COMPONENTS_V2",
                    )
                )
    if "components" in payload or v2:
        components = payload["components"] if "components" in payload else (existing or {}).get("components")
        names = set(uploads) | _kept_names(payload, existing)
        problems += components_problems(components or [], v2=v2, names=names)
    return problems


def _kept_names(payload: Mapping[str, Any], existing: Mapping[str, Any] | None) -> set[str]:
    """Names of files the message will have besides new uploads: those `attachments` keeps, or all of
    them when an edit leaves `attachments` out; plus the names the request gives its new files."""
    old = {str(a["id"]): a["filename"] for a in (existing or {}).get("attachments") or []}
    if "attachments" not in payload:
        return set(old.values())
    listed = payload["attachments"] or []
    return {old[str(a["id"])] for a in listed if str(a["id"]) in old} | {
        a["filename"] for a in listed if str(a["id"]) not in old and a.get("filename")
    }


def components_problems(components: Sequence[Component], *, v2: bool, names: set[str]) -> list[Problem]:
    """The component rules: V1 takes at most 5 action rows; V2 at most 40 components in all and 4000
    characters of text displays; 5 buttons a row, unique custom ids of 1..100 characters, galleries of
    1..10 items, and `attachment://` media that name a file of the message."""
    problems: list[Problem] = []

    def refuse(path: Path, code: str, message: str) -> None:
        problems.append(Problem(path, code, message))

    nodes = list(walk(components))
    if v2 and len(nodes) > MAX_COMPONENTS:
        refuse(("components",), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_COMPONENTS} or fewer in length.")
    if not v2 and len(components) > MAX_V1_ROWS:
        refuse(("components",), "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_V1_ROWS} or fewer in length.")
    seen: set[str] = set()
    text = 0
    for path, component in nodes:
        kind = component.get("type")
        if not v2 and (kind in V2_ONLY or (len(path) == 2 and kind != ACTION_ROW)):
            refuse(path, "COMPONENT_TYPE_INVALID", f"Component type {kind} needs the IS_COMPONENTS_V2 flag")
        if kind == ACTION_ROW:
            children = component.get("components") or []
            if not children or sum(c.get("type") == BUTTON for c in children) > MAX_ROW_BUTTONS:
                refuse((*path, "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        if kind in SELECTS or (kind == BUTTON and component.get("style") not in LINK_STYLES):
            custom_id = component.get("custom_id")
            if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
                refuse((*path, "custom_id"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            elif custom_id in seen:
                refuse(
                    (*path, "custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            else:
                seen.add(custom_id)
        if kind == TEXT_DISPLAY:
            text += len(component.get("content") or "")
        if kind == MEDIA_GALLERY and not 1 <= len(component.get("items") or []) <= MAX_GALLERY:
            refuse((*path, "items"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 10 in length.")
        if kind == SECTION and not isinstance(component.get("accessory"), Mapping):
            refuse((*path, "accessory"), "BASE_TYPE_REQUIRED", "This field is required")
        for url in media_urls(component):
            if url.startswith("attachment://") and url.removeprefix("attachment://") not in names:
                refuse(path, "UNFURLED_MEDIA_ITEM_ATTACHMENT_NOT_FOUND", f"No attachment named {url!r}")
            elif kind == FILE and not url.startswith("attachment://"):
                refuse(path, "UNFURLED_MEDIA_ITEM_INVALID", "A file component only takes attachment:// URLs")
    if text > MAX_TEXT:
        refuse(
            ("components",),
            "MESSAGE_TEXT_DISPLAY_TOO_LONG",
            f"Text displays hold {MAX_TEXT} characters in all",
        )
    return problems


def resolve_media(
    components: Sequence[Component], files: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """A copy of `components` as Discord stores them: each `attachment://NAME` becomes the file's CDN
    URL, with its `attachment_id` and content type."""

    def media(item: Mapping[str, Any]) -> dict[str, Any]:
        url = item.get("url", "")
        found = files.get(url.removeprefix("attachment://")) if url.startswith("attachment://") else None
        if found is None:
            return dict(item)
        return {
            **item,
            "url": found["url"],
            "proxy_url": found["proxy_url"],
            "content_type": found.get("content_type"),
            "attachment_id": found["id"],
        }

    def copy(component: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(component)
        if "components" in out:
            out["components"] = [copy(c) for c in out["components"] or []]
        for key in ("accessory", "component"):
            if isinstance(out.get(key), Mapping):
                out[key] = copy(out[key])
        for key in ("media", "file"):
            if isinstance(out.get(key), Mapping):
                out[key] = media(out[key])
        if "items" in out:
            out["items"] = [{**i, "media": media(i.get("media") or {})} for i in out["items"] or []]
        return out

    return [copy(c) for c in components]
