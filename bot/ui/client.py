"""The Discord client: owns the HTTP session and the image service, loads the command cogs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot import __version__
from bot.balance import BalanceWatcher
from bot.config import Settings
from bot.directory import ModelDirectory
from bot.health import Health, HealthServer
from bot.http import HttpClient, RetryPolicy
from bot.i18n import Catalog
from bot.jobs.engine import JobEngine
from bot.jobs.files import JobFiles
from bot.jobs.state import JobSink
from bot.metrics import METRICS
from bot.netguard import GuardedResolver, NetGuard, trusted_hosts
from bot.notices import Notice, OwnerNotices, render
from bot.providers.registry import build_relays
from bot.redact import Redactor
from bot.relays import RelayPool
from bot.routing import MAIN_RELAY
from bot.scaleout import Role, ScaleOut
from bot.service import ImageService
from bot.storage import DB_NAME, ActionStore, Database, SqliteActionStore, data_dir_problem
from bot.stores import open_stores
from bot.ui.hints import startup_hints, sync_error
from bot.ui.scaled import scaled_health
from bot.ui.shards import client_class, gateway_state, shard_options
from bot.ui.translator import CatalogTranslator
from bot.ui.tree import BananaTree

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.imagine",
    "cogs.edit",
    "cogs.mentions",
    "cogs.models",
    "cogs.actions",
    "cogs.jobs",
    "cogs.history",
    "cogs.help",
)


def use_discord_endpoints(api_url: str | None, gateway_url: str | None) -> None:
    """Point discord.py at another REST base and gateway (a regional proxy, or the test fake).

    discord.py keeps both as class attributes, so this affects the whole process.
    """
    if api_url:
        discord.http.Route.BASE = api_url
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def _counted(send: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    async def counted(*args: Any, **kwargs: Any) -> Any:
        try:
            return await send(*args, **kwargs)
        except discord.HTTPException as exc:
            METRICS.discord_error(exc.status)
            raise

    return counted


class BananaBot(commands.Bot):
    def __new__(cls, settings: Settings, *args: Any, **kwargs: Any) -> BananaBot:
        # SHARD_COUNT>0: the same bot on discord.py's AutoShardedBot (bot/ui/shards.py).
        return super().__new__(client_class(cls, settings))

    def __init__(
        self,
        settings: Settings,
        *,
        auto_sync: bool = True,
        serve: bool = True,
        retry_policy: RetryPolicy | None = None,
        role: Role = Role.ALL,
    ) -> None:
        super().__init__(
            # Mentions are exempt from the privileged message-content intent, so no intent is needed.
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            # Prompts are member text echoed back: nothing the bot posts may ping anyone.
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=BananaTree,
            help_command=None,
            **shard_options(settings),
        )
        self.settings = settings
        self.auto_sync = auto_sync
        self.serve = serve  # False: log in for REST work only (`sync`); no jobs are run or resumed
        self.retry_policy = retry_policy
        self.role = role  # one process, or a gateway or a worker around a shared journal and queue
        self.scale: ScaleOut | None = None
        self.redactor = Redactor(settings.secrets)
        self.catalog = Catalog.load([settings.data_dir / "locales"], settings.default_locale)
        self.session: aiohttp.ClientSession | None = None
        self.db = Database(settings.data_dir / DB_NAME)  # the journal, unless DATABASE_URL names another
        self.actions: ActionStore = SqliteActionStore(self.db)
        self._close_store: Callable[[], Awaitable[None]] = self.db.close
        self._store_alive: Callable[[], Awaitable[bool]] | None = None
        self.notices = OwnerNotices(self.catalog)
        if settings.owner_log_channel:
            self.notices.post = self._post_notice
        self._balances: BalanceWatcher | None = None
        self._images: ImageService | None = None
        self._jobs: JobEngine | None = None
        self._job_sink: JobSink | None = None
        self._shutdown: asyncio.Task[None] | None = None
        self._hints: asyncio.Task[None] | None = None
        self._health: HealthServer | None = None
        self._count_discord_errors()

    @property
    def images(self) -> ImageService:
        if self._images is None:
            raise RuntimeError("the image service exists only after setup_hook")
        return self._images

    @property
    def balances(self) -> BalanceWatcher:
        if self._balances is None:
            raise RuntimeError("the balance watcher exists only after setup_hook")
        return self._balances

    @property
    def jobs(self) -> JobEngine:
        if self._jobs is None:
            raise RuntimeError("the job engine exists only after setup_hook")
        return self._jobs

    async def setup_hook(self) -> None:
        settings = self.settings
        relay_urls = [url for relay in settings.relays for url in relay.base_urls]
        guard = NetGuard(trusted_hosts(relay_urls), allow_private=settings.allow_private_result_urls)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=GuardedResolver(guard)),
            headers={"User-Agent": f"bananabot/{__version__}"},
        )
        http = HttpClient(
            self.session, self.redactor, self.retry_policy, guard, retry_timeouts=settings.retry_timeouts
        )
        # A login for REST work only (sync, check) runs no job: it leaves the shared journal alone
        # (no migration from a `check`, no failure of a `sync` while the database is away).
        stores = await open_stores(settings.database_url if self.serve else None, self.db)
        self.actions, self._close_store, self._store_alive = stores.actions, stores.close, stores.alive
        directory = ModelDirectory(self.settings, http)
        providers = build_relays(settings, http)
        relays = RelayPool(providers, failures=settings.breaker_failures, seconds=settings.breaker_seconds)
        self._images = ImageService(settings, providers[MAIN_RELAY], directory, http, relays)
        self._jobs = JobEngine(
            self.settings,
            self._images,
            stores.jobs,
            JobFiles(self.settings.data_dir / "jobs"),
            notices=self.notices,
        )
        if self.role is not Role.ALL and self.serve:
            assert stores.shared is not None  # the command checked DATABASE_URL and QUEUE_URL
            self.scale = ScaleOut(self.role, settings, stores.shared)
            await self.scale.attach(self._jobs)
        self._balances = BalanceWatcher(settings, http, self.notices)
        self._jobs.sink = self._job_sink
        await self.tree.set_translator(CatalogTranslator(self.catalog))
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.serve:
            # Jobs the last run left in the journal resume now; their answers need only REST.
            await self._jobs.start()
            if self.scale is not None:
                await self.scale.start()
            if self.role is not Role.WORKER:
                self._balances.start()  # one watcher per gateway: workers would only repeat it
            if settings.health_port:
                jobs = self._jobs
                METRICS.watch_load(lambda: jobs.load()[0], lambda: jobs.load()[1])
                self._health = HealthServer(settings.health_host, settings.health_port, self.health, METRICS)
                await self._health.start()
        if self.auto_sync and self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                synced = await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                # A hint, not a reason to stop: the global commands may serve meanwhile.
                log.warning("DEV_GUILD_ID: %s", sync_error(exc, guild.id, self.application_id))
            else:
                log.info("Synced %d commands to the development server %s", len(synced), guild.id)

    def attach_job_sink(self, sink: JobSink) -> None:
        """Where jobs are shown; the cog that speaks Discord for the engine sets it when it loads."""
        self._job_sink = sink
        if self._jobs is not None:
            self._jobs.sink = sink

    async def on_message(self, message: discord.Message, /) -> None:
        # There are no prefix commands: mentions are handled by the Mentions cog's listener, and
        # letting commands.Bot parse them would log every "@bot draw a cat" as an unknown command.
        return

    async def _post_notice(self, notice: Notice) -> None:
        """An owner notice, in OWNER_LOG_CHANNEL, in the bot's fallback language, pinging no one."""
        assert self.settings.owner_log_channel is not None
        channel = self.get_partial_messageable(self.settings.owner_log_channel)
        await channel.send(render(notice, self.catalog), allowed_mentions=discord.AllowedMentions.none())

    def _count_discord_errors(self) -> None:
        """Every error Discord's REST API answers, whoever made the call, counted for /metrics: the
        client's own calls, and interaction responses and webhook edits, which discord.py sends
        through its process-wide webhook adapter (wrapped once per process)."""
        self.http.request = _counted(self.http.request)  # type: ignore[method-assign]
        adapter = discord.webhook.async_.async_context.get()
        if not getattr(adapter, "_bananabot_counted", False):
            adapter.request = _counted(adapter.request)  # type: ignore[method-assign]
            adapter._bananabot_counted = True  # type: ignore[attr-defined]

    async def health(self) -> Health:
        store = await asyncio.to_thread(data_dir_problem, self.settings.data_dir)
        waiting, running = self._jobs.load() if self._jobs is not None else (0, 0)
        gateway = gateway_state(self, self.settings)
        if store is None and self._store_alive is not None and not await self._store_alive():
            store = "the journal's database does not answer"  # DATABASE_URL
        health = Health(gateway.connected, store is None, waiting, running, gateway.shards)
        return await scaled_health(self, health)

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("Logged in as %s (id %s), in %d servers", self.user, self.user.id, len(self.guilds))
        if self.serve and self._hints is None:
            # Once per process (on_ready comes again after a reconnect), in the background.
            self._hints = asyncio.create_task(startup_hints(self), name="start-up-hints")

    async def close(self) -> None:
        # Idempotent and awaited to the end by every caller: a signal handler and `async with` may
        # both close, and the database's worker thread would keep the process alive if cut short.
        if self._shutdown is None:
            self._shutdown = asyncio.create_task(self._close_everything(), name="bananabot-close")
        await asyncio.shield(self._shutdown)

    async def __aexit__(self, *exc_info: object) -> None:
        # discord.py's own __aexit__ awaits only its part of close(), not ours.
        await self.close()

    async def _close_everything(self) -> None:
        if self._hints is not None and not self._hints.done():
            self._hints.cancel()
        if self._health is not None:
            await self._health.close()
        try:
            if self._jobs is not None:
                # New commands meanwhile get a short "restarting" answer: the gateway stays open.
                try:
                    if self.scale is not None:
                        await self.scale.stop_taking()
                    await self._jobs.drain()
                except Exception:
                    log.exception("Stopping the job engine failed; closing anyway")
            await super().close()
        finally:
            if self._balances is not None:
                await self._balances.close()
            await self.notices.close()
            if self._images is not None:
                await self._images.directory.close()
            if self.session is not None and not self.session.closed:
                await self.session.close()
            if self.scale is not None:
                await self.scale.close()
            await self._close_store()
