"""Getting HTTP submissions to the core without blocking the event loop.

``SubmitBatcher`` coalesces the submissions of concurrent requests into one
``MediaService.submit_async`` call (one Scheduler call and one SQL transaction for all of them):
while a call is in flight, new requests queue up and go together in the next one. Under load
that amortises the per-call cost across many requests; an idle server still sends each request
at once. It is transport only: what ``submit`` does with the items is the core's business.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from ..protocol import Submission, SubmitAnswer

if TYPE_CHECKING:
    from ..service import MediaService

log = logging.getLogger("videoai.api")


#: one caller's submissions and the future of their answers
_Entry = tuple[list[Submission], asyncio.Future[list[SubmitAnswer]]]


class SubmitBatcher:
    """Coalesce concurrent ``submit`` calls into chunks of at most ``max_items``."""

    def __init__(self, service: MediaService, *, max_items: int = 500, max_in_flight: int = 1) -> None:
        self.service = service
        self.max_items = max_items
        self.max_in_flight = max_in_flight
        self._queue: list[_Entry] = []
        self._in_flight = 0
        #: how many calls and items went out (benchmarks and ``/health`` read these)
        self.calls = 0
        self.items = 0

    async def submit(self, prepared: list[Submission]) -> list[SubmitAnswer]:
        """Per item ``{"id", "status", "existing", "cache_hit", "task"}`` (the Scheduler's answer)."""
        fut: asyncio.Future[list[SubmitAnswer]] = asyncio.get_running_loop().create_future()
        self._queue.append((prepared, fut))
        self._pump()
        return await fut

    def _pump(self) -> None:
        while self._queue and self._in_flight < self.max_in_flight:
            chunk: list[_Entry] = []
            size = 0
            while self._queue and (not chunk or size + len(self._queue[0][0]) <= self.max_items):
                entry = self._queue.pop(0)
                chunk.append(entry)
                size += len(entry[0])
            self._in_flight += 1
            asyncio.get_running_loop().create_task(self._send(chunk))

    async def _call(self, items: list[Submission]) -> list[SubmitAnswer]:
        self.calls += 1
        self.items += len(items)
        return await self.service.submit_async(items)

    async def _send(self, chunk: list[_Entry]) -> None:
        try:
            items = [p for prepared, _ in chunk for p in prepared]
            try:
                answers = await self._call(items)
            except Exception as e:
                if len(chunk) == 1:
                    _settle(chunk[0][1], error=e)
                    return
                # one bad request must not fail its neighbours: send each on its own
                for prepared, fut in chunk:
                    try:
                        _settle(fut, await self._call(prepared))
                    except Exception as e1:
                        _settle(fut, error=e1)
                return
            start = 0
            for prepared, fut in chunk:
                _settle(fut, answers[start:start + len(prepared)])
                start += len(prepared)
        finally:
            self._in_flight -= 1
            self._pump()


def _settle(fut: asyncio.Future[list[SubmitAnswer]], result: list[SubmitAnswer] | None = None,
            error: BaseException | None = None) -> None:
    if fut.done():  # the request went away (client disconnected)
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result or [])

