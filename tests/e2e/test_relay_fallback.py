"""Fallback between relays, through the fake Discord and two fake relays: main and backup."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.config import GeminiAuth, Relay
from bot.routing import ModelRoute, parse_models
from tests.conftest import API_KEY
from tests.e2e.cards import card_of
from tests.e2e.helpers import EPHEMERAL, images_of, imagine, private_error, wait_result
from tests.e2e.test_formats import press
from tests.e2e.test_jobs import relay_call, until_journaled
from tests.fakes.discord import FakeDiscord, SentInteraction
from tests.fakes.relay import FakeRelay, mj_success

BACKUP_KEY = "sk-backupsecret9876543210fedcba"
GEMINI = "gemini-2.5-flash-image"
MOVED_NOTE = "Made through the relay backup: the first one for this model did not answer."


@pytest.fixture
async def backup() -> AsyncIterator[FakeRelay]:
    fake = FakeRelay()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
def start_two(start_bot, backup: FakeRelay):
    async def start(**changes: Any):
        changes.setdefault(
            "models",
            (
                ModelRoute(GEMINI, "gemini", ("main", "backup")),
                *parse_models("midjourney@main+backup,gpt-image-1"),
            ),
        )
        changes.setdefault("mj_poll_seconds", 0.01)
        relay = Relay("backup", backup.base_url, BACKUP_KEY, {}, GeminiAuth.BEARER)
        return await start_bot(extra_relays=(relay,), **changes)

    return start


class RelayClock:
    """The clock the relays' breakers read (`time` in bot.relays), moved on instead of waited for."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ahead = 0.0
        monkeypatch.setattr(sys.modules["bot.relays"], "time", self)

    def monotonic(self) -> float:
        return time.monotonic() + self.ahead

    def time(self) -> float:
        return time.time() + self.ahead


async def status_relays(discord_fake: FakeDiscord) -> list[str]:
    sent = await discord_fake.send_interaction(discord_fake.slash("status"))
    call = await discord_fake.wait_for(lambda c: c.path.endswith(f"/{sent.id}/{sent.token}/callback"))
    assert call.payload["data"]["flags"] & EPHEMERAL
    (embed,) = call.payload["data"]["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}["Relays"].splitlines()


async def served(discord_fake: FakeDiscord, sent: SentInteraction) -> str | None:
    """The card's notes of a finished picture."""
    final = await wait_result(discord_fake, sent)
    assert images_of(final)
    return card_of(final.payload).notes


async def test_an_outage_moves_the_picture_to_the_backup_at_once(
    start_two, discord_fake: FakeDiscord, relay: FakeRelay, backup: FakeRelay, caplog
) -> None:
    caplog.set_level(logging.DEBUG)
    await start_two()
    relay.outage = "http_503"
    notes = await served(discord_fake, await imagine(discord_fake, prompt="a lighthouse"))
    assert len(relay.generate_calls()) == 1, "no retry on main: the backup takes over at once"
    (call,) = backup.generate_calls()
    assert call.headers["Authorization"] == f"Bearer {BACKUP_KEY}", "the backup's own key"
    assert relay.generate_calls()[0].headers["Authorization"] == f"Bearer {API_KEY}"
    assert notes is not None and MOVED_NOTE in notes
    assert BACKUP_KEY not in caplog.text and API_KEY not in caplog.text


async def test_the_first_relay_serving_leaves_no_note_and_the_backup_alone(
    start_two, discord_fake: FakeDiscord, relay: FakeRelay, backup: FakeRelay
) -> None:
    await start_two()
    notes = await served(discord_fake, await imagine(discord_fake, prompt="a lighthouse"))
    assert len(relay.generate_calls()) == 1 and backup.calls == []
    assert notes is None or "relay" not in notes


async def test_a_safety_block_does_not_move(
    start_two, discord_fake: FakeDiscord, relay: FakeRelay, backup: FakeRelay
) -> None:
    await start_two()
    relay.queue("blocked_prompt")
    error = await private_error(discord_fake, await imagine(discord_fake, prompt="something"))
    assert "safety" in error.lower() or "blocked" in error.lower()
    assert backup.calls == []


async def test_a_model_with_one_relay_retries_there_as_before(
    start_two, discord_fake: FakeDiscord, relay: FakeRelay, backup: FakeRelay
) -> None:
    await start_two()
    relay.queue("http_503")
    await wait_result(discord_fake, await imagine(discord_fake, prompt="owl", model="gpt-image-1"))
    assert len(relay.calls_to("/v1/images/generations")) == 2 and backup.calls == []


async def test_the_breaker_opens_shows_in_status_and_a_probe_closes_it(
    start_two, discord_fake: FakeDiscord, relay: FakeRelay, backup: FakeRelay, monkeypatch
) -> None:
    clock = RelayClock(monkeypatch)
    await start_two(breaker_failures=2, breaker_seconds=60)
    assert await status_relays(discord_fake) == ["main: serving", "backup: serving"]
    relay.outage = "http_500"
    for prompt in ("one", "two"):
        assert MOVED_NOTE in (await served(discord_fake, await imagine(discord_fake, prompt=prompt)) or "")
    assert len(relay.generate_calls()) == 2
    (main_line, backup_line) = await status_relays(discord_fake)
    assert main_line.startswith("main: passed over after 2 failures in a row, until <t:")
    assert backup_line == "backup: serving"

    await served(discord_fake, await imagine(discord_fake, prompt="three"))
    assert len(relay.generate_calls()) == 2, "the open breaker sends the model straight to the backup"
    assert len(backup.generate_calls()) == 3

    relay.outage = None
    clock.ahead += 61
    notes = await served(discord_fake, await imagine(discord_fake, prompt="four"))
    assert len(relay.generate_calls()) == 3, "one job probed main after its rest"
    assert notes is None or "relay" not in notes
    assert await status_relays(discord_fake) == ["main: serving", "backup: serving"]


async def test_every_relay_down_ends_with_one_answer_and_bounded_calls(
    start_two, discord_fake: FakeDiscord, relay: FakeRelay, backup: FakeRelay
) -> None:
    await start_two(max_attempts=3)
    relay.outage = backup.outage = "http_503"
    error = await private_error(discord_fake, await imagine(discord_fake, prompt="a lighthouse"))
    assert error.startswith("The image service is unavailable right now.")
    # Main once (it moves on at once), then the backup with what is left of the picture's budget.
    assert len(relay.generate_calls()) == 1 and len(backup.generate_calls()) == 2


async def test_midjourney_moves_to_the_backup_and_its_buttons_follow_the_task_there(
    start_two, discord_fake: FakeDiscord, relay: FakeRelay, backup: FakeRelay
) -> None:
    await start_two()
    relay.outage = "http_503"
    grid = await wait_result(
        discord_fake, await imagine(discord_fake, prompt="a koi pond", model="midjourney")
    )
    assert len(relay.calls_to("/mj/submit/")) == 1 and len(backup.calls_to("/mj/submit/imagine")) == 1
    assert relay.calls_to("/mj/task/") == [], "the task is polled where it runs"
    task_id = backup.calls_to("/mj/task/")[0].path.split("/")[3]

    upscaled = await wait_result(discord_fake, await press(discord_fake, grid, "U1"))
    assert upscaled.files
    (action,) = backup.calls_to("/mj/submit/action")
    assert action.body["taskId"] == task_id, "the backup's own task id, without the relay's name"
    assert relay.calls_to("/mj/submit/action") == []


async def test_a_midjourney_task_on_the_backup_is_followed_there_after_a_restart(
    start_two, discord_fake: FakeDiscord, relay: FakeRelay, backup: FakeRelay
) -> None:
    first = await start_two(mj_poll_seconds=0.5, shutdown_grace=0)
    relay.outage = "http_503"
    sent = await imagine(discord_fake, prompt="a koi pond", model="midjourney")
    fetch = await relay_call(backup, "/mj/task/")
    task_id = fetch.path.split("/")[3]
    backup.mj_tasks[task_id].states = [{"status": "IN_PROGRESS", "progress": "50%", "imageUrl": None}]
    await until_journaled(first.db.path, lambda job: job.upstream_task == f"backup@{task_id}")
    await first.close()
    await discord_fake.wait_for(
        lambda c: sent.token in c.path and (c.payload.get("content") or "").startswith("🔄")
    )

    backup.mj_tasks[task_id].states = [mj_success(backup, task_id, "IMAGINE")]
    discord_fake.ready.clear()
    await start_two(mj_poll_seconds=0.01)
    final = await wait_result(discord_fake, sent)
    assert images_of(final)
    assert len(backup.calls_to("/mj/submit/")) == 1, "followed by its id on the backup, not sent again"
    assert relay.calls_to("/mj/task/") == []


async def test_a_picture_the_relay_cannot_hand_over_moves_to_the_backup(
    start_two, discord_fake: FakeDiscord, relay: FakeRelay, backup: FakeRelay
) -> None:
    await start_two()
    relay.linked_url = f"{relay.base_url}/files/missing-1.png"  # a dead link
    relay.queue("links_to")
    notes = await served(discord_fake, await imagine(discord_fake, prompt="a lighthouse"))
    assert relay.calls_to("/files/missing-1.png"), "the link was tried"
    assert len(backup.generate_calls()) == 1 and notes is not None and MOVED_NOTE in notes


async def test_a_dead_picture_link_says_so_and_shows_no_link(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay
) -> None:
    await start_bot()
    relay.linked_url = f"{relay.base_url}/files/missing-1.png"
    relay.queue("links_to")
    error = await private_error(discord_fake, await imagine(discord_fake, prompt="a lighthouse"))
    assert error == (
        "The model made a picture, but the bot could not download it from the image service. "
        "Please try again."
    )
    assert "http" not in error
