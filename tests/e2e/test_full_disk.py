"""A disk that fills up while the bot runs: every member still gets one clear answer."""

from __future__ import annotations

import asyncio
import resource
import signal
from pathlib import Path

from tests.e2e.helpers import private_error
from tests.e2e.test_process import environment, finish, spawn
from tests.fakes.discord import FakeDiscord, user
from tests.fakes.relay import FakeRelay

STORAGE = (
    "The bot could not save your picture (its disk may be full). The server owner can see why in the"
    " bot's log; please try again later."
)


async def test_a_full_disk_ends_each_job_with_a_clear_answer_and_the_bot_keeps_serving(
    discord_fake: FakeDiscord, relay: FakeRelay, tmp_path: Path
) -> None:
    process = await spawn(environment(discord_fake, relay, tmp_path, LOG_LEVEL="INFO"), tmp_path)
    try:
        await asyncio.wait_for(discord_fake.ready.wait(), 30)
        # From now on no file of the bot's may grow: its journal and its pictures cannot be written.
        resource.prlimit(process.pid, resource.RLIMIT_FSIZE, (0, 0))
        members = [user(f"10000000000000010{n}", f"member{n}") for n in range(4)]
        sent = [
            await discord_fake.send_interaction(
                discord_fake.slash("imagine", {"prompt": f"picture {n}"}, member=who)
            )
            for n, who in enumerate(members)
        ]
        for one in sent:
            assert await private_error(discord_fake, one) == STORAGE
        status = await discord_fake.send_interaction(discord_fake.slash("status", {}))
        answer = await discord_fake.wait_for(lambda c: c.path.endswith(f"{status.token}/callback"))
        (embed,) = answer.payload["data"]["embeds"]
        assert embed["fields"][0]["value"].startswith("0 running of 4 · 0 waiting")
    finally:
        process.send_signal(signal.SIGTERM)
        code, _, err = await finish(process)
    assert code == 0, err
    assert "could not be journaled" in err or "could not be kept" in err
