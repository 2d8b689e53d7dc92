"""LOG_FORMAT=json: one JSON object per log line, with the job id where a job is running.

Each text is masked (bot/redact.py) before it is put into JSON, so a secret cannot slip past the
redactor as an escaped string.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.redact import Redactor

# Set in the job's own task (bot/jobs/runner.py): every line logged while it runs names it.
CURRENT_JOB: ContextVar[int | None] = ContextVar("bananabot_job", default=None)


class JsonFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": self.redactor(record.getMessage()),
        }
        job = CURRENT_JOB.get()
        if job is not None:
            entry["job_id"] = job
        if record.exc_info:
            entry["traceback"] = self.redactor(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)
