"""The Discord client: owns the HTTP session and the image service, loads the command cogs."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot import __version__
from bot.config import Settings
from bot.directory import ModelDirectory
from bot.http import HttpClient, RetryPolicy
from bot.i18n import Catalog
from bot.jobs.engine import JobEngine
from bot.jobs.files import JobFiles
from bot.jobs.state import JobSink
from bot.jobs.store import SqliteJobStore
from bot.netguard import GuardedResolver, NetGuard, trusted_hosts
from bot.providers import build_providers
from bot.redact import Redactor
from bot.service import ImageService
from bot.storage import DB_NAME, ActionStore, Database
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


class BananaBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        *,
        auto_sync: bool = True,
        serve: bool = True,
        retry_policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(
            # Mentions are exempt from the privileged message-content intent, so no intent is needed.
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            # Prompts are member text echoed back: nothing the bot posts may ping anyone.
            allowed_mentions=discord.AllowedMentions.none(),
            tree_cls=BananaTree,
            help_command=None,
        )
        self.settings = settings
        self.auto_sync = auto_sync
        self.serve = serve  # False: log in for REST work only (`sync`); no jobs are run or resumed
        self.retry_policy = retry_policy
        self.redactor = Redactor(settings.secrets)
        self.catalog = Catalog.load([settings.data_dir / "locales"], settings.default_locale)
        self.session: aiohttp.ClientSession | None = None
        self.db = Database(settings.data_dir / DB_NAME)
        self.actions = ActionStore(self.db)
        self._images: ImageService | None = None
        self._jobs: JobEngine | None = None
        self._job_sink: JobSink | None = None
        self._shutdown: asyncio.Task[None] | None = None

    @property
    def images(self) -> ImageService:
        if self._images is None:
            raise RuntimeError("the image service exists only after setup_hook")
        return self._images

    @property
    def jobs(self) -> JobEngine:
        if self._jobs is None:
            raise RuntimeError("the job engine exists only after setup_hook")
        return self._jobs

    async def setup_hook(self) -> None:
        settings = self.settings
        relays = [settings.api_base_url, *(t.base_url for t in settings.overrides.values())]
        guard = NetGuard(trusted_hosts(relays), allow_private=settings.allow_private_result_urls)
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=GuardedResolver(guard)),
            headers={"User-Agent": f"bananabot/{__version__}"},
        )
        http = HttpClient(
            self.session, self.redactor, self.retry_policy, guard, retry_timeouts=settings.retry_timeouts
        )
        await self.db.open()
        directory = ModelDirectory(self.settings, http)
        self._images = ImageService(self.settings, build_providers(self.settings, http), directory, http)
        self._jobs = JobEngine(
            self.settings, self._images, SqliteJobStore(self.db), JobFiles(self.settings.data_dir / "jobs")
        )
        self._jobs.sink = self._job_sink
        await self.tree.set_translator(CatalogTranslator(self.catalog))
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.serve:
            # Jobs the last run left in the journal resume now; their answers need only REST.
            await self._jobs.start()
        if self.auto_sync and self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
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

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("Logged in as %s (id %s), in %d servers", self.user, self.user.id, len(self.guilds))

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
        try:
            if self._jobs is not None:
                # New commands meanwhile get a short "restarting" answer: the gateway stays open.
                try:
                    await self._jobs.drain()
                except Exception:
                    log.exception("Stopping the job engine failed; closing anyway")
            await super().close()
        finally:
            if self._images is not None:
                await self._images.directory.close()
            if self.session is not None and not self.session.closed:
                await self.session.close()
            await self.db.close()
