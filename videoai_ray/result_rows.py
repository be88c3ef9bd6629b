"""A batch's results as Arrow rows, one per task: for ``batch.to_parquet(url)`` and
``batch.to_dataset()``.

The columns are fixed before the first row is written, so every chunk (and every block of a Ray
Dataset) has the same schema: ``row`` (the item's position in the batch), ``id``, ``status``,
``task_type``, ``provider``, ``cost``, ``cache_hit``, ``attempts``, ``error_code``,
``error_message``, ``created_at``, ``finished_at``; then the input columns (``client.map``: the
source's columns, holding the value each task was given; other batches: ``input``, the whole
input as JSON text); then ``output.<key>`` for each key of the first completed task's output (text,
number or true/false as such, lists and objects as JSON text), and ``output_other``: whatever an
output holds beyond those columns, as JSON text (null when nothing), so nothing is lost when
outputs differ.

Rows are read from the store a chunk of ids at a time: the writer holds one chunk, never the batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .errors import InvalidRequest
from .manifests import shown
from .models import Task
from .store.batches import DerivedIds

if TYPE_CHECKING:
    from .futures import Batch
    from .service import MediaService
    from .settings import Settings

#: tasks read from the store and turned into rows at a time
CHUNK_ROWS = 2000

_TIME = pa.timestamp("us", tz="UTC")
_FIXED: list[tuple[str, pa.DataType]] = [
    ("row", pa.int64()), ("id", pa.string()), ("status", pa.string()), ("task_type", pa.string()),
    ("provider", pa.string()), ("cost", pa.float64()), ("cache_hit", pa.bool_()), ("attempts", pa.int64()),
    ("error_code", pa.string()), ("error_message", pa.string()), ("created_at", _TIME), ("finished_at", _TIME),
]
_FIXED_NAMES = {name for name, _ in _FIXED}


def _kind(value: Any) -> pa.DataType:
    """The column type a value sets: true/false, a number (whole or not: ``3`` and ``3.5`` may share a
    column), else text (lists and objects as JSON text)."""
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int | float):
        return pa.float64()
    return pa.string()


def _convert(value: Any, kind: pa.DataType) -> tuple[bool, Any]:
    """``(fits, value)``: ``value`` as ``kind`` holds it; JSON text for lists and objects."""
    if value is None:
        return True, None
    if kind == pa.bool_():
        return isinstance(value, bool), value
    if kind == pa.float64():
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return ok, float(value) if ok else None
    if isinstance(value, str):
        return True, value
    return True, json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ResultLayout:
    """Which columns a batch's rows have: ``inputs`` is ``(column, request field, type)``
    (empty: the whole input in one ``input`` JSON column); ``outputs`` is ``(key, type)``."""

    inputs: tuple[tuple[str, str, pa.DataType], ...]
    outputs: tuple[tuple[str, pa.DataType], ...]

    @classmethod
    def infer(cls, sample: Task | None, columns: Mapping[str, str] | None) -> ResultLayout:
        """From one completed task of the batch (``None``: none has completed yet, so outputs go
        to ``output_other``) and ``client.map``'s ``columns`` (request field -> source column)."""
        inputs = []
        for field, column in (columns or {}).items():
            name = f"input.{column}" if column in _FIXED_NAMES or column.startswith("output") else column
            value = _input_value(sample, field) if sample is not None else None
            inputs.append((name, field, _kind(value) if value is not None else pa.string()))
        outputs = [(k, _kind(v)) for k, v in ((sample.output or {}) if sample is not None else {}).items()]
        return cls(tuple(inputs), tuple(outputs))

    @property
    def schema(self) -> pa.Schema:
        fields = [pa.field(n, t) for n, t in _FIXED]
        fields += [pa.field(n, t) for n, _, t in self.inputs] if self.inputs else [pa.field("input", pa.string())]
        fields += [pa.field(f"output.{k}", t) for k, t in self.outputs]
        fields.append(pa.field("output_other", pa.string()))
        return pa.schema(fields)

    def table(self, rows: Sequence[tuple[int, Task]]) -> pa.Table:
        """The rows of ``(position, task)`` as one Arrow table of this layout's schema."""
        cols: dict[str, list[Any]] = {name: [] for name in self.schema.names}
        for pos, t in rows:
            for name, value in (("row", pos), ("id", t.id), ("status", t.status.value), ("task_type", t.type.value),
                                ("provider", t.provider), ("cost", t.cost), ("cache_hit", t.cache_hit),
                                ("attempts", t.attempts), ("error_code", t.error.code if t.error else None),
                                ("error_message", t.error.message if t.error else None),
                                ("created_at", t.created_at), ("finished_at", t.finished_at)):
                cols[name].append(value)
            if self.inputs:
                for name, field, kind in self.inputs:
                    cols[name].append(_convert(_input_value(t, field), kind)[1])
            else:
                cols["input"].append(_convert(t.input, pa.string())[1])
            output = dict(t.output or {})
            for key, kind in self.outputs:
                fits, value = _convert(output.get(key), kind)
                cols[f"output.{key}"].append(value)
                if fits:
                    output.pop(key, None)
            cols["output_other"].append(_convert(output, pa.string())[1] if output else None)
        return pa.Table.from_pydict(cols, schema=self.schema)


def _input_value(task: Task, field: str) -> Any:
    """What ``task`` was given in ``field``. The options are kept outside ``input``: ``provider``
    is the one that ran the task (the pinned one, when pinned); the webhook secret is never shown."""
    if field in task.input:
        return task.input[field]
    if field == "provider":
        return task.provider
    if field == "priority":
        return task.priority.value
    if field in ("metadata", "webhook_url"):
        return getattr(task, field) or None
    return None


def layout_for(batch: Batch) -> ResultLayout:
    """The layout of ``batch``'s rows, from the first of its tasks to complete (one store read)."""
    service = batch.client.service
    cursor = 0
    while rows := service.batches.finished_since(batch.id, cursor):
        done = [r[0] for r in rows if r[1] == "completed"]
        if done:
            return ResultLayout.infer(service.tasks.get_many(done[:1])[0], batch.columns)
        cursor = rows[-1][2]
    return ResultLayout.infer(None, batch.columns)


def _spans(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


def tables(service: MediaService, ids: Sequence[str], layout: ResultLayout,
           chunk_rows: int = CHUNK_ROWS, first: int = 0) -> Iterator[pa.Table]:
    """The batch's rows, one Arrow table per ``chunk_rows`` tasks (tasks not stored are left out);
    ``first``: the batch position of ``ids[0]``."""
    for start, stop in _spans(len(ids), chunk_rows):
        chunk = ids[start:stop]
        position = {tid: first + start + i for i, tid in enumerate(chunk)}
        found = service.tasks.get_many(list(chunk))
        yield layout.table([(position[t.id], t) for t in found])


def write_parquet(batch: Batch, url: str, *, chunk_rows: int = CHUNK_ROWS) -> int:
    """Write ``batch``'s rows to ``url`` (any fsspec URL, opened with the deployment's storage
    options) as one Parquet file, a row group per chunk; how many rows."""
    import pyarrow.parquet as pq

    from .storage import url_to_fs

    layout = layout_for(batch)
    try:
        fs, path = url_to_fs(url, batch.client.settings.storage_options)
    except (ValueError, ImportError) as e:
        raise InvalidRequest(f"url: cannot write to {shown(url)}: {e}", field="url") from None
    parent = path.rpartition("/")[0]
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if parent and "file" in protocols:
        fs.makedirs(parent, exist_ok=True)
    written = 0
    try:
        with fs.open(path, "wb") as f, pq.ParquetWriter(f, layout.schema) as writer:
            for table in tables(batch.client.service, batch.ids, layout, chunk_rows):
                writer.write_table(table)
                written += table.num_rows
    except FileNotFoundError:
        raise InvalidRequest(f"url: {shown(url)}: no such bucket or folder", field="url") from None
    except PermissionError:
        raise InvalidRequest(f"url: {shown(url)} cannot be written (permission denied)", field="url") from None
    return written


def _read_chunk(settings: Settings, layout: ResultLayout, batch_id: str,
                spans: dict[str, Any]) -> pa.Table:
    """Inside a Ray task: the rows of one chunk of ``batch_id``'s tasks, read from the store."""
    from .service import MediaService

    service = MediaService(settings, None)
    try:
        start, stop = int(spans["start"][0]), int(spans["stop"][0])
        ids = str(spans["ids"][0])  # JSON text of the ids, or "" for a batch's derived ids
        chunk = json.loads(ids) if ids else DerivedIds(batch_id, stop)[start:stop]
        return next(tables(service, chunk, layout, chunk_rows=len(chunk) or 1, first=start),
                    layout.schema.empty_table())
    finally:
        service.close()


def to_dataset(batch: Batch, *, chunk_rows: int = CHUNK_ROWS) -> Any:
    """A ``ray.data.Dataset`` of ``batch``'s rows: a small dataset of chunk spans, each expanded by
    a Ray task that reads its tasks from the store (nothing passes through the driver)."""
    try:
        import ray.data
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("to_dataset needs Ray Data: pip install 'videoai-ray[data]'") from e

    layout = layout_for(batch)
    settings = batch.client.settings
    derived = isinstance(batch.ids, DerivedIds)
    spans = [{"start": a, "stop": b, "ids": "" if derived else json.dumps(list(batch.ids[a:b]))}
             for a, b in _spans(len(batch.ids), chunk_rows)]
    if not spans:
        return ray.data.from_arrow(layout.schema.empty_table())
    batch_id = batch.id

    def read(span: dict[str, Any]) -> pa.Table:
        return _read_chunk(settings, layout, batch_id, span)

    return ray.data.from_items(spans).map_batches(read, batch_size=1, batch_format="numpy",
                                                  zero_copy_batch=False)


__all__ = ["CHUNK_ROWS", "ResultLayout", "layout_for", "tables", "to_dataset", "write_parquet"]
