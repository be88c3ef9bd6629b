"""What a failed store call means: the store is out (down, refusing, stalled past its timeouts, or
its disk is full: try the same call again later), or the call itself was bad (a value the column
cannot take: trying again cannot help).

The Scheduler's writer keeps an outage's writes and tries them later; the SDK and HTTP edges answer
an outage with :class:`~videoai_ray.errors.StoreUnavailable` (HTTP 503 and ``Retry-After``), or
:class:`~videoai_ray.errors.DiskFull` when the disk is full, never with a driver's raw error.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from .errors import DiskFull, StoreUnavailable

#: SQLSTATE of PostgreSQL's ``disk_full``; SQLite's ``SQLITE_FULL`` result code
_PG_DISK_FULL = "53100"
_SQLITE_FULL = 13


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, the driver error SQLAlchemy wraps, and their causes."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [getattr(e, "orig", None), e.__cause__, e.__context__]


def disk_full(exc: BaseException) -> bool:
    """The write failed because the disk is full (ENOSPC; SQLite's "database or disk is full";
    PostgreSQL's ``disk_full``)."""
    for e in _chain(exc):
        if isinstance(e, DiskFull) or (isinstance(e, OSError) and e.errno == errno.ENOSPC):
            return True
        if getattr(e, "sqlite_errorcode", None) == _SQLITE_FULL or getattr(e, "sqlstate", None) == _PG_DISK_FULL:
            return True
        if "disk is full" in str(e) or "No space left on device" in str(e):
            return True
    return False


def unreachable(exc: BaseException) -> bool:
    """The store is down, busy, stalled or out of space (retry the same call later), not a bad value."""
    if isinstance(exc, OperationalError | DisconnectionError | PoolTimeout | StoreUnavailable | TimeoutError):
        return True
    return (isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)) or disk_full(exc)


def store_error(exc: BaseException, retry_after: float | None = None) -> StoreUnavailable | None:
    """The clear error for a store outage (``DiskFull`` or ``StoreUnavailable``); ``None`` when
    ``exc`` is not one."""
    if isinstance(exc, StoreUnavailable):
        return exc
    if not unreachable(exc):
        return None
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    if disk_full(exc):
        err: StoreUnavailable = DiskFull(f"the store's disk is full; nothing was written ({first})")
    else:
        err = StoreUnavailable(f"the task store cannot be reached now ({type(exc).__name__}: {first})")
    if retry_after is not None:
        err.retry_after = retry_after
    return err


@contextlib.contextmanager
def as_clear_error() -> Iterator[None]:
    """Re-raise a store outage met inside as ``StoreUnavailable``/``DiskFull`` (the SDK's edge);
    any other error as it is."""
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as e:
        err = store_error(e)
        if err is None:
            raise
        raise err from e


def describe(exc: BaseException) -> str:
    """A short reason for a log line or a health check: the error's class and first line."""
    text = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {text}"[:300]


__all__ = ["as_clear_error", "describe", "disk_full", "store_error", "unreachable"]
