"""Benchmark: the journal on the SQLite file against PostgreSQL (DATABASE_URL), same bot, same load.

Run from the repository root:  .venv/bin/python -m bench.stores
Scenarios (a) and (b) of bench/jobs.py, each run twice: once on the SQLite file in DATA_DIR, once on
a PostgreSQL server started here from the machine's binaries (tests/servers.py) on 127.0.0.1 with
PostgreSQL's durable defaults (fsync on, synchronous commit). It prints a Markdown table.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time

from bench.jobs import Row, intake, throughput
from tests.servers import new_database, start_postgres


async def main() -> None:
    started = time.monotonic()
    rows: list[tuple[str, Row]] = []
    notes: list[str] = []
    sqlite_rows, note = await intake()
    rows += [("SQLite", row) for row in sqlite_rows]
    notes.append(f"SQLite {note}")
    server = start_postgres(durable=True)
    try:
        async with new_database(server) as url:
            pg_rows, note = await intake(DATABASE_URL=url)
        rows += [("PostgreSQL", row) for row in pg_rows]
        notes.append(f"PostgreSQL {note}")
        rows += [("SQLite", row) for row in await throughput()]
        async with new_database(server) as url:
            rows += [("PostgreSQL", row) for row in await throughput(DATABASE_URL=url)]
    finally:
        server.stop()
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; bot = `python -m bot` subprocess on the fakes (127.0.0.1)\n"
    )
    print("| journal | scenario | measured | target | met |")
    print("|---|---|---|---|---|")
    for journal, row in rows:
        met = "yes" if row.met else "**no**"
        print(f"| {journal} | {row.scenario} | {row.measured} | {row.target} | {met} |")
    print("\n" + "\n".join(notes) + f"\nWhole run: {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    asyncio.run(main())
