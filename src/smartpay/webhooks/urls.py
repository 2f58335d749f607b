"""Where SmartPay may send a webhook: http(s) URLs whose host resolves only to public
addresses. Checked when an endpoint is saved and again at every delivery (a hostname
may be re-pointed at an internal address after it was checked: DNS rebinding), and the
delivery connects to the address that was checked, not to a second lookup."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from smartpay.config import Settings
from smartpay.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# The longest URL accepted: what browsers and most servers handle (RFC 9110 recommends
# supporting at least 8000 octets; 2048 is the common practical limit).
MAX_URL_LENGTH = 2048
# A lookup slower than this counts as a failure to resolve.
DNS_TIMEOUT_SECONDS = 5.0

_LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
# Never a webhook target (SSRF): private (RFC 1918), unique-local (RFC 4193), link-local
# including the cloud metadata service 169.254.169.254, carrier-grade NAT (RFC 6598),
# "this network", multicast and reserved ranges.
_BLOCKED = (
    ipaddress.ip_network("0.0.0.0/8"),
    ipaddress.ip_network("10.0.0.0/8"),
    ipaddress.ip_network("100.64.0.0/10"),
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("172.16.0.0/12"),
    ipaddress.ip_network("192.0.0.0/24"),
    ipaddress.ip_network("192.168.0.0/16"),
    ipaddress.ip_network("198.18.0.0/15"),
    ipaddress.ip_network("224.0.0.0/4"),
    ipaddress.ip_network("240.0.0.0/4"),
    ipaddress.ip_network("::/128"),
    ipaddress.ip_network("fc00::/7"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("ff00::/8"),
)

Resolver = Callable[[str, int], Awaitable[list[str]]]


class UnsafeUrl(Exception):
    """A URL SmartPay refuses to send to; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    host: str
    address: str


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), DNS_TIMEOUT_SECONDS
    )
    return [str(info[4][0]) for info in infos]


def address_problem(address: IPAddress, *, allow_loopback: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in _LOOPBACK):
        return None if allow_loopback else f"{address} is a loopback address"
    if any(address in network for network in _BLOCKED):
        return f"{address} is a private, link-local or reserved address"
    return None


def parse(url: str, settings: Settings) -> SplitResult:
    """The URL's parts, or ``UnsafeUrl`` if its form is not allowed."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise UnsafeUrl("the URL is malformed") from exc
    allowed = ("https", "http") if settings.webhook_allow_http else ("https",)
    if parts.scheme not in allowed:
        raise UnsafeUrl(f"the URL must use {' or '.join(allowed)}")
    if not parts.hostname:
        raise UnsafeUrl("the URL has no host")
    if parts.username or parts.password:
        raise UnsafeUrl("the URL may not contain credentials")
    return parts


async def check(url: str, settings: Settings, resolver: Resolver = system_resolver) -> Target:
    """Resolve ``url``'s host and check every address; ``UnsafeUrl`` if any is refused."""
    parts = parse(url, settings)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = await resolver(host, port)
        except (OSError, TimeoutError) as exc:
            raise UnsafeUrl(f"the host {host!r} could not be resolved") from exc
        if not addresses:
            raise UnsafeUrl(f"the host {host!r} could not be resolved")
    for address in addresses:
        problem = address_problem(
            ipaddress.ip_address(address.split("%")[0]),
            allow_loopback=settings.webhook_allow_loopback,
        )
        if problem is not None:
            raise UnsafeUrl(f"{host} resolves to {problem}" if literal is None else problem)
    return Target(url=url, host=host, address=addresses[0])


async def check_for_endpoint(
    url: str, settings: Settings, resolver: Resolver = system_resolver
) -> None:
    """The check made when an endpoint is created or its URL changed: a 400 naming ``url``.
    A host that does not resolve now is accepted (it is checked again at each delivery)."""
    try:
        await check(url, settings, resolver)
    except UnsafeUrl as exc:
        if "could not be resolved" in str(exc):
            return
        raise InvalidRequest(f"Invalid url: {exc}.", param="url", code="url_invalid") from None


def pinned_url(parts: SplitResult, address: str) -> str:
    """``parts`` with the host replaced by ``address``: the request goes to the address
    that was checked, while the Host header and TLS SNI keep the name."""
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()
