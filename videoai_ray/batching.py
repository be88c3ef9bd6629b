"""Sending a batch from the SDK: any iterable of items (a list, a generator, a DataFrame, the rows
of a Parquet file read in chunks) goes out chunk by chunk, so the driver holds one or two chunks
of requests at a time, never the whole batch.

Validation is per chunk: each chunk is validated in full before any of it is sent. A bad item
stops the batch there: nothing of its chunk was sent, the chunks before it were (they run), and
the error names the item's index and how many items were accepted (``BatchItemRefused``). When
the bad item is in the first chunk, nothing at all is stored, as for a single request."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .batch_lifecycle import BatchLifecycle
from .errors import InvalidRequest
from .models import BatchItem

if TYPE_CHECKING:
    from .client import Client
    from .protocol import Submission
    from .service import MediaService

#: rows of a DataFrame turned into request dicts at a time
_FRAME_SLICE = 10_000


class BatchItemRefused(InvalidRequest):
    """A batch item failed validation. ``accepted`` items (whole chunks before the bad item's)
    were sent and run; none of the bad item's chunk was sent. ``batch_id`` names the batch
    (``None`` when nothing was stored)."""

    def __init__(self, cause: InvalidRequest, batch_id: str | None, accepted: int) -> None:
        stored = (f"the {accepted} items before its chunk were accepted into batch {batch_id}; "
                  "nothing of its chunk was sent") if accepted else "nothing of the batch was stored"
        super().__init__(f"{cause.message} ({stored})", field=cause.field,
                         errors=cause.details.get("errors"), batch_id=batch_id if accepted else None,
                         accepted=accepted)
        self.batch_id = batch_id if accepted else None
        self.accepted = accepted


def iter_items(items: Iterable[Mapping[str, Any] | BatchItem] | pd.DataFrame) -> Iterator[Any]:
    """The items one at a time; a DataFrame's rows (columns ``task_type``, ``input_data``,
    optionally ``priority``) are turned into dicts a slice at a time."""
    if isinstance(items, pd.DataFrame):
        for start in range(0, len(items), _FRAME_SLICE):
            for rec in items.iloc[start:start + _FRAME_SLICE].to_dict("records"):
                yield {k: v for k, v in rec.items() if not _missing(v)}
        return
    yield from items


def parquet_rows(path: str | Path, batch_size: int = 10_000,
                 columns: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """The rows of a Parquet file as dicts, read ``batch_size`` rows at a time (needs ``pyarrow``:
    ``pip install 'videoai-ray[parquet]'``)."""
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("reading Parquet needs pyarrow: pip install 'videoai-ray[parquet]'") from e
    with pq.ParquetFile(path) as f:
        for record_batch in f.iter_batches(batch_size=batch_size, columns=columns):
            yield from record_batch.to_pylist()


def send_batch(client: Client, batch_id: str, items: Iterable[Any], *, chunk_size: int | None = None,
               budget_usd: float | None = None, skip: set[str] | None = None,
               expected: int | None = None) -> int:
    """Validate and send ``items`` chunk by chunk as batch ``batch_id``; returns how many were
    sent. The batch row is written before the first chunk goes out (``expected`` is the item
    count when the input knows its length, else NULL until it is sealed). ``skip``: ids already
    stored (a resumed batch: its row exists, and ids may be stored already)."""
    service = client.service
    size = chunk_size or client.settings.submit_chunk
    resuming = skip is not None
    if isinstance(items, Sized):
        if resuming and expected is not None and len(items) != expected:
            raise InvalidRequest(f"items: batch {batch_id} holds {expected} items, {len(items)} were given",
                                 field="items")
        expected = len(items)
    prepared = service.prepare_batch(iter_items(items), user_id=client.user_id, batch_id=batch_id)
    pipe = _ChunkPipe(service, known_ids=resuming)
    life = BatchLifecycle(service, batch_id, client.user_id, budget_usd, opened=resuming)
    sent = 0
    while True:
        try:
            chunk = list(itertools.islice(prepared, size))
        except InvalidRequest as e:
            pipe.drain()
            raise BatchItemRefused(e, batch_id, sent) from None
        if not chunk:
            break
        if resuming and expected is not None and sent + len(chunk) > expected:
            pipe.drain()
            raise InvalidRequest(f"items: batch {batch_id} holds {expected} items, more were given", field="items")
        life.open(expected)
        sent += len(chunk)
        if skip:
            chunk = [p for p in chunk if p["id"] not in skip]
        if chunk:
            pipe.send(chunk)
    pipe.drain()
    if resuming and expected is not None and sent != expected:
        raise InvalidRequest(f"items: batch {batch_id} holds {expected} items, {sent} were given", field="items")
    life.seal(sent)
    return sent


class _ChunkPipe:
    """Chunks to the core, two in flight at a time (one SQL transaction each)."""

    def __init__(self, service: MediaService, known_ids: bool) -> None:
        self.service = service
        self.known_ids = known_ids
        self.in_flight: list[Any] = []

    def send(self, chunk: list[Submission]) -> None:
        self.in_flight.append(self.service.send(chunk, known_ids=self.known_ids))
        if len(self.in_flight) >= 2:
            self._wait_one()

    def drain(self) -> None:
        while self.in_flight:
            self._wait_one()

    def _wait_one(self) -> None:
        self.service.collect(self.in_flight.pop(0))


def map_items(frames: pd.DataFrame | Iterable[pd.DataFrame], task_type: str, columns: Mapping[str, str],
              body: Mapping[str, Any], priority: str | None) -> Iterator[dict[str, Any]]:
    """One batch item per row of a frame, or of each frame in turn (a manifest read in slices):
    ``columns`` maps request fields to the frame's columns, ``body`` adds the same fields to
    every row. A missing value (None, NaN) leaves the field out."""
    if isinstance(frames, pd.DataFrame):
        unknown = [c for c in columns.values() if c not in frames.columns]
        if unknown:
            raise InvalidRequest(f"columns: not in the DataFrame: {', '.join(map(str, unknown))}", field="columns")
        whole = frames
        frames = (whole.iloc[start:start + _FRAME_SLICE] for start in range(0, len(whole), _FRAME_SLICE))
    fields = list(columns)
    for frame in frames:
        part = frame[list(columns.values())]
        for values in part.itertuples(index=False, name=None):
            data = {**body, **{f: _native(v) for f, v in zip(fields, values, strict=True) if not _missing(v)}}
            item: dict[str, Any] = {"task_type": task_type, "input_data": data}
            if priority is not None:
                item["priority"] = priority
            yield item


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists, dicts: never "missing"
        return False


def _native(value: Any) -> Any:
    """numpy scalars as Python values (pydantic takes ``int``, not ``numpy.int64``)."""
    return value.item() if isinstance(value, np.generic) else value


__all__ = ["BatchItemRefused", "iter_items", "map_items", "parquet_rows", "send_batch"]
