"""Outbound URL guard: every request the server makes to a URL a user gave (webhooks, input
downloads) goes only to globally routable addresses.

An address is refused unless ``ip.is_global`` holds for it *and* for the IPv4 address it wraps
(IPv4-mapped, 6to4, NAT64, Teredo), and it is not a known cloud metadata address; metadata host
names are refused by name. A host is resolved once, its addresses checked, and the connection then
goes to the checked address (``PinnedTransport``: the URL's host stays in ``Host`` and in TLS SNI
and certificate checks), so DNS rebinding between check and connect cannot reach another host.
Redirects are followed by hand, each hop checked the same way. An allow-list of hosts or CIDR
networks from settings admits chosen internal targets (tests, intranets). Host names are looked up
through a ``resolver.Resolver`` (a deadline on every lookup: a DNS server that stops answering
makes a URL refused as not resolving in time, never a caller that waits without end); pass the
process's ``resolver_for(settings)``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx

from .errors import InvalidInput, RetryableError
from .resolver import DNSTimeout, Resolver, is_localhost

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: host names of cloud metadata services (GCP, AWS, Azure, Alibaba, OpenStack and friends)
METADATA_HOSTS = frozenset({
    "metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal",
    "metadata.azure.com", "metadata.packet.net", "metadata.platformequinix.com",
})
#: metadata addresses, refused even where ``is_global`` would admit them (Azure's 168.63.129.16)
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.123", "168.63.129.16", "100.100.100.200",
    "192.0.0.192", "fd00:ec2::254", "fd00:ec2::23",
))
#: special-purpose ranges some Python versions count as global (IETF protocol assignments,
#: carrier-grade NAT, 6to4 relay anycast)
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in ("192.0.0.0/24", "100.64.0.0/10", "192.88.99.0/24"))
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class UnsafeURL(ValueError):
    """The URL points to an address that outbound requests may not reach."""


def embedded_ipv4(addr: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (IPv4-mapped, 6to4, NAT64, Teredo)."""
    if isinstance(addr, ipaddress.IPv4Address):
        return []
    found = []
    if addr.ipv4_mapped:
        found.append(addr.ipv4_mapped)
    if addr.sixtofour:
        found.append(addr.sixtofour)
    if addr.teredo:
        found.extend(addr.teredo)  # (server, client)
    if any(addr in net for net in _NAT64):
        found.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return found


def is_public(ip: str | IPAddress) -> bool:
    """Whether outbound requests may go to ``ip``: globally routable, not a metadata address,
    and so is every IPv4 address it wraps."""
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    for a in (addr, *embedded_ipv4(addr)):
        if not a.is_global or a.is_multicast or a in METADATA_ADDRESSES:
            return False
        if isinstance(a, ipaddress.IPv4Address) and any(a in n for n in _NOT_GLOBAL):
            return False
    return True


def _allowed(host: str, addresses: Iterable[str], allowlist: Iterable[str]) -> bool:
    allow = [a.strip().lower() for a in allowlist if a.strip()]
    if host.lower() in allow:
        return True
    nets = []
    for a in allow:
        try:
            nets.append(ipaddress.ip_network(a, strict=False))
        except ValueError:
            continue
    addrs = list(addresses)
    return bool(nets) and bool(addrs) and all(any(ipaddress.ip_address(ip) in n for n in nets) for ip in addrs)


def resolve(host: str, resolver: Resolver | None = None) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself), through
    ``resolver`` (a default ``Resolver`` when ``None``)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    lookup = resolver or Resolver()
    try:
        return lookup(host)
    except DNSTimeout as e:
        raise UnsafeURL(f"host {host!r} did not resolve within {lookup.timeout:g} s") from e
    except (socket.gaierror, UnicodeError) as e:
        raise UnsafeURL(f"host {host!r} does not resolve") from e


def transient(refused: UnsafeURL) -> bool:
    """Whether a refusal may not hold later: the host did not resolve (or not in time), as
    opposed to resolving to an address that is not allowed."""
    return isinstance(refused.__cause__, socket.gaierror | DNSTimeout)


def _host_of(url: str) -> str:
    try:
        parsed = urlparse(url)
        host = parsed.hostname
        parsed.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as e:
        raise UnsafeURL(f"not a valid URL ({e})") from None
    if parsed.scheme not in ("http", "https") or not host:
        raise UnsafeURL("must be an absolute http:// or https:// URL")
    if parsed.username is not None or parsed.password is not None:
        raise UnsafeURL("must not carry a user name or password")
    return host.rstrip(".")


def checked_addresses(url: str, allowlist: Iterable[str] = (), *, resolve_dns: bool = True,
                      resolver: Resolver | None = None) -> list[str]:
    """The addresses ``url``'s host resolves to (through ``resolver``), all of them checked;
    ``UnsafeURL`` when the URL is not http(s), names a metadata host, does not resolve (in time),
    or any address is not public (and not allow-listed). With ``resolve_dns=False`` a host name
    is only checked by name (``[]``)."""
    allow = tuple(allowlist)
    host = _host_of(url)
    low = host.lower()
    if low in METADATA_HOSTS and not _allowed(host, [], allow):
        raise UnsafeURL(f"host {host!r} is a cloud metadata endpoint")
    if resolve_dns:
        addresses = resolve(host, resolver)
    elif is_localhost(host):
        addresses = ["127.0.0.1"]
    else:
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            return []
    if _allowed(host, addresses, allow):
        return addresses
    bad = [ip for ip in addresses if not is_public(ip)]
    if bad:
        raise UnsafeURL(f"host {host!r} resolves to a non-public address ({bad[0]})")
    return addresses


def check_url(url: str, allowlist: Iterable[str] = (), *, resolve_dns: bool = True,
              resolver: Resolver | None = None) -> None:
    """Raise ``UnsafeURL`` unless ``url`` is http(s) and every address it names is public
    (or admitted by ``allowlist``)."""
    checked_addresses(url, allowlist, resolve_dns=resolve_dns, resolver=resolver)


def _pin(request: httpx.Request, allowlist: tuple[str, ...], resolver: Resolver | None) -> None:
    """Check ``request``'s host and point its URL at the checked address (``Host`` header and
    TLS server name stay the host's)."""
    try:
        addresses = checked_addresses(str(request.url), allowlist, resolver=resolver)
    except UnsafeURL as e:
        raise httpx.ConnectError(f"refused: {e}", request=request) from e
    host = request.url.host
    if addresses and addresses[0] != host:
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        request.url = request.url.copy_with(host=addresses[0])


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport that connects only to addresses ``checked_addresses`` admitted."""

    def __init__(self, allowlist: Iterable[str] = (), resolver: Resolver | None = None, **kw: Any) -> None:
        self.allowlist = tuple(allowlist)
        self.resolver = resolver
        self._inner = httpx.HTTPTransport(**kw)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _pin(request, self.allowlist, self.resolver)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class AsyncPinnedTransport(httpx.AsyncBaseTransport):
    """``PinnedTransport`` for ``httpx.AsyncClient`` (the DNS lookup runs in a thread)."""

    def __init__(self, allowlist: Iterable[str] = (), resolver: Resolver | None = None, **kw: Any) -> None:
        self.allowlist = tuple(allowlist)
        self.resolver = resolver
        self._inner = httpx.AsyncHTTPTransport(**kw)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        import asyncio

        await asyncio.to_thread(_pin, request, self.allowlist, self.resolver)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def refusal(exc: BaseException) -> UnsafeURL | None:
    """The ``UnsafeURL`` behind an httpx error raised by a pinned transport, if any."""
    cause = exc.__cause__
    return cause if isinstance(cause, UnsafeURL) else None


def download(url: str, dest: Path, *, max_bytes: int, allowlist: Iterable[str] = (),
             timeout: float = 60.0, max_redirects: int = 5, resolver: Resolver | None = None) -> Path:
    """Stream ``url`` to ``dest`` with a size limit, through the pinned transport, checking
    every redirect hop."""
    allow = tuple(allowlist)
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                      transport=PinnedTransport(allow, resolver)) as client:
        for _ in range(max_redirects + 1):
            try:
                with client.stream("GET", url) as resp:
                    if resp.is_redirect:
                        # joined to the URL as given (the request's own URL holds the pinned address)
                        url = str(httpx.URL(url).join(resp.headers.get("location", "")))
                        continue
                    if resp.status_code >= 500 or resp.status_code == 429:
                        raise RetryableError(f"fetching input: HTTP {resp.status_code}")
                    if resp.status_code >= 400:
                        raise InvalidInput(f"fetching input: HTTP {resp.status_code}")
                    declared = int(resp.headers.get("content-length") or 0)
                    if declared > max_bytes:
                        raise InvalidInput(f"the input is {declared} bytes, over the {max_bytes} limit")
                    size = 0
                    with dest.open("wb") as fh:
                        for chunk in resp.iter_bytes(65536):
                            size += len(chunk)
                            if size > max_bytes:
                                raise InvalidInput(f"the input is over the {max_bytes} byte limit")
                            fh.write(chunk)
                    return dest
            except httpx.TimeoutException as e:
                raise RetryableError("fetching input: timed out") from e
            except httpx.TransportError as e:
                refused = refusal(e)
                if refused is not None and not transient(refused):
                    raise InvalidInput(f"refusing to fetch the input: {refused}") from e
                raise RetryableError(f"fetching input: {type(e).__name__}") from e
    raise InvalidInput("fetching input: too many redirects")
