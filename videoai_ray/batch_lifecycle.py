"""A batch's row from open to sealed or discarded: the one lifecycle of the SDK's batches
(``batching.send_batch``: ``client.batch``, ``client.map``, ``client.resume_batch``) and of
``POST /batch`` (``api/routes_submit.py``). They send differently (the SDK chunk by chunk, two in
flight; the API all at once through its ``SubmitBatcher``), but the row's rules are these:

- **open**: the row, with its budget and its size when known, is written before the first task
  is sent, so no task of the batch is dispatched outside its budget; once (a resumed batch's row
  exists already);
- **seal**: every item was sent (how many, for a batch whose size was unknown at open); an empty
  batch is opened first, so it is listed like any other;
- **end** (all-or-nothing sends): a batch whose every task replays an earlier request's holds
  nothing (those tasks belong to the first request's batch) and is discarded, else sealed;
- **discard**: a send that failed with nothing of the batch stored leaves no row behind.

The row's store calls block: async code runs them in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .protocol import SubmitAnswer
    from .service import MediaService


class BatchLifecycle:
    """The row of batch ``batch_id`` of ``user_id`` (``opened``: it exists already)."""

    def __init__(self, service: MediaService, batch_id: str, user_id: str, budget_usd: float | None = None, *,
                 opened: bool = False) -> None:
        self.service = service
        self.batch_id = batch_id
        self.user_id = user_id
        self.budget_usd = budget_usd
        self.opened = opened
        #: the size given at open (``None``: unknown until sealed)
        self.expected: int | None = None

    def open(self, expected: int | None) -> None:
        """Write the row before the batch's first task is sent (once)."""
        if self.opened:
            return
        self.service.batches.open(self.batch_id, self.user_id, expected, self.budget_usd)
        self.opened, self.expected = True, expected

    def seal(self, sent: int | None = None) -> None:
        """Every item was sent (``sent`` of them); an empty batch is opened first."""
        if not self.opened:
            self.open(0)
        self.service.batches.seal(self.batch_id, sent)

    def discard(self) -> None:
        """Forget the row: none of the batch's tasks was stored (or they belong to another batch)."""
        self.service.batches.discard(self.batch_id)

    def end(self, answers: Sequence[SubmitAnswer]) -> bool:
        """After an all-or-nothing send: discard a batch answered entirely by replays, else seal
        it. Whether it was a replay."""
        replayed = all(a.get("existing") for a in answers)
        if replayed:
            self.discard()
        else:
            self.seal(None if self.expected is not None else len(answers))
        return replayed


__all__ = ["BatchLifecycle"]
