"""The health and metrics endpoint, on aiohttp's web server at HEALTH_HOST:HEALTH_PORT.

`/healthz` answers 200 with a small JSON while the gateway is connected (every shard this process
holds, when sharded) and the store writable, 503 otherwise, for a container's health check;
`/metrics` is bot/metrics.py's Prometheus text.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

from aiohttp import web

from bot.metrics import INSTALL_HINT, Metrics

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
METRICS_PATH = "/metrics"


@dataclass(frozen=True)
class Health:
    gateway_connected: bool
    store_writable: bool
    queue_depth: int
    running_jobs: int
    # A sharded gateway: each shard this process holds and whether it is connected (all of them
    # must be for `gateway_connected`); absent from the JSON when unsharded.
    shards: dict[int, bool] | None = None
    # Gateway and worker processes: which this is; a gateway's view of the workers and the queue.
    role: str | None = None  # "gateway" or "worker"; one process says nothing
    workers: tuple[dict[str, object], ...] | None = None
    queue: dict[str, int] | None = None

    @property
    def ok(self) -> bool:
        return self.gateway_connected and self.store_writable


class HealthServer:
    def __init__(
        self, host: str, port: int, probe: Callable[[], Awaitable[Health]], metrics: Metrics
    ) -> None:
        self.host, self.port = host, port
        self.probe = probe
        self.metrics = metrics
        app = web.Application()
        app.router.add_get(HEALTH_PATH, self._health)
        app.router.add_get(METRICS_PATH, self._metrics)
        self._runner = web.AppRunner(app, access_log=None)

    async def start(self) -> None:
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        log.info("Health on http://%s:%d%s", self.host, self.port, HEALTH_PATH)
        if not self.metrics.enabled:
            log.warning("%s answers 501 until prometheus-client is installed: %s", METRICS_PATH, INSTALL_HINT)

    async def close(self) -> None:
        await self._runner.cleanup()

    async def _health(self, request: web.Request) -> web.Response:
        health = await self.probe()
        # The optional parts (shards, role, workers, queue) appear only where they apply.
        shown = {k: v for k, v in asdict(health).items() if v is not None}
        if health.shards is not None:
            shown["shards"] = {str(shard): up for shard, up in health.shards.items()}
        body = {"status": "ok" if health.ok else "down", **shown}
        return web.json_response(body, status=200 if health.ok else 503)

    async def _metrics(self, request: web.Request) -> web.Response:
        exposition = self.metrics.exposition()
        if exposition is None:
            return web.Response(status=501, text=f"metrics need prometheus-client: {INSTALL_HINT}\n")
        body, content_type = exposition
        return web.Response(body=body, headers={"Content-Type": content_type})
