"""Upstream faults injected at random (a fixed seed): however the relay fails, every command ends in
exactly one answer the member sees, the pictures or one private error, and no public placeholder stays."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import pytest

from tests.e2e.cards import card_of
from tests.e2e.helpers import EPHEMERAL
from tests.fakes.discord import Call, FakeDiscord, SentInteraction, is_progress, user
from tests.fakes.relay import FakeRelay

SEED = 20261126
COMMANDS = 20
MEMBERS = [user(f"30000000000000000{n}", f"member{n}") for n in range(4)]
# Each is consumed by one API call, whichever job (or retry) makes it. A job ends on "ok", "malformed",
# a hang past the job timeout or its third retried failure (FAST_RETRIES), so these end at most
# 6 + 3 + 3 + 13 // 3 = 16 of the 20 jobs: every fault is always used up, whatever the interleaving.
OK = ["ok"] * 6
ENDING = ["malformed"] * 3  # not JSON: never retried, the job fails at once
RETRIED = ["http_429"] * 4 + ["http_500"] * 3 + ["http_503"] * 3 + ["html_502"] * 3
HANGS = ["slow"] * 3


def plan() -> list[str]:
    modes = OK + ENDING + RETRIED + HANGS
    random.Random(SEED).shuffle(modes)
    return modes


def is_result(call: Call) -> bool:
    return call.method == "PATCH" and call.path.endswith("/messages/@original") and bool(call.files)


def is_private(call: Call) -> bool:
    return (
        call.method == "POST"
        and "/webhooks/" in call.path
        and bool((call.payload or {}).get("flags", 0) & EPHEMERAL)
    )


def outcomes(discord_fake: FakeDiscord, sent: SentInteraction) -> list[Call]:
    return [c for c in discord_fake.calls_for(sent.token) if is_result(c) or is_private(c)]


async def until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("request_timeout", "job_timeout"),
    [
        pytest.param(1.0, 3.0, id="hangs-cut-by-the-request-timeout"),
        pytest.param(10.0, 2.0, id="hangs-cut-by-the-job-timeout"),
    ],
)
async def test_every_command_ends_in_exactly_one_answer_whatever_the_relay_does(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, request_timeout: float, job_timeout: float
) -> None:
    relay.slow_seconds = 30  # far past both timeouts: a hang never answers in time
    faults = plan()
    relay.queue(*faults)
    bot = await start_bot(
        max_concurrent_jobs=4,
        max_jobs_per_user=COMMANDS,
        job_timeout=job_timeout,
        request_timeout=request_timeout,
        shutdown_grace=1,
    )
    sent = [
        await discord_fake.send_interaction(
            discord_fake.slash("imagine", {"prompt": f"fault {n}"}, member=MEMBERS[n % len(MEMBERS)])
        )
        for n in range(COMMANDS)
    ]
    await until(lambda: all(outcomes(discord_fake, s) for s in sent), timeout=30)

    # Every job has told its member and the journal says so: nothing is still on its way.
    async def settled() -> bool:
        async with bot.db.conn.execute(
            "SELECT COUNT(*) FROM jobs WHERE finished_at IS NULL OR delivered_at IS NULL"
        ) as cursor:
            row = await cursor.fetchone()
        return row is not None and row[0] == 0

    deadline = time.monotonic() + 10
    while not await settled():
        assert time.monotonic() < deadline, "jobs still open"
        await asyncio.sleep(0.02)
    state = await bot.jobs.status()
    assert (state.running, state.queued) == (0, 0)
    assert len(relay.generate_calls()) >= len(faults), "every fault was used"

    done, failed = [], []
    for n, one in enumerate(sent):
        calls = discord_fake.calls_for(one.token)
        assert discord_fake.callback(one).payload == {"type": 5}, n  # type: ignore[union-attr]
        (outcome,) = outcomes(discord_fake, one)
        deletes = [c for c in calls if c.method == "DELETE"]
        public = [m for m in discord_fake.messages.get(one.token, {}).values() if not m["flags"] & EPHEMERAL]
        if is_result(outcome):
            done.append(one)
            assert not deletes, n
            assert outcome is [c for c in calls if c.method == "PATCH"][-1], "no progress after the result"
            assert len(outcome.files) == 1 and "bb:cancel" not in json.dumps(outcome.payload["components"])
            assert card_of(outcome.payload).gallery == ["attachment://bananabot_1.png"]
            (message,) = public
            assert len(message["attachments"]) == 1, n
        else:
            failed.append(outcome.payload["content"])
            assert [c.path.rsplit("/", 1)[1] for c in deletes] == ["@original"], n
            assert deletes[0].at <= outcome.at
            assert not [c for c in calls if c.method == "PATCH" and c.at > deletes[0].at], n
            assert not [c for c in calls if c.method == "PATCH" and not is_progress(c)], n
            assert public == [], "the public placeholder must not stay"
            assert outcome.payload["content"]
    assert discord_fake.bot_posts == []

    assert len(done) + len(failed) == COMMANDS
    assert len(done) >= len(OK)
    assert sum("could not read" in text for text in failed) >= len(ENDING)
    if request_timeout > job_timeout:
        assert sum(f"took longer than {job_timeout:g} s" in text for text in failed) >= len(HANGS)
