"""What the fakes share: serving an aiohttp application on 127.0.0.1, and reading what clients send.

Only aiohttp's public API is used, so a new aiohttp release cannot quietly break every fake at once.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

HOST = "127.0.0.1"


class FakeServer:
    """An aiohttp application on 127.0.0.1, on a port the OS picks when it starts.

    `app` exists from construction, so a test can add middlewares or routes before `start`.
    """

    def __init__(self, *, client_max_size: int) -> None:
        self.app = web.Application(client_max_size=client_max_size)
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        # A short shutdown timeout: tests leave requests hanging on purpose, and closing a fake must
        # not wait for them.
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        # Binding the socket here gives the port without asking aiohttp's site for its server.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((HOST, 0))
            self.port = sock.getsockname()[1]
            await web.SockSite(self._runner, sock).start()
        except BaseException:
            sock.close()
            raise

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"


@dataclass
class Upload:
    """One part of a multipart body; `filename` is empty for a plain form field."""

    name: str
    filename: str
    content_type: str
    data: bytes


async def read_parts(request: web.Request) -> list[Upload]:
    """Every part of a multipart request body, read whole."""
    parts: list[Upload] = []
    async for part in await request.multipart():
        # The bot never nests multipart bodies; if it starts to, this should fail loudly.
        assert isinstance(part, BodyPartReader), f"nested multipart part {part!r}"
        data = await part.read()
        parts.append(
            Upload(part.name or "", part.filename or "", part.headers.get("Content-Type", ""), bytes(data))
        )
    return parts


def stored_file(files: dict[str, tuple[bytes, str]], name: str) -> web.Response:
    """A file the fake holds by name, with its content type, or 404."""
    if name not in files:
        return web.Response(status=404)
    data, content_type = files[name]
    return web.Response(body=data, headers={"Content-Type": content_type})
