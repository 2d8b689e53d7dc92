"""Where the bot's own HTTP may connect: a relay is a third party, and the links it answers with are
downloaded, so they must not reach the bot's own network (cloud metadata, private services).

Every connection is checked on the address it resolves to (a resolver on the one session, so no
second look-up can differ), and a link that names an address outright is checked before it is
requested, at every redirect hop. The configured relays' own hosts may be anywhere (an owner's
self-hosted relay serves its own files); `ALLOW_PRIVATE_RESULT_URLS` opens loopback and private
ranges to everything. Link-local and cloud metadata addresses are never reached.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata services: AWS, GCP and Azure (IPv4 and AWS's IPv6), Alibaba.
METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))


class UnsafeAddress(OSError):
    """A connection the guard refused; aiohttp hands it on inside its connector error."""


class NetGuard:
    def __init__(self, trusted_hosts: Iterable[str], *, allow_private: bool = False) -> None:
        self.trusted = frozenset(h.lower().rstrip(".") for h in trusted_hosts if h)
        self.allow_private = allow_private

    def refuses(self, host: str, address: IPAddress) -> bool:
        if address in METADATA or address.is_link_local:
            return True  # never, whoever names it
        if host.lower().rstrip(".") in self.trusted or str(address) in self.trusted:
            return False
        if address.is_global:
            return False
        return not (self.allow_private and (address.is_loopback or address.is_private))

    def check_url(self, url: str) -> None:
        """Refuse a link whose host is an address the guard does not allow (names are checked when
        they resolve)."""
        host = (urlsplit(url).hostname or "").strip("[]")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return
        if self.refuses(host, address):
            raise UnsafeAddress(f"address {address} refused")


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, and then the guard on every address it gives."""

    def __init__(self, guard: NetGuard, inner: AbstractResolver | None = None) -> None:
        self.guard = guard
        self.inner = inner or aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self.inner.resolve(host, port, family)
        for result in found:
            address = ipaddress.ip_address(result["host"])
            if self.guard.refuses(host, address):
                raise UnsafeAddress(f"{host} resolves to {address}, which the bot does not connect to")
        return found

    async def close(self) -> None:
        await self.inner.close()


def trusted_hosts(urls: Iterable[str]) -> set[str]:
    return {(urlsplit(u).hostname or "").lower() for u in urls if u}


def unsafe_cause(exc: BaseException) -> bool:
    """Whether an aiohttp error came from the guard."""
    cause: Any = getattr(exc, "os_error", None)
    return isinstance(cause, UnsafeAddress) or isinstance(exc, UnsafeAddress)
