"""Provider code's ``SystemExit`` and ``KeyboardInterrupt`` stay with its attempt.

asyncio treats these two as "stop the program": raised inside a task, they are set on the task
*and* re-raised out of the event loop, which stops it. In a worker actor that loop runs every
attempt of the provider, so one ``sys.exit()`` deep in a provider's library would leave its
other attempts hanging until their timeouts, blamed on a blocked loop. ``contained`` awaits
provider code and turns either into a ``RetryableError`` that names it, raised from inside the
same task, so it fails that attempt like any unexpected exception and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar

from .errors import RetryableError

T = TypeVar("T")

log = logging.getLogger("videoai.executor")


def provider_exit(exc: SystemExit | KeyboardInterrupt) -> RetryableError:
    """The error an attempt fails with when its provider raised ``exc``."""
    detail = str(exc) if str(exc) else "no message"
    return RetryableError(f"provider raised {type(exc).__name__}: {detail}"[:2000])


async def contained(call: Awaitable[T]) -> T:
    """``await call`` (provider code), with ``SystemExit``/``KeyboardInterrupt`` turned into
    ``provider_exit``; await this inside the task that runs the provider, never around it."""
    try:
        return await call
    except (SystemExit, KeyboardInterrupt) as exc:
        log.warning("provider code raised %s; failing its attempt (the worker goes on)", type(exc).__name__,
                    exc_info=exc)
        raise provider_exit(exc) from exc


__all__ = ["contained", "provider_exit"]
