"""The numbers `/metrics` shows, in Prometheus' text format through `prometheus-client`.

The library is optional (`pip install 'bananabot[metrics]'`): without it every call here does
nothing, so the one-process default needs nothing more. The core records into the one `METRICS`
instance; the health server (bot/health.py) serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

try:
    import prometheus_client as prom
except ImportError:  # the optional extra is not installed
    prom = None

INSTALL_HINT = "pip install 'bananabot[metrics]' (or prometheus-client)"
_JOB_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
_CALL_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry: Any = None
        if prom is None:
            return
        # No `_created` sample beside each counter: scrapers do not need it (a process-wide switch).
        prom.disable_created_metrics()
        self.registry = registry = prom.CollectorRegistry()
        # Counters get the `_total` suffix in the exposition.
        self._jobs = prom.Counter(
            "bananabot_jobs", "Jobs ended, by outcome and model", ["outcome", "model"], registry=registry
        )
        self._job_seconds = prom.Histogram(
            "bananabot_job_duration_seconds",
            "Seconds from a job's start to its pictures, by model",
            ["model"],
            buckets=_JOB_BUCKETS,
            registry=registry,
        )
        self._upstream_seconds = prom.Histogram(
            "bananabot_upstream_request_duration_seconds",
            "Seconds one HTTP call to the image API took",
            buckets=_CALL_BUCKETS,
            registry=registry,
        )
        self._upstream_errors = prom.Counter(
            "bananabot_upstream_errors", "Failed calls to the image API, by kind", ["kind"], registry=registry
        )
        self._discord_errors = prom.Counter(
            "bananabot_discord_api_errors",
            "Errors Discord's API answered, by HTTP status",
            ["status"],
            registry=registry,
        )
        self._pictures = prom.Counter(
            "bananabot_pictures_delivered", "Pictures posted to members", registry=registry
        )
        self._queue = prom.Gauge("bananabot_queue_depth", "Jobs waiting for a slot", registry=registry)
        self._running = prom.Gauge(
            "bananabot_running_jobs", "Jobs calling the image API now", registry=registry
        )

    @property
    def enabled(self) -> bool:
        return self.registry is not None

    def job_ended(self, outcome: str, model: str, seconds: float | None = None) -> None:
        if self.enabled:
            self._jobs.labels(outcome, model).inc()
            if seconds is not None:
                self._job_seconds.labels(model).observe(seconds)

    def upstream_call(self, seconds: float) -> None:
        if self.enabled:
            self._upstream_seconds.observe(seconds)

    def upstream_error(self, kind: str) -> None:
        if self.enabled:
            self._upstream_errors.labels(kind).inc()

    def discord_error(self, status: int) -> None:
        if self.enabled:
            self._discord_errors.labels(str(status)).inc()

    def pictures_delivered(self, count: int) -> None:
        if self.enabled:
            self._pictures.inc(count)

    def watch_load(self, waiting: Callable[[], float], running: Callable[[], float]) -> None:
        """Read the queue's depth and the running jobs at each scrape."""
        if self.enabled:
            self._queue.set_function(waiting)
            self._running.set_function(running)

    def exposition(self) -> tuple[bytes, str] | None:
        """The text a scrape gets and its content type; None without prometheus-client."""
        if not self.enabled:
            return None
        assert prom is not None
        return prom.generate_latest(self.registry), prom.CONTENT_TYPE_LATEST


METRICS = Metrics()
