"""The fake Discord's Components V2 rules, checked with raw HTTP requests, as Discord would answer them.

End-to-end tests trust the fake to refuse what Discord refuses; these tests pin each rule, both ways.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from tests.e2e.helpers import buttons_of, card_texts, gallery_of, is_card
from tests.fakes import pictures
from tests.fakes.discord import APP_ID, CHANNEL_ID, IS_COMPONENTS_V2, FakeDiscord, SentInteraction, snowflake

V2 = IS_COMPONENTS_V2
PNG = pictures.encode(pictures.photo(8, 8), "PNG")

Send = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def fake(discord_fake: FakeDiscord) -> FakeDiscord:
    return discord_fake  # the suite's own fake (tests/conftest.py), under a shorter name


@pytest.fixture
async def send(fake: FakeDiscord) -> AsyncIterator[Send]:
    """`send(method, path, payload, files={name: bytes})`: a request as discord.py makes it (JSON, or
    multipart with `payload_json` and `files[n]`), answered with (status, JSON body)."""
    async with aiohttp.ClientSession() as session:

        async def request(
            method: str, path: str, payload: dict[str, Any], files: dict[str, bytes] | None = None
        ) -> tuple[int, Any]:
            body: Any
            if files:
                payload = {**payload, "attachments": payload.get("attachments", [])}
                payload["attachments"] += [{"id": i, "filename": name} for i, name in enumerate(files)]
                body = aiohttp.FormData()
                body.add_field("payload_json", json.dumps(payload), content_type="application/json")
                for i, (name, data) in enumerate(files.items()):
                    body.add_field(f"files[{i}]", data, filename=name, content_type="image/png")
                kwargs: dict[str, Any] = {"data": body}
            else:
                kwargs = {"json": payload}
            async with session.request(method, f"{fake.api_url}{path}", **kwargs) as response:
                return response.status, await response.json()

        yield request


CHANNEL = f"/channels/{CHANNEL_ID}/messages"


def text(content: str) -> dict[str, Any]:
    return {"type": 10, "content": content}


def button(custom_id: str, label: str = "Go") -> dict[str, Any]:
    return {"type": 2, "style": 2, "label": label, "custom_id": custom_id}


def row(*buttons: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(buttons)}


def gallery(*urls: str) -> dict[str, Any]:
    return {"type": 12, "items": [{"media": {"url": url}} for url in urls]}


def card(*components: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"flags": V2, "components": [{"type": 17, "components": list(components)}], **fields}


def errors_at(body: dict[str, Any], *path: str) -> list[dict[str, str]]:
    """The `_errors` Discord lists at `path` of its Invalid Form Body answer."""
    assert body["code"] == 50035 and body["message"] == "Invalid Form Body", body
    node = body["errors"]
    for key in path:
        assert key in node, f"no error at {path}: {body['errors']}"
        node = node[key]
    return node["_errors"]


async def test_a_plain_message_and_v1_rows_are_accepted_as_before(send: Send, fake: FakeDiscord) -> None:
    status, message = await send("POST", CHANNEL, {"content": "hi", "components": [row(button("a"))]})
    assert status == 200 and message["content"] == "hi" and not is_card(message)
    assert [b["custom_id"] for b in buttons_of(message)] == ["a"]
    assert not fake.refusals


async def test_a_card_is_stored_with_its_flag_and_gallery_media_on_the_cdn(
    send: Send, fake: FakeDiscord
) -> None:
    payload = card(text("**a cat**"), gallery("attachment://out.png"), row(button("bb:retry:1", "Retry")))
    status, message = await send("POST", CHANNEL, payload, {"out.png": PNG})
    assert status == 200 and is_card(message) and message["content"] == ""
    assert card_texts(message) == ["**a cat**"]
    (url,) = gallery_of(message)
    (attachment,) = message["attachments"]
    assert url == attachment["url"] and url.startswith(fake.base)
    assert message["components"][0]["components"][1]["items"][0]["media"]["attachment_id"] == attachment["id"]
    assert gallery_of(fake.calls[-1]) == ["attachment://out.png"], "the request keeps its own names"


@pytest.mark.parametrize(
    ("field", "value"),
    [("content", "hello"), ("embeds", [{"title": "x"}]), ("poll", {"question": {"text": "?"}})],
)
async def test_a_card_refuses_content_embeds_and_polls(
    send: Send, fake: FakeDiscord, field: str, value: Any
) -> None:
    status, body = await send("POST", CHANNEL, card(text("t"), **{field: value}))
    assert status == 400
    assert errors_at(body, field)[0]["code"] == "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2"
    assert fake.refusals[-1].refusal == body and not fake.bot_posts


async def test_a_card_takes_empty_legacy_fields(send: Send) -> None:
    status, _ = await send("POST", CHANNEL, card(text("t"), content=None, embeds=[]))
    assert status == 200


async def deferred(send: Send) -> str:
    """The token of an interaction the bot deferred (callback type 5), so `@original` exists."""
    token = f"tok-{snowflake()}"
    status, _ = await send("POST", f"/interactions/{snowflake()}/{token}/callback", {"type": 5})
    assert status == 200
    return token


async def test_every_create_path_checks_the_card(send: Send, fake: FakeDiscord) -> None:
    token = await deferred(send)
    bad = card(text("t"), content="no")
    for path in (CHANNEL, f"/webhooks/{APP_ID}/{token}"):
        assert (await send("POST", path, bad))[0] == 400
        assert (await send("POST", path, card(text("t"))))[0] == 200
    status, body = await send("POST", "/interactions/2/tok-2/callback", {"type": 4, "data": bad})
    assert status == 400 and errors_at(body, "data", "content")
    status, _ = await send("POST", "/interactions/3/tok-3/callback", {"type": 4, "data": card(text("t"))})
    assert status == 200 and is_card(fake.original_message("tok-3"))


async def test_a_deferred_reply_becomes_a_card_by_an_edit_of_original(send: Send, fake: FakeDiscord) -> None:
    token = await deferred(send)
    edit = f"/webhooks/{APP_ID}/{token}/messages/@original"
    status, message = await send(
        "PATCH", edit, card(text("done"), gallery("attachment://a.png")), {"a.png": PNG}
    )
    assert status == 200 and is_card(message) and card_texts(message) == ["done"]
    assert not message["flags"] & 128, "the edit ends the thinking state"


async def test_upgrading_a_message_to_a_card_needs_content_and_embeds_cleared(
    send: Send, fake: FakeDiscord
) -> None:
    _, old = await send("POST", CHANNEL, {"content": "working…", "embeds": [{"title": "progress"}]})
    path = f"{CHANNEL}/{old['id']}"
    status, body = await send("PATCH", path, card(text("done")))
    assert status == 400 and errors_at(body, "content") and errors_at(body, "embeds")
    assert fake.channel_messages[old["id"]]["content"] == "working…", "a refused edit changes nothing"
    status, body = await send("PATCH", path, card(text("done"), content=None))
    assert status == 400 and errors_at(body, "embeds") and "content" not in body["errors"]
    status, message = await send("PATCH", path, card(text("done"), content=None, embeds=[]))
    assert status == 200 and is_card(message) and message["content"] == "" and message["embeds"] == []


async def test_the_flag_is_never_removed(send: Send, fake: FakeDiscord) -> None:
    _, old = await send("POST", CHANNEL, card(text("one")))
    path = f"{CHANNEL}/{old['id']}"
    status, message = await send("PATCH", path, {"components": [{"type": 17, "components": [text("two")]}]})
    assert status == 200 and is_card(message) and card_texts(message) == ["two"], (
        "an edit without flags keeps it"
    )
    status, body = await send("PATCH", path, {"flags": 0, "components": [row(button("a"))]})
    assert status == 400 and errors_at(body, "flags")
    status, body = await send("PATCH", path, {"content": "back to text"})
    assert status == 400 and errors_at(body, "content"), "the kept flag still refuses content"
    assert is_card(fake.channel_messages[old["id"]])


async def test_forty_components_in_the_whole_tree_at_most(send: Send) -> None:
    # Counted as discord.py's LayoutView counts: the container, each section and its accessory, each
    # row and its buttons, each text display.
    section = {"type": 9, "components": [text("s")], "accessory": button("acc")}  # 3
    rows = [row(*(button(f"r{r}b{b}") for b in range(4))) for r in range(6)]  # 6 x 5 = 30
    fits = card(section, *rows, *(text(str(i)) for i in range(6)))  # 1 + 3 + 30 + 6 = 40
    assert (await send("POST", CHANNEL, fits))[0] == 200
    status, body = await send("POST", CHANNEL, card(section, *rows, *(text(str(i)) for i in range(7))))
    assert status == 400 and errors_at(body, "components")[0]["code"] == "BASE_TYPE_MAX_LENGTH"


async def test_five_buttons_a_row(send: Send) -> None:
    assert (await send("POST", CHANNEL, card(row(*(button(str(i)) for i in range(5))))))[0] == 200
    status, body = await send("POST", CHANNEL, card(row(*(button(str(i)) for i in range(6)))))
    assert status == 400 and errors_at(body, "components", "0", "components", "0", "components")
    assert (await send("POST", CHANNEL, {"components": [row(*(button(str(i)) for i in range(6)))]}))[0] == 400


@pytest.mark.parametrize(
    ("custom_id", "status"), [("x" * 100, 200), ("x" * 101, 400), ("", 400), (None, 400)]
)
async def test_custom_ids_are_1_to_100_characters(send: Send, custom_id: str | None, status: int) -> None:
    assert (await send("POST", CHANNEL, card(row(button(custom_id)))))[0] == status  # type: ignore[arg-type]


async def test_custom_ids_are_unique_across_the_tree(send: Send) -> None:
    section = {"type": 9, "components": [text("s")], "accessory": button("same")}
    status, body = await send("POST", CHANNEL, card(section, row(button("same"))))
    assert status == 400
    (error,) = errors_at(body, "components", "0", "components", "1", "components", "0", "custom_id")
    assert error["code"] == "COMPONENT_CUSTOM_ID_DUPLICATED"
    assert (await send("POST", CHANNEL, {"components": [row(button("a"), button("a"))]}))[0] == 400
    link = {"type": 2, "style": 5, "label": "Open", "url": "https://example.com"}
    assert (await send("POST", CHANNEL, card(row(link, link))))[0] == 200, "link buttons have no custom id"


async def test_text_displays_hold_4000_characters_in_all(send: Send) -> None:
    assert (await send("POST", CHANNEL, card(text("a" * 2000), text("b" * 2000))))[0] == 200
    status, body = await send("POST", CHANNEL, card(text("a" * 2000), text("b" * 2001)))
    assert status == 400 and errors_at(body, "components")


@pytest.mark.parametrize(("count", "status"), [(0, 400), (1, 200), (10, 200), (11, 400)])
async def test_a_gallery_holds_1_to_10_items(send: Send, count: int, status: int) -> None:
    urls = [f"https://example.com/{i}.png" for i in range(count)]
    assert (await send("POST", CHANNEL, card(gallery(*urls))))[0] == status


@pytest.mark.parametrize(
    "component",
    [
        gallery("attachment://missing.png"),
        {
            "type": 9,
            "components": [text("s")],
            "accessory": {"type": 11, "media": {"url": "attachment://missing.png"}},
        },
        {"type": 13, "file": {"url": "attachment://missing.png"}},
    ],
    ids=["gallery", "thumbnail", "file"],
)
async def test_attachment_names_must_match_an_uploaded_file(
    send: Send, fake: FakeDiscord, component: dict[str, Any]
) -> None:
    status, body = await send("POST", CHANNEL, card(component), {"other.png": PNG})
    assert status == 400 and "missing.png" in json.dumps(body)
    renamed = json.loads(json.dumps(component).replace("missing.png", "other.png"))
    assert (await send("POST", CHANNEL, card(renamed), {"other.png": PNG}))[0] == 200


async def test_an_edit_may_show_files_the_message_keeps(send: Send) -> None:
    _, old = await send("POST", CHANNEL, card(gallery("attachment://a.png")), {"a.png": PNG})
    path, kept = f"{CHANNEL}/{old['id']}", [{"id": old["attachments"][0]["id"]}]
    both = card(gallery("attachment://a.png", "attachment://b.png"))
    status, message = await send("PATCH", path, {**both, "attachments": kept}, {"b.png": PNG})
    assert status == 200 and [a["filename"] for a in message["attachments"]] == ["a.png", "b.png"]
    assert (await send("PATCH", path, card(gallery("attachment://b.png"))))[0] == 200, (
        "attachments left out: kept"
    )
    status, _ = await send("PATCH", path, {**card(gallery("attachment://a.png")), "attachments": []})
    assert status == 400, "a file the edit drops cannot be shown"


async def test_v2_components_need_the_flag(send: Send) -> None:
    status, body = await send("POST", CHANNEL, {"components": [text("no flag")]})
    assert status == 400 and errors_at(body, "components", "0")
    assert (await send("POST", CHANNEL, {"components": [row(button(str(i))) for i in range(6)]}))[0] == 400


async def test_an_update_message_callback_edits_the_pressed_card(send: Send, fake: FakeDiscord) -> None:
    _, shown = await send("POST", CHANNEL, card(text("one"), row(button("bb:next:1", "Next"))))
    press = fake.button("bb:next:1", shown)
    fake.sent[press["id"]] = SentInteraction(press, time.monotonic())  # as if pushed through the gateway
    path = f"/interactions/{press['id']}/{press['token']}/callback"
    status, body = await send("POST", path, {"type": 7, "data": {"content": "two"}})
    assert status == 400 and errors_at(body, "data", "content")
    status, _ = await send("POST", path, {"type": 7, "data": card(text("two"))})
    assert status == 200 and card_texts(fake.channel_messages[shown["id"]]) == ["two"]


# --- the payload builders and readers ----------------------------------------------------------


def test_buttons_are_found_in_rows_containers_and_section_accessories(fake: FakeDiscord) -> None:
    accessory = {**button("bb:sec:1", "Info"), "emoji": {"name": "ℹ️"}}
    message = fake.message(
        components=[
            {"type": 17, "components": [{"type": 9, "components": [text("t")], "accessory": accessory}]},
            {
                "type": 17,
                "components": [row(button("bb:a:1", "A"), {**button("bb:b:1", "B"), "disabled": True})],
            },
        ],
        flags=V2,
    )
    found = [(b["custom_id"], b["label"], b["disabled"]) for b in buttons_of(message)]
    assert found == [("bb:sec:1", "Info", False), ("bb:a:1", "A", False), ("bb:b:1", "B", True)]
    assert buttons_of(message)[0]["emoji"] == {"name": "ℹ️"} and buttons_of(message)[1]["emoji"] is None
    assert fake.button("bb:sec:1", message)["data"] == {"custom_id": "bb:sec:1", "component_type": 2}
    with pytest.raises(AssertionError, match="disabled"):
        fake.button("bb:b:1", message)
    with pytest.raises(AssertionError, match="no button"):
        fake.button("bb:gone:1", message)


def test_a_text_only_modal_submit_keeps_its_legacy_shape(fake: FakeDiscord) -> None:
    data = fake.modal_submit("bb:modal:1", {"prompt": "a cat"})["data"]
    assert data == {
        "custom_id": "bb:modal:1",
        "components": [{"type": 1, "components": [{"type": 4, "custom_id": "prompt", "value": "a cat"}]}],
    }


def test_a_modal_submit_with_files_answers_in_labels_with_resolved_attachments(fake: FakeDiscord) -> None:
    upload = fake.attachment("in.png", PNG)
    data = fake.modal_submit("bb:modal:2", {"prompt": "blue", "pictures": [upload]})["data"]
    assert data["components"] == [
        {"type": 18, "component": {"type": 4, "custom_id": "prompt", "value": "blue"}},
        {"type": 18, "component": {"type": 19, "custom_id": "pictures", "values": [upload["id"]]}},
    ]
    assert data["resolved"] == {"attachments": {upload["id"]: upload}}


def test_a_modal_submit_mirrors_the_modal_it_answers(fake: FakeDiscord) -> None:
    modal = {
        "custom_id": "bb:modal:3",
        "title": "Edit",
        "components": [
            {"type": 10, "id": 1, "content": "Pick pictures"},
            {
                "type": 18,
                "id": 2,
                "label": "Pictures",
                "component": {"type": 19, "id": 3, "custom_id": "pics"},
            },
            {
                "type": 1,
                "id": 4,
                "components": [{"type": 4, "id": 5, "custom_id": "prompt", "required": False}],
            },
        ],
    }
    upload = fake.attachment("in.png", PNG)
    data = fake.modal_submit("bb:modal:3", {"pics": [upload]}, modal=modal)["data"]
    assert data["components"] == [
        {"type": 10, "id": 1},
        {
            "type": 18,
            "id": 2,
            "component": {"type": 19, "id": 3, "custom_id": "pics", "values": [upload["id"]]},
        },
        {"type": 1, "id": 4, "components": [{"type": 4, "id": 5, "custom_id": "prompt", "value": ""}]},
    ]
    with pytest.raises(AssertionError, match=r"takes 1\.\.1 files"):
        fake.modal_submit("bb:modal:3", {"pics": [upload, upload]}, modal=modal)
    with pytest.raises(AssertionError, match="no fields"):
        fake.modal_submit("bb:modal:3", {"pics": [upload], "other": "x"}, modal=modal)
