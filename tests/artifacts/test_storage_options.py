"""The deployment's storage options open a bucket on the loopback S3 server, and never print secrets."""

from __future__ import annotations

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
