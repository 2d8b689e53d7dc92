"""The job engine end to end: queue, fairness, progress, Cancel, time limits, late delivery, quotas,
access lists, /usage and /status, through the fake Discord and the fake relay."""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.jobs.engine import JobEngine
from bot.jobs.model import Job, JobStatus
from bot.jobs.store import SqliteJobStore
from bot.routing import parse_models
from bot.storage import Database
from tests.e2e.cards import card_of
from tests.e2e.helpers import EPHEMERAL, button_labelled, card_texts, images_of, private_error, wait_result
from tests.fakes.discord import (
    CHANNEL_ID,
    GUILD_ID,
    PLAIN_PERMISSIONS,
    FakeDiscord,
    SentInteraction,
    is_progress,
    user,
)
from tests.fakes.relay import FakeRelay, mj_success

ALICE = user("100000000000000005", "alice")
BOB = user("100000000000000006", "bob")
CAROL = user("100000000000000007", "carol")


@pytest.fixture(autouse=True)
def quick_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(JobEngine, "progress_every", 0.05)


# The list price of the suite's default model, which every progress message shows.
ESTIMATE = "≈ 0.039 USD"


class BotClock:
    """The wall clock the bot's Discord side reads to tell whether an interaction token still works
    (`time` in bot.ui.buttons); a test moves it on past a token's margin instead of waiting for the
    token to age."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ahead = 0.0
        self._monkeypatch = monkeypatch

    def time(self) -> float:
        return time.time() + self.ahead

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def move_on(self, seconds: float) -> None:
        self._monkeypatch.setattr(sys.modules["bot.ui.buttons"], "time", self)
        self.ahead += seconds


@pytest.fixture
def bot_clock(monkeypatch: pytest.MonkeyPatch) -> BotClock:
    return BotClock(monkeypatch)


# An interaction made 14 minutes ago: its token works one minute more, so the bot (which keeps a
# margin of 30 s) uses it for 30 s, until a test moves the bot's clock on by PAST_THE_MARGIN.
AGEING = 15 * 60 - 60
PAST_THE_MARGIN = 31.0

_INTERACTION_ARGS = ("created_at", "roles", "permissions", "locale", "guild_id", "channel_id")


async def imagine(
    discord_fake: FakeDiscord, prompt: str, who: dict[str, Any] = ALICE, **kw: Any
) -> SentInteraction:
    extra = {k: kw.pop(k) for k in _INTERACTION_ARGS if k in kw}
    payload = discord_fake.slash("imagine", {"prompt": prompt, **kw}, member=who, **extra)
    return await discord_fake.send_interaction(payload)


def prompts_sent(relay: FakeRelay) -> list[str]:
    return [c.body["contents"][0]["parts"][0]["text"] for c in relay.generate_calls()]


def progress_texts(discord_fake: FakeDiscord, sent: SentInteraction) -> list[str]:
    return [c.payload["content"] for c in discord_fake.calls_for(sent.token) if is_progress(c)]


async def wait_progress(
    discord_fake: FakeDiscord, sent: SentInteraction, starts: str, timeout: float = 5.0
) -> Any:
    return await discord_fake.wait_for(
        lambda c: sent.token in c.path and is_progress(c) and c.payload["content"].startswith(starts), timeout
    )


async def until(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def cancel_id(discord_fake: FakeDiscord, sent: SentInteraction) -> str:
    message = discord_fake.original_message(sent.token)
    (button,) = [c for row in message["components"] for c in row["components"]]
    assert button["label"] == "Cancel" and button["style"] == 4
    return button["custom_id"]


async def press_cancel(
    discord_fake: FakeDiscord, sent: SentInteraction, who: dict[str, Any] = ALICE, **kw: Any
) -> SentInteraction:
    message = discord_fake.original_message(sent.token)
    return await discord_fake.send_interaction(
        discord_fake.button(cancel_id(discord_fake, sent), message, member=who, **kw)
    )


async def wait_cancelled(discord_fake: FakeDiscord, sent: SentInteraction) -> Any:
    return await discord_fake.wait_for(
        lambda c: (
            sent.token in c.path and c.method == "PATCH" and "Cancelled" in (c.payload.get("content") or "")
        )
    )


# --- queue ----------------------------------------------------------------------------------------


async def test_queued_jobs_show_their_place_and_run_when_a_slot_frees(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    await start_bot(max_concurrent_jobs=1)
    first = await imagine(discord_fake, "one")
    await until(lambda: relay.in_flight == 1)
    # One at a time: two commands sent together may be journaled in either order.
    second = await imagine(discord_fake, "two", BOB)
    assert (await wait_progress(discord_fake, second, "⏳")).payload[
        "content"
    ] == f"⏳ Queued — you're next. · {ESTIMATE}"
    third = await imagine(discord_fake, "three", CAROL)

    shown = await wait_progress(discord_fake, third, "⏳")
    assert shown.payload["content"] == f"⏳ Queued — 1 ahead of you. · {ESTIMATE}"
    running = await wait_progress(discord_fake, first, "🎨 Generating…")
    assert running.payload["allowed_mentions"] == {"parse": []}
    assert cancel_id(discord_fake, first) == "bb:cancel:1", "the button names the job, nothing else"

    relay.hold.set()
    for sent in (first, second, third):
        final = await wait_result(discord_fake, sent)
        assert "bb:cancel" not in json.dumps(final.payload["components"]), "the Cancel button goes"
        assert final.payload["content"] is None and card_of(final.payload).prompt in ("one", "two", "three")
    assert prompts_sent(relay) == ["one", "two", "three"]
    assert relay.peak_in_flight == 1


async def test_one_members_many_jobs_do_not_starve_another(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    await start_bot(max_concurrent_jobs=1, max_jobs_per_user=10)
    alice = [await imagine(discord_fake, "alice 1")]
    await until(lambda: relay.in_flight == 1)
    for n in range(2, 7):
        # One at a time, each queued before the next: commands sent together may be journaled in
        # either order.
        alice.append(await imagine(discord_fake, f"alice {n}"))
        await wait_progress(discord_fake, alice[-1], "⏳")
    bob = await imagine(discord_fake, "bob 1", BOB)
    shown = await wait_progress(discord_fake, bob, "⏳")
    assert shown.payload["content"] == f"⏳ Queued — 1 ahead of you. · {ESTIMATE}", (
        "only alice's next job goes first"
    )

    relay.hold.set()
    for sent in (*alice, bob):
        await wait_result(discord_fake, sent)
    order = prompts_sent(relay)
    assert order[:3] == ["alice 1", "alice 2", "bob 1"]
    assert order.index("bob 1") < len(order) - 1


async def test_a_full_queue_answers_privately_and_a_busy_member_is_told(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    await start_bot(max_concurrent_jobs=1, max_queue_length=2, max_jobs_per_user=2)
    await imagine(discord_fake, "a1")
    await imagine(discord_fake, "a2")
    await until(lambda: relay.in_flight == 1)
    busy = await imagine(discord_fake, "a3")
    assert await private_error(discord_fake, busy) == (
        "You already have 2 pictures on the way. Wait for one to finish, then try again."
    )
    await imagine(discord_fake, "b1", BOB)
    full = await imagine(discord_fake, "c1", CAROL)
    assert await private_error(discord_fake, full) == "The queue is full right now. Try again in a minute."
    callback = discord_fake.callback(full)
    assert callback is not None and callback.payload["type"] == 4, "refused before any defer"
    relay.hold.set()
    await until(lambda: len(relay.generate_calls()) == 3)


async def test_per_format_cap_limits_one_api_while_others_run(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    await start_bot(max_concurrent_jobs=4, concurrency_limits={"gemini": 1})
    first = await imagine(discord_fake, "one")
    await until(lambda: relay.in_flight == 1)
    second = await imagine(discord_fake, "two", BOB)
    # Three slots are free, yet the second Gemini job waits: it shows its place, and the engine still
    # counts it as waiting when it answers a later /status.
    assert (await wait_progress(discord_fake, second, "⏳")).payload[
        "content"
    ] == f"⏳ Queued — you're next. · {ESTIMATE}"
    status = await discord_fake.send_interaction(discord_fake.slash("status"))
    (embed,) = (await answer(discord_fake, status))["embeds"]
    assert {f["name"]: f["value"] for f in embed["fields"]}["Queue"] == "1 running of 4 · 1 waiting"
    assert relay.in_flight == 1 and prompts_sent(relay) == ["one"]
    relay.hold.set()
    await wait_result(discord_fake, first)
    await wait_result(discord_fake, second)
    assert relay.peak_in_flight == 1


# --- cancel ----------------------------------------------------------------------------------------


async def test_the_requester_cancels_a_running_job_and_its_slot_frees(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    bot = await start_bot(max_concurrent_jobs=1)
    running = await imagine(discord_fake, "one")
    await until(lambda: relay.in_flight == 1)  # then the next: two sent together may run in either order
    waiting = await imagine(discord_fake, "two", BOB)
    await wait_progress(discord_fake, running, "🎨")

    press = await press_cancel(discord_fake, running)
    edit = await wait_cancelled(discord_fake, running)
    assert edit.payload["content"] == f"✖️ Cancelled by <@{ALICE['id']}>."
    assert edit.payload["components"] == [] and edit.payload["allowed_mentions"] == {"parse": []}
    callback = discord_fake.callback(press)
    assert callback is not None and callback.payload == {"type": 6}
    await until(lambda: len(relay.generate_calls()) == 2)  # the next job got the slot at once
    relay.hold.set()
    await wait_result(discord_fake, waiting)
    assert not [c for c in discord_fake.calls_for(running.token) if c.files]
    job = await bot.jobs.store.get(1)
    assert job is not None and job.status is JobStatus.CANCELLED and job.cancelled_by == int(ALICE["id"])


async def test_only_the_requester_or_a_moderator_can_cancel(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    await start_bot(max_concurrent_jobs=1)
    first = await imagine(discord_fake, "one")
    await until(lambda: relay.in_flight == 1)
    queued = await imagine(discord_fake, "two")
    await wait_progress(discord_fake, queued, "⏳")

    button, stale = cancel_id(discord_fake, queued), discord_fake.original_message(queued.token)
    refused = await press_cancel(discord_fake, queued, BOB, permissions=PLAIN_PERMISSIONS)
    assert await private_error(discord_fake, refused) == (
        "Only the member who asked for this picture, or a moderator, can cancel it."
    )
    moderator = await press_cancel(discord_fake, queued, CAROL)  # default permissions include Manage Messages
    edit = await wait_cancelled(discord_fake, queued)
    assert edit.payload["content"] == f"✖️ Cancelled by <@{CAROL['id']}>."
    await discord_fake.wait_for(lambda c: c.path.endswith(f"/{moderator.id}/{moderator.token}/callback"))
    # A press from a client that still shows the button.
    again = await discord_fake.send_interaction(discord_fake.button(button, stale, member=ALICE))
    assert await private_error(discord_fake, again) == "This job has already finished."
    relay.hold.set()
    await wait_result(discord_fake, first)
    # One slot: had the cancelled job stayed in the queue, it would reach the API before this one.
    await wait_result(discord_fake, await imagine(discord_fake, "three", BOB))
    assert prompts_sent(relay) == ["one", "three"], "a cancelled queued job never reaches the API"


# --- time ------------------------------------------------------------------------------------------


async def test_a_job_past_its_time_limit_ends_with_a_clear_message(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    bot = await start_bot(job_timeout=0.5)
    sent = await imagine(discord_fake, "stuck")
    assert await private_error(discord_fake, sent) == (
        "This took longer than 0 s, so the bot stopped it. Please try again; a simpler prompt can help."
    )
    job = await bot.jobs.store.get(1)
    assert job is not None and job.status is JobStatus.FAILED and job.error == "JobTimedOut"
    relay.hold.set()
    await wait_result(discord_fake, await imagine(discord_fake, "next"))  # its slot was freed


async def test_a_job_that_outlives_its_token_is_posted_in_the_channel_as_a_reply(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, bot_clock: BotClock
) -> None:
    relay.hold = asyncio.Event()
    await start_bot()
    sent = await imagine(discord_fake, "late", created_at=time.time() - AGEING)
    # The first edits go to the token; then it passes the bot's margin while the picture is made.
    progress = await wait_progress(discord_fake, sent, "🎨", timeout=5)
    bot_clock.move_on(PAST_THE_MARGIN)
    relay.hold.set()
    post = await until_post(discord_fake)
    original = discord_fake.original_message(sent.token)
    assert progress.at < post["_at"]
    assert card_texts(post)[0] == f"<@{ALICE['id']}>, your picture is ready:"
    assert str(post["message_reference"]["message_id"]) == original["id"]
    assert post["message_reference"]["fail_if_not_exists"] is False
    call = next(c for c in discord_fake.calls if c.path.endswith(f"/channels/{CHANNEL_ID}/messages"))
    assert call.payload["allowed_mentions"] == {"parse": [], "replied_user": False}
    assert images_of(call)[0].size == (128, 128)
    assert call.payload["nonce"] == "bb1" and call.payload["enforce_nonce"] is True
    settled = await discord_fake.wait_for(
        lambda c: c.method == "PATCH" and c.path.endswith(f"/channels/{CHANNEL_ID}/messages/{original['id']}")
    )
    assert settled.payload["content"] == "✅ Done: the picture was posted below."
    assert settled.payload["components"] == [], "no Cancel button left over the finished job"


async def test_cancel_after_the_token_expired_edits_through_the_press(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, bot_clock: BotClock
) -> None:
    relay.hold = asyncio.Event()
    bot = await start_bot()
    sent = await imagine(discord_fake, "old", created_at=time.time() - AGEING)
    await wait_progress(discord_fake, sent, "🎨")
    bot_clock.move_on(PAST_THE_MARGIN)
    assert not bot.jobs.job(1).origin.token_usable(bot_clock.time())  # type: ignore[union-attr]
    press = await press_cancel(discord_fake, sent)
    callback = await discord_fake.wait_for(lambda c: c.path.endswith(f"/{press.id}/{press.token}/callback"))
    assert callback.payload["type"] == 7
    assert callback.payload["data"]["content"] == f"✖️ Cancelled by <@{ALICE['id']}>."
    assert callback.payload["data"]["components"] == []
    relay.hold.set()
    # The job leaves the engine before its member is told; the journal records the telling.
    await until_journaled(bot.db.path, lambda job: job.delivered_at is not None)
    assert not discord_fake.bot_posts, "a cancelled job posts nothing"


async def test_buttons_respect_the_allowlists_too(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(
        models=tuple(parse_models("gemini-2.5-flash-image,midjourney")),
        mj_poll_seconds=0.01,
        allowed_roles=frozenset({444444444444444444}),
    )
    grid = await wait_result(
        discord_fake,
        await imagine(discord_fake, "a koi pond", model="midjourney", roles=["444444444444444444"]),
    )
    message = discord_fake.original_message(grid.path.split("/")[-3])
    upscale = button_labelled(message, "U1")["custom_id"]
    press = await discord_fake.send_interaction(discord_fake.button(upscale, message, member=BOB))
    assert await private_error(discord_fake, press) == "You can't use this bot here."
    assert not relay.calls_to("/mj/submit/action")


async def until_post(discord_fake: FakeDiscord, timeout: float = 10.0) -> dict[str, Any]:
    """The bot's first channel post as the fake stored it, with the time the request arrived."""
    call = await discord_fake.wait_for(
        lambda c: c.method == "POST" and c.path.endswith(f"/channels/{CHANNEL_ID}/messages"), timeout
    )
    await until(lambda: bool(discord_fake.bot_posts))
    return {**discord_fake.bot_posts[0], "_at": call.at}


async def test_no_permission_to_post_late_is_recorded_and_the_bot_goes_on(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    discord_fake.forbidden_channels.add(CHANNEL_ID)
    bot = await start_bot()
    sent = await imagine(discord_fake, "late", created_at=time.time() - 15 * 60 + 10)
    await discord_fake.wait_for(
        lambda c: c.method == "POST" and c.path.endswith(f"/channels/{CHANNEL_ID}/messages")
    )
    await until(lambda: bot.jobs.job(1) is None)
    job = await bot.jobs.store.get(1)
    assert job is not None and job.status is JobStatus.DONE
    assert job.delivered_at is None
    row = await bot.db.conn.execute_fetchall("SELECT delivery_error FROM jobs WHERE id = 1")
    assert "Forbidden" in row[0][0]
    assert not [c for c in discord_fake.calls_for(sent.token) if c.files]
    fresh = await imagine(discord_fake, "fine")
    await wait_result(discord_fake, fresh)


# --- quotas and cooldown --------------------------------------------------------------------------


async def test_daily_limit_counts_pictures_not_failures_and_resets_the_next_day(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    bot = await start_bot(user_daily_limit=2)
    await wait_result(discord_fake, await imagine(discord_fake, "one"))
    relay.queue("http_400")
    await private_error(discord_fake, await imagine(discord_fake, "fails"))
    await wait_result(discord_fake, await imagine(discord_fake, "two"))
    refused = await imagine(discord_fake, "three")
    text = await private_error(discord_fake, refused)
    midnight = next_midnight(text)
    assert text == (
        f"You've made your 2 pictures for today (2 used). Your limit resets <t:{midnight}:R>, at <t:{midnight}:t>."
    )
    other = await imagine(discord_fake, "bob's", BOB)
    await wait_result(discord_fake, other)

    real = bot.jobs.clock
    bot.jobs.clock = lambda: real() + 86400
    await wait_result(discord_fake, await imagine(discord_fake, "tomorrow"))


def next_midnight(text: str) -> int:
    """The reset time a text shows as a Discord timestamp: the next UTC midnight."""
    found = re.search(r"<t:(\d+):R>", text)
    assert found, text
    stamp = int(found[1])
    assert stamp % 86400 == 0 and 0 < stamp - time.time() <= 86400
    return stamp


async def test_server_limit_and_admin_exemption(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(guild_daily_limit=2, admin_users=frozenset({int(CAROL["id"])}))
    await wait_result(discord_fake, await imagine(discord_fake, "one"))
    await wait_result(discord_fake, await imagine(discord_fake, "two", BOB))
    text = await private_error(discord_fake, await imagine(discord_fake, "three"))
    midnight = next_midnight(text)
    assert (
        text
        == f"This server has made its 2 pictures for today. The limit resets <t:{midnight}:R>, at <t:{midnight}:t>."
    )
    await wait_result(discord_fake, await imagine(discord_fake, "admin", CAROL))


async def test_count_uses_as_many_pictures_as_it_asks_for(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(user_daily_limit=3)
    await wait_result(discord_fake, await imagine_count(discord_fake, 2))
    text = await private_error(discord_fake, await imagine_count(discord_fake, 2))
    assert "(2 used)" in text


async def imagine_count(discord_fake: FakeDiscord, count: int) -> SentInteraction:
    return await discord_fake.send_interaction(
        discord_fake.slash("imagine", {"prompt": "pair", "count": count}, member=ALICE)
    )


async def test_cooldown_between_commands(start_bot, discord_fake: FakeDiscord, relay: FakeRelay) -> None:
    await start_bot(user_cooldown=60)
    await wait_result(discord_fake, await imagine(discord_fake, "one"))
    text = await private_error(discord_fake, await imagine(discord_fake, "two"))
    # A Discord timestamp: each client shows "in a minute" in its own language.
    found = re.fullmatch(r"You're going a bit fast\. Try again <t:(\d+):R>\.", text)
    assert found and 0 < int(found[1]) - time.time() <= 61


# --- access --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "allowed"),
    [
        ({"allowed_guilds": frozenset({111111111111111111})}, False),
        ({"allowed_guilds": frozenset({int(GUILD_ID)})}, True),
        ({"allowed_channels": frozenset({222222222222222222})}, False),
        ({"allowed_channels": frozenset({int(CHANNEL_ID)})}, True),
        ({"allowed_roles": frozenset({333333333333333333})}, False),
        ({"allowed_roles": frozenset({444444444444444444})}, True),
        (
            {
                "allowed_roles": frozenset({333333333333333333}),
                "admin_roles": frozenset({444444444444444444}),
            },
            True,
        ),
    ],
)
async def test_allowlists(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, settings: dict[str, Any], allowed: bool
) -> None:
    await start_bot(**settings)
    sent = await imagine(discord_fake, "hello", roles=["444444444444444444"])
    if allowed:
        await wait_result(discord_fake, sent)
    else:
        assert await private_error(discord_fake, sent) == "You can't use this bot here."
        assert not relay.generate_calls()


# --- restarting, /usage and /status ----------------------------------------------------------------


async def test_new_commands_while_stopping_get_a_restarting_answer(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    relay.hold = asyncio.Event()
    bot = await start_bot(shutdown_grace=5)
    running = await imagine(discord_fake, "one")
    await until(lambda: relay.in_flight == 1)
    draining = asyncio.create_task(bot.jobs.drain())
    await until(lambda: not bot.jobs.accepting)
    late = await imagine(discord_fake, "two", BOB)
    assert (
        await private_error(discord_fake, late) == "The bot is restarting right now. Try again in a minute."
    )
    status = await discord_fake.send_interaction(discord_fake.slash("status"))
    (embed,) = (await answer(discord_fake, status))["embeds"]
    assert {f["name"]: f["value"] for f in embed["fields"]}["Queue"] == "1 running of 4 · 0 waiting"
    assert embed["footer"]["text"] == "The bot is restarting and takes no new jobs."
    relay.hold.set()
    await wait_result(discord_fake, running)  # a running job finishes within the grace period
    await draining


async def test_usage_for_a_member_and_for_a_manager(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(user_daily_limit=5, guild_daily_limit=20)
    await wait_result(discord_fake, await imagine(discord_fake, "one"))
    await wait_result(discord_fake, await imagine(discord_fake, "two", BOB))

    member = await discord_fake.send_interaction(
        discord_fake.slash("usage", member=ALICE, permissions=PLAIN_PERMISSIONS)
    )
    reply = await answer(discord_fake, member)
    (embed,) = reply["embeds"]
    assert embed["title"] == "Your usage today"
    assert embed["description"].splitlines()[0] == "Used: 1 of 5"
    left = embed["description"].splitlines()[1]
    assert left == f"Left: 4 · resets <t:{next_midnight(left)}:R>"
    # The picture cost its reported 1290 output tokens at the list's $30 per million.
    assert embed["fields"] == [
        {"name": "Spending", "value": "Today: 0.0387 USD\nThis month: 0.0387 USD", "inline": False}
    ]

    manager = await discord_fake.send_interaction(discord_fake.slash("usage", member=BOB))
    (embed,) = (await answer(discord_fake, manager))["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["This server today"] == "2 of 20 pictures"
    assert fields["Most active"].splitlines() == [f"<@{ALICE['id']}>: 1", f"<@{BOB['id']}>: 1"]
    assert fields["This server this month"].splitlines() == [
        "Spent: 0.0774 USD",
        "gemini-2.5-flash-image: 0.0774 USD",
        "Top spenders:",
        f"<@{ALICE['id']}>: 0.0387 USD",
        f"<@{BOB['id']}>: 0.0387 USD",
    ]


async def answer(discord_fake: FakeDiscord, sent: SentInteraction) -> dict[str, Any]:
    call = await discord_fake.wait_for(lambda c: c.path.endswith(f"/{sent.id}/{sent.token}/callback"))
    assert call.payload["type"] == 4 and call.payload["data"]["flags"] & EPHEMERAL
    return call.payload["data"]


async def test_status_shows_the_queue_and_each_models_record(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    await wait_result(discord_fake, await imagine(discord_fake, "one"))
    relay.queue("http_400")
    await private_error(discord_fake, await imagine(discord_fake, "two"))
    sent = await discord_fake.send_interaction(discord_fake.slash("status"))
    (embed,) = (await answer(discord_fake, sent))["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Queue"] == "0 running of 4 · 0 waiting"
    assert fields["Last 24 h"] == "1 done, 1 failed on the image service's side (50% success)"
    line = fields["Median time per model (24 h)"]
    assert line.startswith("gemini-2.5-flash-image: ") and line.endswith(" s over 1 picture")
    assert json.dumps(embed).count("gemini") == 1


async def test_a_midjourney_job_cut_off_by_a_stop_resumes_polling_its_task_after_the_start(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    settings = {
        "models": tuple(parse_models("gemini-2.5-flash-image,midjourney")),
        "mj_poll_seconds": 0.5,
        "shutdown_grace": 0,
    }
    first = await start_bot(**settings)
    sent = await imagine(discord_fake, "a koi pond", model="midjourney")
    fetch = await relay_call(relay, "/mj/task/")
    task_id = fetch.path.split("/")[3]
    relay.mj_tasks[task_id].states = [{"status": "IN_PROGRESS", "progress": "50%", "imageUrl": None}]
    # The journal, not the job in memory (which has the id before it is committed), must hold the
    # task before the stop: a write the stop cuts off is rolled back.
    await until_journaled(first.db.path, lambda job: job.upstream_task == task_id)

    await first.close()
    notice = await discord_fake.wait_for(
        lambda c: (
            sent.token in c.path and c.method == "PATCH" and (c.payload.get("content") or "").startswith("🔄")
        )
    )
    assert notice.payload["components"] == [], "no Cancel button on a job the bot no longer runs"
    # The stop left the job in the journal as running, with its task, for the next start to follow.
    job = await journaled(first.db.path)
    assert job is not None and job.status is JobStatus.RUNNING and job.upstream_task == task_id

    relay.mj_tasks[task_id].states = [mj_success(relay, task_id, "IMAGINE")]
    await start_bot(**settings)
    final = await wait_result(discord_fake, sent)
    assert images_of(final)[0].size == (256, 256)
    assert len(relay.calls_to("/mj/submit/")) == 1, "the task is followed by its id, not submitted again"
    assert len([c for c in discord_fake.calls_for(sent.token) if c.files]) == 1


async def journaled(path: Path, job_id: int = 1) -> Job | None:
    """A job as committed to the journal, read through a connection of its own."""
    db = Database(path)
    await db.open()
    try:
        return await SqliteJobStore(db).get(job_id)
    finally:
        await db.close()


async def until_journaled(
    path: Path, condition: Callable[[Job], bool], job_id: int = 1, timeout: float = 5.0
) -> Job:
    deadline = time.monotonic() + timeout
    while (job := await journaled(path, job_id)) is None or not condition(job):
        assert time.monotonic() < deadline, f"the journal never held it: {job}"
        await asyncio.sleep(0.01)
    return job


async def relay_call(relay: FakeRelay, prefix: str, timeout: float = 5.0) -> Any:
    await until(lambda: bool(relay.calls_to(prefix)), timeout)
    return relay.calls_to(prefix)[0]


async def test_usage_for_an_exempt_member_and_the_cooldown_line(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot(user_daily_limit=5, user_cooldown=30, admin_users=frozenset({int(ALICE["id"])}))
    exempt = await discord_fake.send_interaction(
        discord_fake.slash("usage", member=ALICE, permissions=PLAIN_PERMISSIONS)
    )
    (embed,) = (await answer(discord_fake, exempt))["embeds"]
    assert embed["description"].splitlines() == ["Used: 0 (no daily limit)", "You're exempt from the limits."]
    member = await discord_fake.send_interaction(
        discord_fake.slash("usage", member=BOB, permissions=PLAIN_PERMISSIONS)
    )
    (embed,) = (await answer(discord_fake, member))["embeds"]
    lines = embed["description"].splitlines()
    assert lines[0] == "Used: 0 of 5" and lines[2] == "Cooldown between commands: 30 s"


async def test_a_failure_after_the_token_expired_is_told_in_the_channel(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, bot_clock: BotClock
) -> None:
    relay.hold = asyncio.Event()
    relay.queue("http_400")
    bot = await start_bot()
    sent = await imagine(discord_fake, "late", created_at=time.time() - AGEING)
    # A progress edit shows the job's message (the post replies to it); then the token passes the
    # bot's margin while the relay works.
    await wait_progress(discord_fake, sent, "🎨")
    bot_clock.move_on(PAST_THE_MARGIN)
    relay.hold.set()
    post = await until_post(discord_fake)
    assert post["content"] == (
        f"<@{ALICE['id']}>, your picture could not be made: "
        "The image service refused this request as invalid. Try other wording or other options."
    )
    assert post["message_reference"]["fail_if_not_exists"] is False
    # The journal records that the member was told (and the test ends only after that write).
    job = await until_journaled(bot.db.path, lambda job: job.delivered_at is not None)
    assert job.status is JobStatus.FAILED and job.delivery_error is None


async def test_a_result_the_commands_message_refuses_is_posted_as_a_reply_and_the_message_tidied(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    discord_fake.refuse_uploads_to_original = True
    await start_bot()
    sent = await imagine(discord_fake, "a quick one")  # no progress edit: only the defer names the message
    post = await until_post(discord_fake)
    original = discord_fake.original_message(sent.token)
    assert str(post["message_reference"]["message_id"]) == original["id"]
    settled = await discord_fake.wait_for(
        lambda c: c.method == "PATCH" and c.path.endswith(f"/channels/{CHANNEL_ID}/messages/{original['id']}")
    )
    assert settled.payload["content"] == "✅ Done: the picture was posted below."
    assert discord_fake.original_message(sent.token)["content"] == "✅ Done: the picture was posted below."
