"""The deployment's storage options open a bucket on the loopback S3 server, and never print secrets."""

from __future__ import annotations

import pytest

from videoai_ray import storage
from videoai_ray.settings import Settings


def test_storage_options_reach_the_loopback_server(s3_server, s3_bucket):
    settings = Settings(storage_options=s3_server.storage_options)
    fs, path = storage.url_to_fs(f"s3://{s3_bucket}/a/b.txt", settings.storage_options)
    with fs.open(path, "wb") as fh:
        fh.write(b"stored")
    assert s3_server.fs().cat(f"{s3_bucket}/a/b.txt") == b"stored"


def test_secrets_are_redacted():
    shown = storage.redacted({"s3": {"key": "AKIA", "secret": "s3cr3t", "endpoint_url": "http://x"}})
    assert shown == {"s3": {"key": "***", "secret": "***", "endpoint_url": "http://x"}}


def test_protocols():
    assert storage.protocol_of("/data/x.wav") == "file"
    assert storage.protocol_of("simplecache::s3://b/k") == "s3"
    assert storage.options_for("s3a://b/k", {"s3": {"anon": True}}) == {"anon": True}


def test_the_artifact_store_in_a_bucket_opens_with_the_storage_options(s3_server, s3_bucket, tmp_path):
    from videoai_ray.artifacts import ArtifactStore

    settings = Settings(artifacts_url=f"s3://{s3_bucket}/videoai", storage_options=s3_server.storage_options)
    store = ArtifactStore.of(settings)
    assert not store.is_local and s3_server.secret not in repr(store)
    small = store.put("task_1", "a.txt", b"hello")
    assert small["url"] == f"s3://{s3_bucket}/videoai/task_1/a.txt" and small["size_bytes"] == 5
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 12_000)  # 3 MB: several blocks
    stored = store.put("task_1", "big.bin", big)
    fh, size = store.open_remote(stored["url"])
    with fh:
        blocks = list(iter(lambda: fh.read(1 << 20), b""))
    assert size == big.stat().st_size and len(blocks) == 3 and b"".join(blocks) == big.read_bytes()
    ref = store.put_upload("alice", big)
    assert store.read_bytes(store.upload_url(ref, "alice")) == big.read_bytes()
    assert s3_server.fs().cat(f"{s3_bucket}/videoai/task_1/a.txt") == b"hello"
    for outside in (f"s3://{s3_bucket}/other/a.txt", f"s3://{s3_bucket}/videoai-x/a.txt"):
        with pytest.raises(ValueError):
            store.read_bytes(outside)
        with pytest.raises(ValueError):
            store.open_remote(outside)
