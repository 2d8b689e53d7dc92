"""A job whose own steps fail (its pictures cannot be kept, the journal cannot be written) ends with
one clear answer, and the engine goes on serving."""

from __future__ import annotations

import errno

import pytest

from bot.errors import StorageFailed, StoreUnavailable
from bot.jobs.model import JobStatus
from bot.postgres import PgDatabase
from tests.unit.engine_kit import Kit, member, origin, request, until


def full_disk(*_: object, **__: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


async def test_a_result_that_cannot_be_kept_fails_its_job_and_frees_its_slot(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = kit.engine(max_concurrent_jobs=1)
    first = await kit.submit(engine, "first", member(1))
    second = await kit.submit(engine, "second", member(2))
    with monkeypatch.context() as patched:
        patched.setattr(kit.files, "_save", full_disk)
        (await kit.service.started("first")).succeed()
        ending = await kit.sink.ending(first.id)
    assert ending.kind == "fail" and isinstance(ending.value, StorageFailed)
    assert await kit.status_of(first.id) == JobStatus.FAILED.value
    (await kit.service.started("second")).succeed()
    assert (await kit.sink.ending(second.id)).kind == "deliver"


async def test_a_journal_that_cannot_record_the_ending_still_tells_the_member(
    kit: Kit, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    engine = kit.engine()
    job = await kit.submit(engine, "a cat")

    async def broken(*_: object, **__: object) -> None:
        raise OSError(errno.EIO, "disk I/O error")

    run = await kit.service.started("a cat")
    monkeypatch.setattr(kit.store, "set_result", broken)
    monkeypatch.setattr(kit.store, "update", broken)
    run.succeed()
    ending = await kit.sink.ending(job.id)
    assert ending.kind == "fail" and isinstance(ending.value, StorageFailed)
    await until(lambda: engine.job(job.id) is None, "the job to be let go")
    assert "the journal could not record" in caplog.text


async def test_a_journal_that_cannot_record_the_start_fails_the_job_clearly(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = kit.engine()
    real = kit.store.update

    async def no_start(job: object, **fields: object) -> None:
        if fields.get("status") is JobStatus.RUNNING:
            raise OSError(errno.EIO, "disk I/O error")
        await real(job, **fields)  # type: ignore[arg-type]

    monkeypatch.setattr(kit.store, "update", no_start)
    job = await kit.submit(engine, "a cat")
    ending = await kit.sink.ending(job.id)
    assert ending.kind == "fail" and isinstance(ending.value, StorageFailed)
    assert await kit.status_of(job.id) == JobStatus.FAILED.value


async def test_a_job_that_cannot_be_journaled_is_refused_clearly(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = kit.engine()

    async def broken(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, "database or disk is full")

    monkeypatch.setattr(kit.store, "add", broken)
    with pytest.raises(StorageFailed):
        await kit.submit(engine, "a cat")
    assert engine.board.pending == {} and engine.board.active == {}


async def test_a_shared_journal_away_too_long_fails_the_job_with_try_again(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DATABASE_URL's PostgreSQL away for longer than a write waits: the database's sentence, not
    the full disk's."""
    engine = kit.engine()

    async def away(*_: object, **__: object) -> None:
        raise StoreUnavailable("PostgreSQL at db:5432/bananabot: ConnectionRefusedError")

    monkeypatch.setattr(kit.store, "update", away)
    job = await kit.submit(engine, "a cat")
    ending = await kit.sink.ending(job.id)
    assert ending.kind == "fail" and isinstance(ending.value, StoreUnavailable)


async def test_a_journal_write_that_fails_leaves_the_job_as_the_journal_has_it(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = kit.engine()
    job = await engine.accept(request("a cat"), origin(member()), member())

    async def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if isinstance(kit.db, PgDatabase):
        monkeypatch.setattr(kit.db, "execute", full)
    else:
        monkeypatch.setattr(kit.db.conn, "commit", full)
    with pytest.raises(OSError):
        await kit.store.update(job, status=JobStatus.RUNNING, started_at=1.0)
    assert job.status is JobStatus.QUEUED and job.started_at is None
