"""The models members can pick: the configured `MODELS` plus image models the relay lists.

The relay's list (`GET /v1/models`, OpenAI's list format) is fetched lazily in the background and
cached; lookups never wait on it for longer than the caller allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from urllib.parse import urlsplit

from bot.config import Settings
from bot.errors import UpstreamError
from bot.http import HttpClient
from bot.providers.registry import infer_format, is_image_model, model_list_format
from bot.routing import ModelRoute

__all__ = ["ModelDirectory", "is_image_model"]

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0
# A relay without the endpoint is asked again only after this long.
MISSING_ENDPOINT_SECONDS = 3600.0
FETCH_TIMEOUT = 8.0
# Discord's autocomplete shows at most 25 choices; an error listing the models shows as many.
LISTED = 25


class ModelDirectory:
    def __init__(self, settings: Settings, http: HttpClient) -> None:
        self.settings = settings
        self.http = http
        self._discovered: tuple[ModelRoute, ...] = ()
        self._next_fetch = 0.0
        self._task: asyncio.Task[None] | None = None

    def configured(self) -> list[ModelRoute]:
        return list(self.settings.models)

    def discovered(self) -> list[ModelRoute]:
        names = {route.name for route in self.settings.models}
        return [route for route in self._discovered if route.name not in names]

    def all(self) -> list[ModelRoute]:
        return self.configured() + self.discovered()

    def listing(self, limit: int = LISTED) -> str:
        """What a member may pick, as autocomplete offers it: the same routes, trimmed to fit."""
        names = [route.name for route in self.all()]
        shown = ", ".join(names[:limit])
        return shown + ", …" if len(names) > limit else shown

    def route(self, name: str) -> ModelRoute | None:
        return next((route for route in self.all() if route.name == name), None)

    async def suggestions(self, current: str, *, wait: float) -> list[ModelRoute]:
        """Models whose name contains `current`; waits at most `wait` seconds for a fresh list."""
        self.refresh()
        if self._task is not None and not self._task.done():
            await asyncio.wait({self._task}, timeout=wait)
        wanted = current.strip().lower()
        return [route for route in self.all() if wanted in route.name.lower()]

    def refresh(self) -> None:
        """Start a background fetch when the cache is stale and none is running."""
        if not self._lists_models() or time.monotonic() < self._next_fetch:
            return
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._fetch(), name="model-directory")

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _lists_models(self) -> bool:
        target = self.settings.target(model_list_format())
        # Google's own API lists models in another format under another path.
        return not (urlsplit(target.base_url).hostname or "").endswith("googleapis.com")

    async def _fetch(self) -> None:
        target = self.settings.target(model_list_format())
        try:
            response = await self.http.request(
                "GET",
                f"{target.base_url}/v1/models",
                headers={"Authorization": f"Bearer {target.api_key}"},
                timeout=FETCH_TIMEOUT,
            )
            data = response.json()
        except UpstreamError as exc:
            missing = exc.status in (404, 405) or not exc.retryable
            self._next_fetch = time.monotonic() + (MISSING_ENDPOINT_SECONDS if missing else CACHE_SECONDS / 5)
            log.info("The relay's model list is not available (%s); using MODELS only", type(exc).__name__)
            return
        items = data.get("data") if isinstance(data, dict) else None
        names = [str(item.get("id")) for item in items or [] if isinstance(item, dict) and item.get("id")]
        routes = []
        for name in dict.fromkeys(names):
            api_format = infer_format(name)
            if api_format is not None and is_image_model(name):
                routes.append(ModelRoute(name, api_format))
        self._discovered = tuple(routes)
        self._next_fetch = time.monotonic() + CACHE_SECONDS
        log.info("The relay lists %d image models", len(routes))
