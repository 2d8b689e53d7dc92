"""/history: a member's recent pictures from the journal, private and paged."""

from __future__ import annotations

from typing import Any

from bot.jobs.engine import HISTORY_PAGE
from tests.e2e.helpers import EPHEMERAL, button_labelled, imagine, private_error, wait_result
from tests.fakes.discord import GUILD_ID, PLAIN_PERMISSIONS, FakeDiscord, user
from tests.fakes.relay import FakeRelay

BOB = user("100000000000000006", "bob")


async def history(discord_fake: FakeDiscord, **options: Any) -> Any:
    extra = {k: options.pop(k) for k in ("member_as", "permissions") if k in options}
    if "member_as" in extra:
        extra["member"] = extra.pop("member_as")
    sent = await discord_fake.send_interaction(discord_fake.slash("history", options, **extra))
    callback = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    return sent, callback.payload


async def test_history_lists_the_newest_first_with_jump_links_and_pages(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    for n in range(HISTORY_PAGE + 1):
        await wait_result(discord_fake, await imagine(discord_fake, prompt=f"picture {n}"))
    sent, answer = await history(discord_fake)
    assert answer["type"] == 4 and answer["data"]["flags"] & EPHEMERAL
    (embed,) = answer["data"]["embeds"]
    lines = embed["description"].split("\n")
    assert lines[0] == "Made for <@100000000000000005>, newest first:"
    assert len(lines) == 1 + HISTORY_PAGE
    assert lines[1].startswith(f"• **picture {HISTORY_PAGE}** · `gemini-2.5-flash-image` · <t:")
    assert f"[Jump](https://discord.com/channels/{GUILD_ID}/" in lines[1]
    assert embed["footer"]["text"] == "Page 1 of 2"
    newer = button_labelled(answer["data"], "Newer")
    assert newer["disabled"] is True
    older = button_labelled(answer["data"], "Older")
    message = discord_fake.original_message(sent.token)
    pressed = await discord_fake.send_interaction(discord_fake.button(older["custom_id"], message))
    turned = await discord_fake.wait_for(lambda c: c.path.endswith(f"{pressed.token}/callback"))
    assert turned.payload["type"] == 7, "the page turns in place"
    (page2,) = turned.payload["data"]["embeds"]
    assert page2["description"].split("\n")[1].startswith("• **picture 0** ·")
    assert page2["footer"]["text"] == "Page 2 of 2"


async def test_another_members_history_is_for_moderators(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    await wait_result(discord_fake, await imagine(discord_fake, prompt="a barn"))
    refused = await discord_fake.send_interaction(about_alice(discord_fake, permissions=PLAIN_PERMISSIONS))
    assert (
        await private_error(discord_fake, refused) == "Only moderators can look at another member's pictures."
    )
    sent = await discord_fake.send_interaction(about_alice(discord_fake))
    callback = await discord_fake.wait_for(lambda c: c.path.endswith(f"{sent.token}/callback"))
    assert "• **a barn** ·" in callback.payload["data"]["embeds"][0]["description"]


def about_alice(discord_fake: FakeDiscord, **kw: Any) -> dict[str, Any]:
    """BOB asks for ALICE's history (a user option, resolved as Discord sends it)."""
    alice = user()
    payload = discord_fake.slash("history", member=BOB, **kw)
    payload["data"]["options"] = [{"name": "member", "type": 6, "value": alice["id"]}]
    payload["data"]["resolved"] = {"users": {alice["id"]: alice}}
    return payload


async def test_history_leaves_out_pictures_past_the_retention(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    bot = await start_bot(result_retention_hours=1)
    await wait_result(discord_fake, await imagine(discord_fake, prompt="a barn"))
    real = bot.jobs.clock
    bot.jobs.clock = lambda: real() + 3601
    _, answer = await history(discord_fake)
    assert answer["data"]["embeds"][0]["description"].split("\n")[1] == "No pictures in the last 1 hour."
