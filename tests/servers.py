"""Real PostgreSQL and Redis servers for the tests, started from the machine's binaries (Debian's
`postgresql` and `redis-server` packages) in a temporary folder, listening on 127.0.0.1 only.

One server of each kind serves the whole test session; each test gets its own database (PostgreSQL)
or its own database number (Redis), so tests never see each other's rows. Where the binaries are
missing the tests that need them skip with one line saying how to install them, unless
BANANABOT_REQUIRE_SERVERS=1 (set by .ci/run), where they fail: CI must never pass by skipping.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REQUIRED = os.environ.get("BANANABOT_REQUIRE_SERVERS") == "1"
INSTALL_HINT = "as root: apt-get install -y postgresql redis-server"
START_TIMEOUT = 30.0
FAST = ("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")


def unavailable(what: str) -> None:
    """Skip the test (fail it in CI) because a server cannot be had."""
    message = f"{what}; {INSTALL_HINT}"
    if REQUIRED:
        pytest.fail(f"{message} (BANANABOT_REQUIRE_SERVERS=1: these tests must run)", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian keeps each major version apart)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    return Path(found[-1]).parent if found else None


def _server_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root; as root (CI), run it as Debian's `postgres` user."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


@dataclass
class PostgresServer:
    """One throwaway cluster: trust authentication on 127.0.0.1, no fsync (the data is thrown away)."""

    bindir: Path
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bananabot-pg-")))
    port: int = field(default_factory=free_port)
    user: str = "bananabot"
    # False (tests): no fsync, for speed. True (benchmarks): PostgreSQL's own durable defaults.
    durable: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def admin_url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        owner = _server_user()
        if os.geteuid() == 0 and owner is None:
            raise RuntimeError("running as root and there is no 'postgres' user to run PostgreSQL as")
        as_user = {"user": owner.pw_uid, "group": owner.pw_gid} if owner else {}
        if owner:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        data = self.root / "data"
        log = self.root / "server.log"
        if not data.exists():  # a restart of a stopped server keeps its data
            subprocess.run(
                [
                    self.bindir / "initdb",
                    "-D",
                    data,
                    "-U",
                    self.user,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
                check=True,
                capture_output=True,
                **as_user,  # type: ignore[arg-type]
            )
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    self.bindir / "postgres",
                    "-D",
                    data,
                    "-p",
                    str(self.port),
                    "-k",
                    self.root,
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "max_connections=300",
                    # Test data: speed over durability (a crash of the test server loses nothing of value).
                    *([] if self.durable else FAST),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                **as_user,  # type: ignore[arg-type]
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            ready = subprocess.run(
                [self.bindir / "pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)], check=False
            )
            if ready.returncode == 0:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"PostgreSQL did not start: {tail}")
            time.sleep(0.05)

    def stop(self, *, remove: bool = True) -> None:
        if self.process is not None and self.process.poll() is None:
            # SIGINT is PostgreSQL's fast shutdown: it ends the sessions and stops at once.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class RedisServer:
    """A Redis without persistence on 127.0.0.1; it can be stopped and started again on its port
    (empty, as a Redis without persistence comes back)."""

    binary: str
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bananabot-redis-")))
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = self.root / "server.log"
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.root)],
                stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), 0.5) as probe,
            ):
                probe.sendall(b"PING\r\n")
                if probe.recv(16).startswith(b"+PONG"):
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"Redis did not start: {tail}")
            time.sleep(0.05)

    def stop(self, *, remove: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


def start_redis() -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("Redis is not installed (no redis-server on PATH)")
    assert binary is not None
    server = RedisServer(binary)
    try:
        server.start()
    except (RuntimeError, OSError) as exc:
        unavailable(f"Redis could not start: {exc}")
    return server


def start_postgres(*, durable: bool = False) -> PostgresServer:
    bindir = postgres_bin()
    if bindir is None:
        unavailable("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/postgres)")
    assert bindir is not None
    server = PostgresServer(bindir, durable=durable)
    try:
        server.start()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        detail = (
            exc.stderr.decode(errors="replace")[-500:]
            if isinstance(exc, subprocess.CalledProcessError)
            else exc
        )
        with contextlib.suppress(Exception):
            server.stop()
        unavailable(f"PostgreSQL could not start: {detail}")
    return server


@asynccontextmanager
async def new_database(server: PostgresServer) -> AsyncIterator[str]:
    """A new, empty database on the server, dropped afterwards; its URL."""
    try:
        import asyncpg
    except ImportError:
        unavailable("asyncpg is not installed (pip install -e '.[test]')")
    name = f"t_{uuid.uuid4().hex[:16]}"
    # A connection for each step: a test may restart the server in between.
    admin = await asyncpg.connect(server.admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield server.url(name)
    admin = await asyncpg.connect(server.admin_url)
    try:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


_SHARED = "kits"


@asynccontextmanager
async def new_schema(server: PostgresServer) -> AsyncIterator[str]:
    """A new, empty schema in one shared database, dropped afterwards; a URL whose search_path is it.
    Much cheaper than a database per test, for suites that only need their own tables."""
    import asyncpg

    admin = await asyncpg.connect(server.admin_url)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", _SHARED):
            with contextlib.suppress(asyncpg.DuplicateDatabaseError):
                await admin.execute(f'CREATE DATABASE "{_SHARED}"')
    finally:
        await admin.close()
    name = f"s_{uuid.uuid4().hex[:16]}"
    shared = await asyncpg.connect(server.url(_SHARED))
    try:
        await shared.execute(f'CREATE SCHEMA "{name}"')
        yield f"{server.url(_SHARED)}?search_path={name}"
        await shared.execute(f'DROP SCHEMA "{name}" CASCADE')
    finally:
        await shared.close()
