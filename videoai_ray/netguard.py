"""Outbound URL guard: refuse private, loopback, link-local and metadata addresses.

Used for webhook URLs and for ``audio_url`` downloads, both at validation time and again when a
connection is made (so DNS changes and redirects cannot smuggle a request to an internal host).
An allow-list of hosts or CIDR networks from settings admits chosen internal targets.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse

import httpx

from .errors import InvalidInput, RetryableError

_METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class UnsafeURL(ValueError):
    """The URL points to an address that outbound requests may not reach."""


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
    return bool(nets) and all(any(ipaddress.ip_address(ip) in n for n in nets) for ip in addresses)


def _is_public(ip: str) -> bool:
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return not (
        addr.is_private
        or addr.is_loopback
        or addr.is_link_local
        or addr.is_multicast
        or addr.is_reserved
        or addr.is_unspecified
    )


def resolve(host: str) -> list[str]:
    """Every address ``host`` resolves to (an IP literal resolves to itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as e:
        raise UnsafeURL(f"host {host!r} does not resolve") from e
    return sorted({str(info[4][0]) for info in infos})


def check_url(url: str, allowlist: Iterable[str] = (), *, resolve_dns: bool = True) -> None:
    """Raise ``UnsafeURL`` unless ``url`` is http(s) and every address it names is public
    (or admitted by ``allowlist``)."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UnsafeURL("must be an absolute http:// or https:// URL")
    host = parsed.hostname.rstrip(".")
    if host.lower() in _METADATA_HOSTS and not _allowed(host, [], allowlist):
        raise UnsafeURL(f"host {host!r} is a cloud metadata endpoint")
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        addresses = ["127.0.0.1"]
    elif resolve_dns:
        addresses = resolve(host)
    else:
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            return
    if _allowed(host, addresses, allowlist):
        return
    bad = [ip for ip in addresses if not _is_public(ip)]
    if bad:
        raise UnsafeURL(f"host {host!r} resolves to a non-public address ({bad[0]})")


def download(url: str, dest: Path, *, max_bytes: int, allowlist: Iterable[str] = (),
             timeout: float = 60.0, max_redirects: int = 5) -> Path:
    """Stream ``url`` to ``dest`` with a size limit, checking every redirect hop."""
    allow = tuple(allowlist)
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for _ in range(max_redirects + 1):
            try:
                check_url(url, allow)
            except UnsafeURL as e:
                raise InvalidInput(f"refusing to fetch {url}: {e}") from e
            try:
                with client.stream("GET", url) as resp:
                    if resp.is_redirect:
                        url = str(resp.next_request.url) if resp.next_request else ""
                        continue
                    if resp.status_code >= 500 or resp.status_code == 429:
                        raise RetryableError(f"fetching {url}: HTTP {resp.status_code}")
                    if resp.status_code >= 400:
                        raise InvalidInput(f"fetching {url}: HTTP {resp.status_code}")
                    declared = int(resp.headers.get("content-length") or 0)
                    if declared > max_bytes:
                        raise InvalidInput(f"{url} is {declared} bytes, over the {max_bytes} limit")
                    size = 0
                    with dest.open("wb") as fh:
                        for chunk in resp.iter_bytes(65536):
                            size += len(chunk)
                            if size > max_bytes:
                                raise InvalidInput(f"{url} is over the {max_bytes} byte limit")
                            fh.write(chunk)
                    return dest
            except httpx.TimeoutException as e:
                raise RetryableError(f"fetching {url}: timed out") from e
            except httpx.TransportError as e:
                raise RetryableError(f"fetching {url}: {e}") from e
    raise InvalidInput(f"{url}: too many redirects")
