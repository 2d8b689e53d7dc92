"""Links a relay answers with never take the bot into its own network (issue 12, defect 5).

Every test here also guards the process: a connection to anything but loopback is refused and
recorded before it can leave, so a failing guard shows as a recorded attempt, never as traffic.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import aiohttp
import pytest

from bot.errors import UnsafeResultUrl, UpstreamBadResponse, UpstreamUnavailable
from bot.http import HttpClient, RetryPolicy
from bot.netguard import GuardedResolver, NetGuard, trusted_hosts
from bot.redact import Redactor
from tests.e2e.helpers import imagine, private_error
from tests.fakes.discord import FakeDiscord
from tests.fakes.relay import FakeRelay, png

UNSAFE = (
    "The image service answered with a link into a private network, which the bot does not follow."
    " Ask the server owner to check the image service."
)


@pytest.fixture
def outside(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connection attempted to a non-loopback address (each is refused on the spot)."""
    tried: list[str] = []
    real = asyncio.base_events.BaseEventLoop.create_connection

    async def loopback_only(self: Any, factory: Any, host: Any = None, port: Any = None, **kw: Any) -> Any:
        if host is not None and not ipaddress.ip_address(host).is_loopback:
            tried.append(str(host))
            raise ConnectionRefusedError(f"the test refuses {host}")
        return await real(self, factory, host, port, **kw)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", loopback_only)
    return tried


class Names(aiohttp.abc.AbstractResolver):
    """A resolver that knows a few names, so no test asks a real DNS."""

    def __init__(self, table: dict[str, str]) -> None:
        self.table = table

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> Any:
        address = self.table[host.rstrip(".")]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        return None


async def client(
    relay: FakeRelay, names: dict[str, str], **kw: Any
) -> tuple[HttpClient, aiohttp.ClientSession]:
    guard = NetGuard(trusted_hosts([relay.base_url]), **kw)
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(resolver=GuardedResolver(guard, Names(names)))
    )
    return HttpClient(session, Redactor(), RetryPolicy(attempts=1), guard), session


@pytest.mark.parametrize(
    "where",
    [
        "http://10.0.0.1/result.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/",
        "http://internal.example/result.png",  # a name that resolves to a private address
        "http://metadata.example/computeMetadata/",  # a name that resolves to the metadata address
    ],
)
async def test_result_links_into_private_networks_are_refused_before_connecting(
    relay: FakeRelay, outside: list[str], where: str
) -> None:
    http, session = await client(
        relay, {"internal.example": "10.1.2.3", "metadata.example": "169.254.169.254"}
    )
    async with session:
        with pytest.raises(UnsafeResultUrl):
            await http.download(where, timeout=5, max_bytes=1_000_000)
    assert outside == []


async def test_a_redirect_into_the_metadata_service_is_refused_at_the_hop(
    relay: FakeRelay, outside: list[str]
) -> None:
    http, session = await client(relay, {})
    async with session:
        with pytest.raises(UnsafeResultUrl):
            await http.download(
                f"{relay.base_url}/redirect?to=http://169.254.169.254/latest/", timeout=5, max_bytes=1_000_000
            )
        relay.files["ok.png"] = (png(8, 8), "image/png")
        followed = await http.download(
            f"{relay.base_url}/redirect?to=/files/ok.png", timeout=5, max_bytes=10**6
        )
    assert followed == relay.files["ok.png"][0], "a redirect within the relay is followed"
    assert outside == []


async def test_private_addresses_open_with_the_setting_and_metadata_never(
    relay: FakeRelay, outside: list[str]
) -> None:
    # 127.0.0.2 is loopback but not the relay's own address; nothing listens there.
    names = {"files.lan": "127.0.0.2", "metadata.example": "169.254.169.254"}
    http, session = await client(relay, names)
    async with session:
        with pytest.raises(UnsafeResultUrl):
            await http.download("http://files.lan:9/result.png", timeout=5, max_bytes=10**6)
    http, session = await client(relay, names, allow_private=True)
    async with session:
        with pytest.raises(UpstreamUnavailable):  # allowed, and so tried: nothing answers there
            await http.download("http://files.lan:9/result.png", timeout=5, max_bytes=10**6)
        with pytest.raises(UnsafeResultUrl):
            await http.download("http://metadata.example/latest/", timeout=5, max_bytes=10**6)
    assert outside == []


async def test_a_member_is_told_clearly_and_shown_no_link(
    start_bot, discord_fake: FakeDiscord, relay: FakeRelay, outside: list[str]
) -> None:
    await start_bot()
    relay.linked_url = "http://10.20.30.40/secret-result.png?key=sk-upstream"
    relay.queue("links_to")
    sent = await imagine(discord_fake, prompt="a lighthouse")
    assert await private_error(discord_fake, sent) == UNSAFE
    assert outside == []
    assert not [c for c in discord_fake.calls if "10.20.30.40" in str(c.payload)]


async def test_a_post_redirected_into_the_metadata_service_is_refused_at_the_hop(
    relay: FakeRelay, outside: list[str]
) -> None:
    http, session = await client(relay, {})
    async with session:
        with pytest.raises(UnsafeResultUrl):
            await http.request(
                "POST",
                f"{relay.base_url}/redirect?code=307&to=http://169.254.169.254/latest/",
                json_body={"prompt": "x"},
                timeout=5,
            )
    assert outside == []


async def test_a_post_follows_a_redirect_that_keeps_it_a_post_and_refuses_one_that_would_not(
    relay: FakeRelay, outside: list[str]
) -> None:
    http, session = await client(relay, {})
    body = {"model": "gpt-image-1", "prompt": "a fox"}
    async with session:
        answer = await http.request(
            "POST",
            f"{relay.base_url}/redirect?code=308&to=/v1/images/generations",
            json_body=body,
            timeout=5,
        )
        assert answer.status == 200
        (generation,) = relay.calls_to("/v1/images/generations")
        assert generation.method == "POST" and generation.body == body, "the same request at the new place"
        with pytest.raises(UpstreamBadResponse):
            await http.request(
                "POST",
                f"{relay.base_url}/redirect?code=302&to=/v1/images/generations",
                json_body=body,
                timeout=5,
            )
    assert len(relay.calls_to("/v1/images/generations")) == 1, "a 302 would have turned it into a GET"
    assert outside == []
