"""``client.map`` from manifests in a bucket (Parquet, CSV) and from a Ray Dataset; results out with
``batch.to_parquet`` (into the bucket) and ``batch.to_dataset``.

The bucket is the tests' S3-compatible server on loopback (``tests/s3_loopback.py``), reached
through the deployment's storage options. The media the manifests name are objects of that same
server under an input root the deployment grants (``s3://<media bucket>/``), named by their
``s3://`` URL and read by the worker through s3fs; the driver never reads them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import videoai_ray as vai
from videoai_bench import SPEECH_CLIPS_DIR
from videoai_ray.errors import InvalidInput, InvalidRequest
from videoai_ray.providers.local import LocalWhisperProvider
from videoai_ray.providers.local.subtitles import LocalSubtitleProvider
from videoai_ray.providers.testing import FlakyProvider, InputReaderProvider, NoopProvider
from videoai_ray.scheduler import kill_scheduler


@pytest.fixture(scope="module")
def media_bucket(s3_server: Any) -> str:
    """The bucket the deployment grants as an input root (the manifests' media live there)."""
    return str(s3_server.make_bucket("media"))


@pytest.fixture(scope="module")
def data_client(ray_session: None, s3_server: Any, media_bucket: str,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[vai.Client]:
    settings = vai.Settings(home=tmp_path_factory.mktemp("manifest-home"), instance="t-manifests", prefetch=0,
                            max_retries=0, cache_enabled=False, input_roots=(f"s3://{media_bucket}/",),
                            storage_options=s3_server.storage_options)
    kill_scheduler(settings)
    providers = [NoopProvider(), InputReaderProvider(), LocalSubtitleProvider(),
                 FlakyProvider(99, InvalidInput("not acceptable"), name="perm", latency=0.01),
                 LocalWhisperProvider(settings)]
    client = vai.connect(settings=settings, providers=providers)
    yield client
    kill_scheduler(settings)


def put_media(s3_server: Any, bucket: str, key: str, data: bytes) -> str:
    """Store ``data`` under the granted root and return its ``s3://`` URL (each test's keys under
    its own ``s3_bucket`` name, so tests do not share objects)."""
    s3_server.fs().pipe(f"{bucket}/{key}", data)
    return f"s3://{bucket}/{key}"


def put_parquet(s3_server: Any, url: str, frame: pd.DataFrame, row_group_size: int | None = None) -> None:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf, row_group_size=row_group_size)
    s3_server.fs().pipe(url, buf.getvalue())


def read_parquet(s3_server: Any, url: str) -> pd.DataFrame:
    with s3_server.fs().open(url, "rb") as f:
        return pq.read_table(f).to_pandas()


def plain(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows as Python values, every kind of missing value as None."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def stored_tasks(client: vai.Client) -> int:
    return len(client.tasks(limit=100_000))


def test_parquet_manifest_in_a_bucket_to_parquet_in_the_bucket(data_client, s3_server, s3_bucket,
                                                               media_bucket) -> None:
    """Objects in the bucket -> a Parquet manifest there (three row groups) -> tasks that read
    each object -> results written back to the bucket as Parquet, read back row by row."""
    blobs = {f"clip-{i:02d}": bytes([i]) * (100 + i) for i in range(9)}
    urls = {k: put_media(s3_server, media_bucket, f"{s3_bucket}/{k}.bin", v) for k, v in blobs.items()}
    manifest = pd.DataFrame({"clip": list(blobs), "media": [urls[k] for k in blobs],
                             "note": ["unused"] * len(blobs)})
    put_parquet(s3_server, f"s3://{s3_bucket}/manifest.parquet", manifest, row_group_size=4)

    batch = data_client.map(f"s3://{s3_bucket}/manifest.parquet", task_type="audio_transcription",
                            columns={"audio_url": "media"}, provider="inputs", chunk_size=4)
    assert isinstance(batch, vai.Batch) and len(batch) == 9
    assert batch.wait(timeout=120) == {"completed": 9}
    assert batch.to_parquet(f"s3://{s3_bucket}/out/results.parquet") == 9

    out = read_parquet(s3_server, f"{s3_bucket}/out/results.parquet")
    assert list(out["row"]) == list(range(9)) and list(out["id"]) == list(batch.ids)
    assert set(out["status"]) == {"completed"} and set(out["provider"]) == {"inputs"}
    assert list(out["media"]) == list(manifest["media"])  # the input column, named as in the manifest
    reads = [json.loads(v)["audio_url"] for v in out["output.inputs"]]
    assert [r["size"] for r in reads] == [len(v) for v in blobs.values()]
    assert out["output.report_url"].notna().all() and out["output_other"].isna().all()
    assert out["error_code"].isna().all() and (out["cost"] == 0.0).all()


def test_csv_manifest_in_a_bucket_with_failures_and_a_dataset_of_the_same_rows(data_client, s3_server,
                                                                                s3_bucket) -> None:
    """A CSV manifest (read in chunks of rows); a row per task whatever its end, and
    ``to_dataset`` gives the same rows as ``to_parquet``."""
    rows = pd.DataFrame({"line": [f"Line number {i}. It is short." for i in range(7)],
                         "who": ["perm" if i == 2 else "local-subtitles" for i in range(7)],
                         "lang": ["en"] * 7})
    s3_server.fs().pipe(f"{s3_bucket}/lines.csv", rows.to_csv(index=False).encode())
    batch = data_client.map(f"s3://{s3_bucket}/lines.csv", task_type="subtitle_generation",
                            columns={"text": "line", "provider": "who"}, format="vtt")
    assert len(batch) == 7 and batch.expected == 7
    assert batch.wait(timeout=120) == {"completed": 6, "failed": 1}
    assert batch.to_parquet(f"s3://{s3_bucket}/subs.parquet", chunk_rows=3) == 7
    out = read_parquet(s3_server, f"{s3_bucket}/subs.parquet")
    assert list(out["line"]) == list(rows["line"]) and list(out["who"]) == list(rows["who"])
    assert out.loc[2, "status"] == "failed" and out.loc[2, "error_code"] == "invalid_input"
    assert pd.isna(out.loc[2, "output.content"]) and out.loc[2, "provider"] == "perm"
    assert out.loc[0, "output.content"].startswith("WEBVTT") and "Line number 0" in out.loc[0, "output.content"]
    assert out.loc[0, "output.cues"] >= 1 and out.loc[0, "output.format"] == "vtt"
    with pytest.raises(InvalidRequest) as info:  # a bucket that is not there: named, no secret shown
        batch.to_parquet(f"s3://missing-{s3_bucket}/subs.parquet")
    assert info.value.field == "url" and f"missing-{s3_bucket}" in info.value.message
    assert s3_server.secret not in str(info.value)

    ds = batch.to_dataset(chunk_rows=3)
    from_ds = ds.to_pandas().sort_values("row").reset_index(drop=True)
    assert ds.schema().names == list(out.columns)
    assert plain(from_ds) == plain(out)


def test_a_dataset_in_is_read_block_by_block(data_client) -> None:
    import ray.data

    ds = ray.data.range(25, override_num_blocks=5).map(lambda r: {"caption": f"caption {r['id']}", "n": r["id"]})
    batch = data_client.map(ds, task_type="subtitle_generation", columns={"text": "caption"}, provider="noop",
                            chunk_size=10)
    assert len(batch) == 25 and batch.wait(timeout=120) == {"completed": 25}
    out = batch.to_dataset().to_pandas().sort_values("row")
    assert sorted(out["caption"]) == sorted(f"caption {i}" for i in range(25))
    assert list(out["output.noop"]) == [True] * 25


def test_a_frame_map_writes_parquet_too(data_client, tmp_path) -> None:
    frame = pd.DataFrame({"caption": ["a", "b", "c"]}, index=["x", "y", "z"])
    view = data_client.map(frame, task_type="subtitle_generation", columns={"text": "caption"}, provider="noop")
    view.wait(timeout=60)
    assert view.to_parquet(str(tmp_path / "deep" / "out.parquet")) == 3  # the folder is made
    out = pq.read_table(tmp_path / "deep" / "out.parquet").to_pandas()
    assert list(out["caption"]) == ["a", "b", "c"] and list(out["id"]) == list(view.frame["task_id"])


@pytest.mark.parametrize("kind", ["parquet", "csv", "dataset"])
def test_a_manifest_without_a_mapped_column_is_refused_before_anything_is_stored(data_client, s3_server,
                                                                                  s3_bucket, kind) -> None:
    import ray.data

    frame = pd.DataFrame({"caption": ["a", "b"], "other": [1, 2]})
    if kind == "parquet":
        source: Any = f"s3://{s3_bucket}/m.parquet"
        put_parquet(s3_server, source, frame)
    elif kind == "csv":
        source = f"s3://{s3_bucket}/m.csv"
        s3_server.fs().pipe(source, frame.to_csv(index=False).encode())
    else:
        source = ray.data.from_pandas(frame)
    before, batches = stored_tasks(data_client), len(data_client.batches(limit=10_000))
    with pytest.raises(InvalidRequest) as info:
        data_client.map(source, task_type="subtitle_generation", columns={"text": "caption", "provider": "prov"})
    assert info.value.field == "columns" and "'prov'" in info.value.message
    assert "caption" in info.value.message  # the columns it has are named
    assert stored_tasks(data_client) == before and len(data_client.batches(limit=10_000)) == batches


def test_a_dataset_whose_later_block_lacks_the_column_stops_there(data_client) -> None:
    """Ray Data unifies the blocks' schemas (the column is there, empty), so the first row
    without a value is refused by name; the chunk before it was accepted and runs."""
    import ray.data

    good = pd.DataFrame({"caption": [f"c{i}" for i in range(4)]})
    ds = ray.data.from_pandas([good, pd.DataFrame({"other": ["x"] * 4})])
    with pytest.raises(InvalidRequest) as info:
        data_client.map(ds, task_type="subtitle_generation", columns={"text": "caption"}, provider="noop",
                        chunk_size=4)
    assert info.value.field in ("[4].input_data.text", "columns"), info.value.field
    assert info.value.details["accepted"] == 4  # the first block's chunk went out: it runs


def test_bad_sources_name_the_field_and_show_no_secret(data_client, s3_server, s3_bucket) -> None:
    before = stored_tasks(data_client)
    cases = [
        (f"s3://{s3_bucket}/missing.parquet", {}, "source", "does not exist"),
        (f"s3://no-such-bucket-{s3_bucket}/m.csv", {}, "source", "no-such-bucket"),
        (f"s3://{s3_bucket}/manifest.json", {}, "source_format", "source_format="),
        (f"s3://{s3_bucket}/m.parquet", {"source_format": "xlsx"}, "source_format", "parquet, csv"),
        (42, {}, "source", "not int"),
    ]
    s3_server.fs().pipe(f"{s3_bucket}/not-parquet.parquet", b"just text")
    cases.append((f"s3://{s3_bucket}/not-parquet.parquet", {}, "source", "is not a Parquet file"))
    for source, extra, field, words in cases:
        with pytest.raises(InvalidRequest) as info:
            data_client.map(source, task_type="subtitle_generation", columns={"text": "caption"}, **extra)
        assert info.value.field == field and words in info.value.message, (source, info.value.message)
        assert s3_server.secret not in str(info.value) and s3_server.secret not in repr(info.value.details)
    assert stored_tasks(data_client) == before


@pytest.mark.slow
def test_transcripts_of_clips_in_a_bucket_from_a_manifest(data_client, s3_server, s3_bucket,
                                                          media_bucket) -> None:
    """The notebook's path end to end with the real local-whisper (tiny.en): speech clips in the
    bucket, a Parquet manifest naming them, transcripts written back to the bucket."""
    refs = json.loads((SPEECH_CLIPS_DIR / "clips.json").read_text())
    urls = [put_media(s3_server, media_bucket, f"{s3_bucket}/{name}", (SPEECH_CLIPS_DIR / name).read_bytes())
            for name in refs]
    put_parquet(s3_server, f"s3://{s3_bucket}/clips.parquet", pd.DataFrame({"name": list(refs), "audio": urls}))
    batch = data_client.map(f"s3://{s3_bucket}/clips.parquet", task_type="audio_transcription",
                            columns={"audio_url": "audio"}, language="en", provider="local-whisper")
    assert batch.wait(timeout=600) == {"completed": len(refs)}
    batch.to_parquet(f"s3://{s3_bucket}/transcripts.parquet")
    out = read_parquet(s3_server, f"{s3_bucket}/transcripts.parquet")
    def words(text: str) -> set[str]:
        return {w.strip(".,!?").lower() for w in text.split()}

    for url, text in zip(out["audio"], out["output.text"], strict=True):
        expected = words(refs[url.rsplit("/", 1)[1]]["text"])
        assert len(expected & words(text)) >= len(expected) / 2, (url, text)
    assert out["output.segments"].map(lambda s: len(json.loads(s))).min() >= 1


def test_a_manifest_row_naming_a_forbidden_input_is_refused_by_row(data_client, s3_server, s3_bucket,
                                                                   media_bucket) -> None:
    """The manifest is read with the deployment's options, but each row's input still passes the
    one URL policy and the roots check: a local file, a bucket URL outside the granted root (the
    manifest's own bucket included), a ``..`` out of the root, an fsspec chain or a metadata
    address is refused naming the row, and nothing of its chunk is stored."""
    from videoai_ray.batching import BatchItemRefused

    good = put_media(s3_server, media_bucket, f"{s3_bucket}/ok.wav", b"RIFF")
    s3_server.fs().pipe(f"{s3_bucket}/clips/a.wav", b"RIFF")  # there, but not granted
    before = stored_tasks(data_client)
    for bad in ("file:///etc/passwd", f"s3://{s3_bucket}/clips/a.wav", f"s3://{media_bucket}/../{s3_bucket}/clips/a.wav",
                f"simplecache::s3://{media_bucket}/{s3_bucket}/ok.wav", "http://169.254.169.254/latest/meta-data/"):
        frame = pd.DataFrame({"audio": [good, bad]})
        put_parquet(s3_server, f"s3://{s3_bucket}/bad.parquet", frame)
        with pytest.raises(BatchItemRefused) as info:
            data_client.map(f"s3://{s3_bucket}/bad.parquet", task_type="audio_transcription",
                            columns={"audio_url": "audio"}, provider="inputs")
        assert info.value.field == "[1].input_data.audio_url", (bad, info.value.field)
        assert info.value.accepted == 0 and info.value.batch_id is None
    assert stored_tasks(data_client) == before
