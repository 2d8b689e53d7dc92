"""The command line without Discord: `imagine`, `edit` and `models` on the same core the bot uses
(the image service, the intake of pictures, the adapters and their retries, the catalog's error
sentences), for owners and scripts. Exit 0 on success, 1 when the image service fails or refuses,
2 for bad usage or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bot import __version__
from bot.config import Settings
from bot.directory import FETCH_TIMEOUT, ModelDirectory
from bot.errors import BotError, InputTooLarge, UpstreamError, render_error
from bot.http import HttpClient
from bot.i18n import Catalog
from bot.imaging import extension, run_in_pool, sniff
from bot.inputs import InputLimits, prepare
from bot.netguard import GuardedResolver, NetGuard, trusted_hosts
from bot.providers import build_providers
from bot.redact import Redactor
from bot.request import Kind
from bot.service import Delivery, ImageService

CLI_COMMANDS = ("imagine", "edit", "models")
EXIT_FAILED = 1
EXIT_USAGE = 2
LOCALE = "en-US"
# Files are written, not uploaded: the service's own cap per picture is the only limit.
NO_UPLOAD_LIMIT = 1 << 40


def add_cli_commands(sub: Any) -> None:
    """The three commands, on `python -m bot`'s subcommand parser."""
    imagine = sub.add_parser("imagine", help="make pictures from a prompt and write them to files")
    imagine.add_argument("prompt")
    imagine.add_argument("--model", help="one of MODELS (default: DEFAULT_MODEL)")
    imagine.add_argument("--ratio", help="aspect ratio, such as 16:9")
    imagine.add_argument("--size", help="1K, 2K or 4K, for models with sizes")
    imagine.add_argument("--count", type=int, default=1, help="pictures to make (1 to 4)")
    imagine.add_argument("--out", type=Path, default=Path("."), help="folder for the files (default: here)")
    edit = sub.add_parser("edit", help="change pictures with a prompt: IMAGE… PROMPT")
    edit.add_argument("images", nargs="+", metavar="IMAGE", help="picture files (the first is edited)")
    edit.add_argument("prompt", help="what to change")
    edit.add_argument("--model", help="one of MODELS (default: DEFAULT_MODEL)")
    edit.add_argument("--out", type=Path, default=Path("."), help="folder for the files (default: here)")
    sub.add_parser("models", help="list the models: MODELS, then the image models the relay lists")


@dataclass
class _Core:
    service: ImageService
    catalog: Catalog


async def run_cli(settings: Settings, args: argparse.Namespace) -> int:
    relays = [settings.api_base_url, *(t.base_url for t in settings.overrides.values())]
    guard = NetGuard(trusted_hosts(relays), allow_private=settings.allow_private_result_urls)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=GuardedResolver(guard)),
        headers={"User-Agent": f"bananabot/{__version__}"},
    )
    async with session:
        http = HttpClient(
            session, Redactor(settings.secrets), guard=guard, retry_timeouts=settings.retry_timeouts
        )
        directory = ModelDirectory(settings, http)
        service = ImageService(settings, build_providers(settings, http), directory, http)
        core = _Core(service, Catalog.load([settings.data_dir / "locales"]))
        try:
            if args.command == "models":
                return await _models(core)
            return await _make(core, args)
        except BotError as exc:
            print(render_error(exc, core.catalog, LOCALE), file=sys.stderr)
            # The service failing or refusing is 1; a request the model cannot take is bad usage.
            return EXIT_FAILED if isinstance(exc, UpstreamError) else EXIT_USAGE
        finally:
            await directory.close()


async def _models(core: _Core) -> int:
    directory = core.service.directory
    await directory.suggestions("", wait=FETCH_TIMEOUT)
    for route in directory.configured():
        print(f"{route.name}\t{route.format}\tMODELS")
    for route in directory.discovered():
        print(f"{route.name}\t{route.format}\trelay list")
    return 0


async def _make(core: _Core, args: argparse.Namespace) -> int:
    service = core.service
    settings = service.settings
    if args.command == "imagine":
        plan = service.plan(
            Kind.IMAGINE,
            args.prompt,
            model=args.model,
            aspect_ratio=args.ratio,
            size=args.size,
            count=args.count,
        )
    else:
        files, prompt = args.images, args.prompt
        pictures = [_read(Path(f), settings.max_input_bytes) for f in files]
        if any(p is None for p in pictures):
            return EXIT_USAGE
        caps = service.capabilities(args.model)
        limits = InputLimits(
            max_side=settings.input_max_side,
            max_bytes=min(caps.max_image_bytes, caps.max_request_bytes // len(files)),
        )
        images = [
            await run_in_pool(prepare, data, Path(f).name, limits)
            for f, data in zip(files, pictures, strict=True)
        ]
        plan = service.plan(Kind.EDIT, prompt, model=args.model, images=tuple(images))
    async with asyncio.timeout(service.timing(plan.route.name).seconds):
        delivery = await service.run(plan, max_file_bytes=NO_UPLOAD_LIMIT)
    for path in _write(delivery, args.out):
        print(path)
    for note in delivery.notes:
        print(core.catalog.text(note.key, LOCALE, **note.params), file=sys.stderr)
    if delivery.text:
        print(f"{plan.route.name} said: {delivery.text}", file=sys.stderr)
    return 0


def _read(path: Path, max_bytes: int) -> bytes | None:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InputTooLarge(
                path.name, name=path.name, size_mb=f"{size / 2**20:.0f}", limit_mb=f"{max_bytes / 2**20:.0f}"
            )
        return path.read_bytes()
    except OSError as exc:
        print(f"{path} cannot be read: {exc.strerror}", file=sys.stderr)
        return None


def _write(delivery: Delivery, out: Path) -> list[Path]:
    """Each picture as the API made it (the fitted copy only where none was kept), named uniquely."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    written = []
    originals = delivery.originals or (None,) * len(delivery.images)
    for number, (image, original) in enumerate(zip(delivery.images, originals, strict=True), start=1):
        data = original if original is not None else image.data
        ext = extension(sniff(data) or image.mime)
        path = out / f"bananabot-{stamp}-{number}.{ext}"
        suffix = 1
        while path.exists():
            suffix += 1
            path = out / f"bananabot-{stamp}-{number}-{suffix}.{ext}"
        path.write_bytes(data)
        written.append(path)
    return written
