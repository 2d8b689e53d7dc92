"""Every button and modal goes through one guard: the owner's allowlists hold for them too."""

from __future__ import annotations

import asyncio

from tests.e2e.helpers import private_error, wait_result
from tests.e2e.test_jobs import ALICE, BOB, cancel_id, imagine, until, wait_progress
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay, png

ROLE = "444444444444444444"


async def test_a_moderator_outside_the_allowed_roles_cannot_cancel_a_job(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    bot = await start_bot(allowed_roles=frozenset({int(ROLE)}))
    sent = await imagine(discord_fake, "a lighthouse", ALICE, roles=[ROLE])
    await wait_progress(discord_fake, sent, "🎨")
    message = discord_fake.original_message(sent.token)
    # BOB has the fake's default permissions, Manage Messages among them, but not the allowed role.
    press = await discord_fake.send_interaction(
        discord_fake.button(cancel_id(discord_fake, sent), message, member=BOB)
    )
    assert await private_error(discord_fake, press) == "You can't use this bot here."
    job = bot.jobs.job(1)
    assert job is not None and job.cancelled_by is None
    relay.hold.set()
    await wait_result(discord_fake, sent)
    await until(lambda: bot.jobs.job(1) is None)


async def test_a_modal_sent_after_the_member_lost_the_allowed_role_is_refused(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(allowed_roles=frozenset({int(ROLE)}))
    message = discord_fake.message("look", attachments=[discord_fake.attachment("cat.png", png(32, 32))])
    opened = await discord_fake.send_interaction(
        discord_fake.message_menu("Edit image", message, member=ALICE, roles=[ROLE])
    )
    modal = await discord_fake.wait_for(lambda c: c.path.endswith(f"{opened.token}/callback"))
    assert modal.payload["type"] == 9
    field = modal.payload["data"]["components"][0]["components"][0]
    # The owner took the role away while the member was typing.
    submitted = await discord_fake.send_interaction(
        discord_fake.modal_submit(
            modal.payload["data"]["custom_id"], {field["custom_id"]: "give it a hat"}, member=ALICE
        )
    )
    assert await private_error(discord_fake, submitted) == "You can't use this bot here."
    assert not relay.generate_calls()
