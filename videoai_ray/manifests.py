"""Where ``client.map`` reads its rows: a pandas DataFrame, a Parquet or CSV manifest at any
fsspec URL (``s3://corpus/manifest.parquet``, a local path), or a ``ray.data.Dataset``.

Every source is read a slice of rows at a time, never whole: a Parquet file by its record batches
(row group by row group), a CSV file in chunks, a Dataset block by block (``iter_batches``). Only
the columns that ``columns=`` names are read. The columns are checked before any task is stored:
from a Parquet file's schema, a CSV file's header, a Dataset's first batch; a column that is not
there raises ``InvalidRequest`` naming it. A URL is opened with the deployment's storage options
(``VIDEOAI_STORAGE_OPTIONS``), in the driver: the manifest is the list of inputs, not the media.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from .errors import InvalidRequest

if TYPE_CHECKING:
    from .settings import Settings

#: rows read from a manifest at a time
MANIFEST_ROWS = 10_000
FORMATS = ("parquet", "csv")
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".parq": "parquet", ".csv": "csv", ".tsv": "csv"}
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")


@dataclass
class Manifest:
    """An opened source: its column names, its row count when known, and its rows as frames."""

    name: str
    columns: list[str]
    rows: int | None
    frames: Iterator[pd.DataFrame]
    _close: list[Any] = field(default_factory=list)

    def check(self, needed: list[str]) -> None:
        """``InvalidRequest`` naming the first column of ``needed`` the source does not have."""
        missing = [c for c in needed if c not in self.columns]
        if missing:
            have = ", ".join(map(str, self.columns[:20])) + (", ..." if len(self.columns) > 20 else "")
            raise InvalidRequest(f"columns: {', '.join(map(repr, missing))} not in {self.name} "
                                 f"(its columns: {have or 'none'})", field="columns", missing=missing)

    def close(self) -> None:
        for obj in self._close:
            with contextlib.suppress(Exception):
                obj.close()


def is_dataset(source: Any) -> bool:
    """Whether ``source`` is a ``ray.data.Dataset`` (without importing Ray Data for a frame)."""
    cls = type(source)
    return cls.__name__ in ("Dataset", "MaterializedDataset") and cls.__module__.startswith("ray.data")


def open_manifest(source: Any, needed: list[str], settings: Settings, *, fmt: str | None = None,
                  rows: int = MANIFEST_ROWS) -> Manifest:
    """Open ``source`` for reading the ``needed`` columns ``rows`` at a time."""
    if isinstance(source, pd.DataFrame):
        return _frame(source, rows)
    if is_dataset(source):
        return _dataset(source, needed, rows)
    if isinstance(source, str | os.PathLike):
        url = os.fspath(source)
        kind = fmt or _format_of(url)
        if kind == "parquet":
            return _parquet(url, needed, settings, rows)
        return _csv(url, needed, settings, rows)
    raise InvalidRequest("source: a pandas DataFrame, a Parquet or CSV URL, or a ray.data.Dataset, not "
                         f"{type(source).__name__}", field="source")


def _format_of(url: str) -> str:
    path = url.split("?", 1)[0].lower()
    for comp in _COMPRESSIONS:
        path = path.removesuffix(comp)
    for suffix, kind in _SUFFIXES.items():
        if path.endswith(suffix):
            return kind
    raise InvalidRequest(f"source: cannot tell the format of {shown(url)} from its name: give "
                         f"source_format= ({' or '.join(FORMATS)})", field="source_format")


def shown(url: str) -> str:
    """``url`` without a query string or user part (where a signed URL keeps its secrets)."""
    head, sep, rest = url.partition("://")
    if not sep:
        return url
    return f"{head}://{rest.split('?', 1)[0].rsplit('@', 1)[-1]}"


def _frame(frame: pd.DataFrame, rows: int) -> Manifest:
    parts = (frame.iloc[i:i + rows] for i in range(0, len(frame), rows))
    return Manifest("the DataFrame", list(frame.columns), len(frame), parts)


def _open(url: str, settings: Settings, compression: str | None = None) -> Any:
    import fsspec

    from .storage import options_for

    try:
        f = fsspec.open(url, "rb", compression=compression, **options_for(url, settings.storage_options)).open()
    except FileNotFoundError:
        raise InvalidRequest(f"source: {shown(url)} does not exist", field="source") from None
    except PermissionError:
        raise InvalidRequest(f"source: {shown(url)} cannot be read (permission denied)", field="source") from None
    except (ValueError, ImportError) as e:
        raise InvalidRequest(f"source: {shown(url)} cannot be opened: {type(e).__name__}", field="source") from None
    except OSError as e:  # a bucket that is not there, a store that does not answer
        raise InvalidRequest(f"source: {shown(url)} cannot be opened: {e.strerror or type(e).__name__}",
                             field="source") from None
    return f


def _parquet(url: str, needed: list[str], settings: Settings, rows: int) -> Manifest:
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("reading Parquet needs pyarrow: pip install 'videoai-ray[parquet]'") from e
    f = _open(url, settings)
    try:
        pf = pq.ParquetFile(f)
    except Exception:  # pyarrow's ArrowInvalid and friends: not a Parquet file
        f.close()
        raise InvalidRequest(f"source: {shown(url)} is not a Parquet file", field="source") from None
    columns = list(pf.schema_arrow.names)

    def frames() -> Iterator[pd.DataFrame]:
        wanted = [c for c in needed if c in columns]
        for record_batch in pf.iter_batches(batch_size=rows, columns=wanted):
            yield record_batch.to_pandas()

    return Manifest(shown(url), columns, pf.metadata.num_rows, frames(), [pf, f])


def _csv(url: str, needed: list[str], settings: Settings, rows: int) -> Manifest:
    sep = "\t" if url.split("?", 1)[0].lower().removesuffix(".gz").endswith(".tsv") else ","
    bad = (ValueError, UnicodeDecodeError, pd.errors.ParserError)
    with _open(url, settings, compression="infer") as f:  # the header alone, for the check
        try:
            header = [str(c) for c in pd.read_csv(f, nrows=0, sep=sep).columns]
        except pd.errors.EmptyDataError:
            return Manifest(shown(url), [], 0, iter(()))
        except bad as e:
            raise InvalidRequest(f"source: {shown(url)} is not a readable CSV file ({type(e).__name__})",
                                 field="source") from None
    f = _open(url, settings, compression="infer")
    wanted = set(needed)

    def frames() -> Iterator[pd.DataFrame]:
        try:
            yield from pd.read_csv(f, chunksize=rows, sep=sep, usecols=lambda c: c in wanted)
        except bad as e:
            raise InvalidRequest(f"source: {shown(url)}: a row cannot be read ({type(e).__name__}: {e})",
                                 field="source") from None

    return Manifest(shown(url), header, None, frames(), [f])


def _dataset(ds: Any, needed: list[str], rows: int) -> Manifest:
    """A Dataset block by block; its columns from the first batch (or its schema when empty)."""
    batches = iter(ds.iter_batches(batch_size=rows, batch_format="pandas"))
    first = next(batches, None)
    if first is None:
        schema = ds.schema()
        columns = list(schema.names) if schema is not None else []
        return Manifest("the Dataset", columns, 0, iter(()))

    def frames() -> Iterator[pd.DataFrame]:
        for i, frame in enumerate(itertools.chain([first], batches)):
            missing = [c for c in needed if c not in frame.columns]
            if missing:  # a later block without a column the first had
                raise InvalidRequest(f"columns: {', '.join(map(repr, missing))} not in block {i} of the Dataset",
                                     field="columns", missing=missing)
            yield frame

    return Manifest("the Dataset", list(first.columns), None, frames())


__all__ = ["FORMATS", "MANIFEST_ROWS", "Manifest", "is_dataset", "open_manifest", "shown"]
