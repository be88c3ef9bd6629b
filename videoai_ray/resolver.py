"""Host name lookups with a deadline: the one way the server turns a host name into addresses.

``socket.getaddrinfo`` has no timeout of its own; a DNS server that stops answering holds the
caller for as long as the system resolver retries (10 s and more). A ``Resolver`` runs each lookup
on a daemon thread of its own and waits at most ``timeout`` seconds for it (``DNSTimeout``); a
lookup that hangs keeps only that thread, never its caller, and at most ``MAX_LOOKUPS`` such
threads exist at once in a process (a lookup that finds none free waits within its deadline).

``resolver_for(settings)`` is the resolver of a process: ``settings.dns_timeout``, and, in tests,
the ``dns_lookup`` fault point (``fault_points.hold``: a lookup of a host name holds while the test
keeps it, the way a DNS server that stops answering would).
"""

from __future__ import annotations

import functools
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import Settings

#: seconds a lookup may take when no setting says otherwise
DNS_TIMEOUT = 5.0
#: lookup threads a process may have at once (hung lookups included)
MAX_LOOKUPS = 32

_slots = threading.BoundedSemaphore(MAX_LOOKUPS)

#: a blocking lookup: a host name to its addresses (``socket.gaierror`` when it has none)
Lookup = Callable[[str], list[str]]


class DNSTimeout(TimeoutError):
    """The lookup of a host name did not answer within the resolver's deadline."""


def is_localhost(host: str) -> bool:
    """``localhost`` and the names under it (RFC 6761: answered locally, never asked of DNS)."""
    low = host.lower().rstrip(".")
    return low == "localhost" or low.endswith(".localhost")


def system_lookup(host: str) -> list[str]:
    """Every address ``host`` resolves to, from the system resolver (blocking, no deadline)."""
    if is_localhost(host):
        return ["127.0.0.1"]
    infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]).split("%", 1)[0] for info in infos})


def _held_lookup(folder: Path, host: str) -> list[str]:
    from .fault_points import hold

    hold(folder, "dns_lookup", host)
    return system_lookup(host)


@dataclass(frozen=True, slots=True)
class Resolver:
    """``lookup`` with a deadline of ``timeout`` seconds (see the module's docstring)."""

    timeout: float = DNS_TIMEOUT
    lookup: Lookup = system_lookup

    def __call__(self, host: str) -> list[str]:
        """``host``'s addresses; ``DNSTimeout`` past the deadline, the lookup's own error otherwise."""
        if not _slots.acquire(timeout=self.timeout):
            raise DNSTimeout(f"host {host!r} did not resolve within {self.timeout:g} s (every lookup thread is busy)")
        answer: Future[list[str]] = Future()

        def run() -> None:
            try:
                answer.set_result(self.lookup(host))
            except BaseException as e:  # handed to the caller, if it still waits
                answer.set_exception(e)
            finally:
                _slots.release()

        try:
            threading.Thread(target=run, name=f"videoai-dns-{host}"[:60], daemon=True).start()
        except BaseException:
            _slots.release()
            raise
        try:
            return answer.result(self.timeout)
        except TimeoutError:
            raise DNSTimeout(f"host {host!r} did not resolve within {self.timeout:g} s") from None


def resolver_for(settings: Settings) -> Resolver:
    """The resolver ``settings`` ask for (its deadline; the test fault point when armed)."""
    folder = settings.fault_pause_dir
    lookup: Lookup = system_lookup if folder is None else functools.partial(_held_lookup, folder)
    return Resolver(settings.dns_timeout, lookup)


__all__ = ["DNS_TIMEOUT", "MAX_LOOKUPS", "DNSTimeout", "Lookup", "Resolver", "is_localhost", "resolver_for",
           "system_lookup"]
