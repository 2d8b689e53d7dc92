"""Mentioning the bot on, or in reply to, messages with pictures (no message-content intent)."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image

from bot.routing import parse_models
from tests.e2e.cards import card_of
from tests.fakes import pictures
from tests.fakes.discord import APP_ID, BOT_USER, CHANNEL_ID, Call, FakeDiscord
from tests.fakes.relay import FakeRelay, png

MENTION = f"<@{APP_ID}>"


def post(discord_fake: FakeDiscord, content: str, **extra: Any) -> dict[str, Any]:
    mentions = [BOT_USER] if MENTION in content or extra.pop("ping", False) else []
    return discord_fake.message(content, mentions=mentions, **extra)


async def reply_to(discord_fake: FakeDiscord, message: dict[str, Any], timeout: float = 10.0) -> Call:
    await discord_fake.send_message(message)
    return await discord_fake.wait_for(
        lambda c: (
            c.method == "POST"
            and c.path == f"/api/v10/channels/{CHANNEL_ID}/messages"
            and str((c.payload.get("message_reference") or {}).get("message_id")) == message["id"]
        ),
        timeout,
    )


def sent_pictures(relay: FakeRelay, index: int = 0) -> list[Image.Image]:
    parts = relay.generate_calls()[index].body["contents"][0]["parts"]
    return [
        Image.open(io.BytesIO(base64.b64decode(p["inline_data"]["data"])))
        for p in parts
        if "inline_data" in p
    ]


def prompt_sent(relay: FakeRelay, index: int = 0) -> str:
    return relay.generate_calls()[index].body["contents"][0]["parts"][0]["text"]


async def test_mention_with_a_picture_edits_it_and_replies_without_pinging(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    message = post(
        discord_fake,
        f"{MENTION} make it night",
        attachments=[discord_fake.attachment("street.jpg", pictures.camera_jpeg(800, 600), "image/jpeg")],
    )
    answer = await reply_to(discord_fake, message)

    assert prompt_sent(relay) == "make it night"
    assert [p.size for p in sent_pictures(relay)] == [(800, 600)]
    assert answer.payload["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert str(answer.payload["message_reference"]["message_id"]) == message["id"]
    assert card_of(answer.payload).prompt == "make it night"
    assert Image.open(io.BytesIO(answer.files[0].data)).format == "PNG"
    assert [c for c in discord_fake.calls if c.path.endswith("/typing")], "members see the bot typing"


async def test_mention_with_several_pictures_blends_them(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(default_model="gemini-3-pro-image-preview")
    files = [discord_fake.attachment(f"{i}.png", png(30 + i, 30)) for i in range(3)]
    await reply_to(discord_fake, post(discord_fake, f"{MENTION} as one poster", attachments=files))
    assert prompt_sent(relay) == "as one poster"
    assert [p.size[0] for p in sent_pictures(relay)] == [30, 31, 32]


async def test_mention_without_pictures_imagines(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    answer = await reply_to(discord_fake, post(discord_fake, f"{MENTION} a paper boat in the rain"))
    assert prompt_sent(relay) == "a paper boat in the rain" and not sent_pictures(relay)
    assert answer.files


async def test_reply_to_a_message_with_a_picture_edits_that_picture(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    original = discord_fake.message("my cat", attachments=[discord_fake.attachment("cat.png", png(70, 50))])
    discord_fake.channel_messages[original["id"]] = original
    reply = post(
        discord_fake,
        f"{MENTION} give the cat a crown",
        message_reference={"message_id": original["id"], "channel_id": CHANNEL_ID},
        referenced_message=original,
    )
    await reply_to(discord_fake, reply)
    assert [p.size for p in sent_pictures(relay)] == [(70, 50)]
    assert prompt_sent(relay) == "give the cat a crown"


async def test_reply_whose_target_is_not_included_fetches_it(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    original = discord_fake.message("", attachments=[discord_fake.attachment("cat.png", png(70, 50))])
    discord_fake.channel_messages[original["id"]] = original
    reply = post(
        discord_fake,
        f"{MENTION} sepia",
        message_reference={"message_id": original["id"], "channel_id": CHANNEL_ID},
    )
    await reply_to(discord_fake, reply)
    assert [p.size for p in sent_pictures(relay)] == [(70, 50)]
    assert [
        c for c in discord_fake.calls if c.path == f"/api/v10/channels/{CHANNEL_ID}/messages/{original['id']}"
    ]


async def test_replying_to_the_bots_result_continues_the_edit(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    await reply_to(discord_fake, post(discord_fake, f"{MENTION} a red barn"))
    (bot_message,) = discord_fake.bot_posts
    assert bot_message["author"]["id"] == APP_ID and bot_message["attachments"]
    # A reply with the ping on mentions the bot without any <@id> in the text.
    reply = post(
        discord_fake,
        "now in winter",
        ping=True,
        message_reference={"message_id": bot_message["id"], "channel_id": CHANNEL_ID},
        referenced_message=bot_message,
        attachments=[discord_fake.attachment("snow.png", png(20, 20))],
    )
    answer = await reply_to(discord_fake, reply)
    first, second = relay.generate_calls()
    # Gemini continues its own result in conversation: the first ask, its answer, then the reply.
    asked, answered, now = second.body["contents"]
    assert asked == first.body["contents"][0] and answered["role"] == "model"
    assert [p["text"] for p in now["parts"] if "text" in p] == ["now in winter"]
    pictures = [p for p in now["parts"] if "inline_data" in p]
    assert [Image.open(io.BytesIO(base64.b64decode(p["inline_data"]["data"]))).size for p in pictures] == [
        (20, 20)
    ], "the bot's picture is in the conversation; the member's new one follows the words"
    lineage = card_of(answer.payload).lineage
    assert lineage is not None and lineage.startswith("↩️ Changed from [an earlier picture](")


async def test_a_broken_picture_gets_an_answer_that_names_it(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    message = post(
        discord_fake, f"{MENTION} fix", attachments=[discord_fake.attachment("doc.pdf", pictures.pdf(), None)]
    )
    answer = await reply_to(discord_fake, message)
    assert answer.payload["content"] == (
        "doc.pdf can't be used: it is a PDF document, not a picture. Take a screenshot of the page instead."
    )
    assert not answer.files and not relay.calls


async def test_a_picture_without_words_asks_for_them(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    message = post(discord_fake, MENTION, attachments=[discord_fake.attachment("a.png", png())])
    answer = await reply_to(discord_fake, message)
    assert (
        answer.payload["content"]
        == "Say what to do with the picture after the mention, for example: @bananabot make it night"
    )


async def test_messages_that_do_not_mention_the_bot_or_come_from_bots_are_ignored(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    await discord_fake.send_message(discord_fake.message("a cat please"))
    other_bot = {
        "id": "100000000000000099",
        "username": "otherbot",
        "discriminator": "0",
        "avatar": None,
        "bot": True,
    }
    await discord_fake.send_message(post(discord_fake, f"{MENTION} a cat", author=other_bot))
    # A message after them that is answered shows both were seen and passed over.
    await reply_to(discord_fake, post(discord_fake, f"{MENTION} a dog"))
    assert [prompt_sent(relay, i) for i in range(len(relay.generate_calls()))] == ["a dog"]


async def test_mention_outside_the_allowed_channels_is_refused_in_a_reply(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(allowed_channels=frozenset({222222222222222222}))
    answer = await reply_to(discord_fake, post(discord_fake, f"{MENTION} a cat"))
    assert answer.payload["content"] == "You can't use this bot here."
    assert answer.payload["allowed_mentions"]["replied_user"] is False
    assert not relay.generate_calls()


CONVERSING = "gemini-3.1-flash-image-preview"


async def reply_on(discord_fake: FakeDiscord, text: str) -> Call:
    """A member's reply (pinging the bot) to the bot's newest result."""
    posted = discord_fake.bot_posts[-1]
    reply = post(
        discord_fake,
        text,
        ping=True,
        message_reference={"message_id": posted["id"], "channel_id": CHANNEL_ID},
        referenced_message=posted,
    )
    return await reply_to(discord_fake, reply)


async def test_a_reply_chain_on_gemini_sends_the_whole_conversation_with_its_signatures(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.strict_signatures = True  # like 3.1-flash: a missing or foreign signature is refused
    await start_bot(default_model=CONVERSING, models=tuple(parse_models(CONVERSING)))
    first = await reply_to(discord_fake, post(discord_fake, f"{MENTION} a red barn"))
    second = await reply_on(discord_fake, "now in winter")
    third = await reply_on(discord_fake, "add a fox")
    calls = relay.generate_calls()
    assert len(calls) == 3
    contents = calls[2].body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user", "model", "user"]
    assert contents[:3] == calls[1].body["contents"], "the earlier turns go back unchanged"
    for answer in (contents[1], contents[3]):
        signed = [p["thoughtSignature"] for p in answer["parts"] if "thoughtSignature" in p]
        assert signed and set(signed) <= relay.signatures
        assert [p for p in answer["parts"] if p.get("thought")], "thought parts are passed back too"
    assert [p["text"] for p in contents[4]["parts"]] == ["add a fox"]
    # Each card shows the final picture, never a thought image.
    for call in (first, second, third):
        (upload,) = call.files
        assert Image.open(io.BytesIO(upload.data)).size == (128, 128)


async def test_a_refused_signature_is_retried_once_as_a_stateless_edit(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(default_model=CONVERSING, models=tuple(parse_models(CONVERSING)))
    await reply_to(discord_fake, post(discord_fake, f"{MENTION} a red barn"))
    relay.queue("bad_signature")
    second = await reply_on(discord_fake, "now in winter")
    _, refused, stateless = relay.generate_calls()
    assert len(refused.body["contents"]) == 3
    (turn,) = stateless.body["contents"]
    assert "inline_data" in turn["parts"][0] and turn["parts"][-1] == {"text": "now in winter"}
    assert second.files
    # The conversation starts again from the stateless turn; the refused one is not sent again.
    await reply_on(discord_fake, "add a fox")
    asked, answered, now = relay.generate_calls()[-1].body["contents"]
    assert asked == turn and answered["role"] == "model" and now["parts"] == [{"text": "add a fox"}]
