"""Trusted input roots without Ray: the canonical check (chains, globs, escapes, ``..``, symlinks
that leave a local root), the settings that grant and narrow roots, an object's identity (no byte
read), and the worker's read of an input in place or streamed from the loopback S3 server."""

from __future__ import annotations

import os
from pathlib import Path

import fsspec
import pytest
from fsspec.spec import AbstractFileSystem

from videoai_ray import inputs
from videoai_ray.cache import cache_key
from videoai_ray.errors import InputNotFound, InvalidInput
from videoai_ray.models import AudioTranscriptionRequest
from videoai_ray.models.requests import HTTP_CONTEXT, ROOTS_CONTEXT
from videoai_ray.settings import Settings

ROOTS = ("s3://corpus/2026/", "file:///mnt/shared/media/")


@pytest.mark.parametrize("url", [
    "s3://corpus/2026/../secret/a.wav",
    "s3://corpus/2026/./a.wav",
    "s3://corpus/2026//a.wav",
    "s3://corpus/2026/%2e%2e/x.wav",
    "s3://corpus/2026%2F..%2Fsecret/a.wav",
    "s3://corpus/2026/a\\..\\b.wav",
    "simplecache::s3://corpus/2026/a.wav",
    "zip://a.wav::s3://corpus/2026/x.zip",
    "s3://corpus/2026/*.wav",
    "s3://corpus/2026/a?.wav",
    "s3://corpus/2026/[ab].wav",
    "s3://corpus/2026/{a,b}.wav",
    "s3://corpus/2026/a.wav#frag",
    "s3://key:secret@corpus/2026/a.wav",
    "s3://corpus/2026/a\n.wav",
    "relative/a.wav",
    "file://host/mnt/shared/media/a.wav",
    "/mnt/shared/media/../../etc/passwd",
    "s3://corpus/2027/a.wav",            # outside every root
    "s3://corpus/2026",                 # the root itself is not an object under it
    "s3://corpusX/2026/a.wav",
    "/mnt/shared/mediaX/a.wav",
    "gs://corpus/2026/a.wav",           # same path, another store
])
def test_refused(url: str) -> None:
    with pytest.raises(inputs.InputRefused):
        inputs.check_granted(url, ROOTS)


@pytest.mark.parametrize(("url", "expected"), [
    ("s3://corpus/2026/a.wav", "s3://corpus/2026/a.wav"),
    ("S3A://corpus/2026/deep/b.flac", "s3://corpus/2026/deep/b.flac"),
    ("/mnt/shared/media/x.png", "file:///mnt/shared/media/x.png"),
    ("file:///mnt/shared/media/sub/x.png", "file:///mnt/shared/media/sub/x.png"),
])
def test_granted_in_canonical_form(url: str, expected: str) -> None:
    assert inputs.check_granted(url, ROOTS) == expected


def test_a_symlink_that_leaves_a_local_root_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "media", tmp_path / "private"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.wav").write_bytes(b"secret")
    (root / "inside.wav").write_bytes(b"ok")
    (root / "escape.wav").symlink_to(outside / "secret.wav")
    (root / "dir").symlink_to(outside)
    (root / "alias.wav").symlink_to(root / "inside.wav")
    roots = (inputs.canonical_root(str(root)),)
    for name in ("escape.wav", "dir/secret.wav"):
        with pytest.raises(inputs.InputRefused, match="symlinks"):
            inputs.check_granted(f"{root}/{name}", roots)
    assert inputs.check_granted(f"{root}/alias.wav", roots) == f"file://{root}/inside.wav"


def test_settings_grant_and_narrow_roots() -> None:
    s = Settings(input_roots="s3://corpus/2026, /mnt/shared/media",
                 input_roots_by_user={"team-a": ["s3://corpus/2026/a"], "none": []},
                 input_roots_http_by_user={"web": ["s3://corpus/2026/public/"]})
    assert s.input_roots == ("s3://corpus/2026/", "file:///mnt/shared/media/")
    assert inputs.granted_roots(s, "anyone", http=False) == s.input_roots
    assert inputs.granted_roots(s, "team-a", http=False) == ("s3://corpus/2026/a/",)
    assert inputs.granted_roots(s, "none", http=False) == ()
    assert inputs.granted_roots(s, "anyone", http=True) == ()  # over HTTP: only what is granted there
    assert inputs.granted_roots(s, "web", http=True) == ("s3://corpus/2026/public/",)
    assert Settings(input_roots='["s3://a/b/"]').input_roots == ("s3://a/b/",)
    with pytest.raises(ValueError, match="under no VIDEOAI_INPUT_ROOTS"):
        Settings(input_roots="s3://corpus/2026/", input_roots_by_user={"x": ["s3://corpus/"]})  # widening
    with pytest.raises(ValueError, match="under no VIDEOAI_INPUT_ROOTS"):
        Settings(input_roots_http_by_user={"x": ["s3://corpus/"]})
    with pytest.raises(ValueError, match="chains"):
        Settings(input_roots="simplecache::s3://corpus/")


def test_secrets_stay_out_of_the_settings_repr() -> None:
    s = Settings(storage_options={"s3": {"secret": "CANARY-do-not-print"}})
    assert "CANARY" not in repr(s) and "CANARY" not in str(s)


def test_the_model_admits_root_urls_only_where_roots_apply() -> None:
    body = {"audio_url": "s3://corpus/2026/a.wav"}
    for context in (None, HTTP_CONTEXT):
        with pytest.raises(ValueError, match="absolute http"):
            AudioTranscriptionRequest.model_validate(body, context=context)
    assert AudioTranscriptionRequest.model_validate(body, context=ROOTS_CONTEXT).audio_url == body["audio_url"]
    with pytest.raises(ValueError, match="chains"):
        AudioTranscriptionRequest.model_validate({"audio_url": "simplecache::s3://corpus/2026/a.wav"},
                                                 context=ROOTS_CONTEXT)


def test_the_cache_key_holds_the_objects_identity() -> None:
    body = {"audio_url": "s3://corpus/2026/a.wav"}
    one = cache_key("audio_transcription", body, "user:u", {"audio_url": {"etag": "1", "size": 3}})
    two = cache_key("audio_transcription", body, "user:u", {"audio_url": {"etag": "2", "size": 3}})
    assert one != two != cache_key("audio_transcription", body, "user:u")
    assert cache_key("audio_transcription", body, "user:u") == cache_key("audio_transcription", body, "user:u", {})


def test_local_identity_and_read_in_place(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    clip = media / "a.wav"
    clip.write_bytes(b"RIFF0000")
    s = Settings(home=tmp_path / "home", input_roots=str(media))
    url = inputs.check_granted(str(clip), s.input_roots)
    first = inputs.identity(url, s)
    assert first == {"mtime_ns": clip.stat().st_mtime_ns, "size": 8}
    os.utime(clip, ns=(1, 1))
    assert inputs.identity(url, s) != first
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    assert inputs.open_root_input(str(clip), s, "u", scratch, 1024) == clip  # no copy at all
    assert not any(scratch.iterdir())
    with pytest.raises(InputNotFound):
        inputs.open_root_input(str(media / "gone.wav"), s, "u", scratch, 1024)
    with pytest.raises(inputs.InputMissing):
        inputs.identity(f"file://{media}/gone.wav", s)
    with pytest.raises(InvalidInput, match="byte limit"):
        inputs.open_root_input(str(clip), s, "u", scratch, 4)
    with pytest.raises(InvalidInput, match="not under"):
        inputs.open_root_input(str(tmp_path / "home" / "x.wav"), s, "u", scratch, 1024)
    with pytest.raises(InvalidInput, match="not under"):
        inputs.open_root_input(str(clip), s, "", scratch, 1024)  # an attempt that names no user


def test_s3_identity_and_streamed_read(s3_server, s3_bucket, tmp_path: Path) -> None:
    fs = s3_server.fs()
    fs.pipe(f"{s3_bucket}/clips/a.wav", b"first version")
    s = Settings(home=tmp_path / "home", storage_options=s3_server.storage_options,
                 input_roots=f"s3://{s3_bucket}/clips/", input_roots_by_user={"narrow": [f"s3://{s3_bucket}/clips/x/"]})
    url = f"s3://{s3_bucket}/clips/a.wav"
    first = inputs.identity(url, s)
    assert first["size"] == 13 and first.get("etag")
    fs.pipe(f"{s3_bucket}/clips/a.wav", b"second version!")
    assert inputs.identity(url, s)["etag"] != first["etag"]
    with pytest.raises(inputs.InputMissing):
        inputs.identity(f"s3://{s3_bucket}/clips/none.wav", s)
    with pytest.raises(inputs.InputMissing):
        inputs.identity("s3://no-such-bucket-videoai/clips/a.wav", s)
    fs.mkdir(f"{s3_bucket}/clips/folder/x")
    fs.pipe(f"{s3_bucket}/clips/folder/x/y.wav", b"y")
    with pytest.raises(inputs.InputRefused, match="not a file"):
        inputs.identity(f"s3://{s3_bucket}/clips/folder", s)
    path = inputs.open_root_input(url, s, "u", tmp_path, 1024)
    assert path.parent == tmp_path and path.read_bytes() == b"second version!"
    with pytest.raises(InputNotFound):
        inputs.open_root_input(f"s3://{s3_bucket}/clips/none.wav", s, "u", tmp_path, 1024)
    with pytest.raises(InvalidInput, match="not under"):
        inputs.open_root_input(url, s, "narrow", tmp_path, 1024)  # narrowed to clips/x/
    with pytest.raises(InvalidInput, match="byte limit"):
        inputs.open_root_input(url, s, "u", tmp_path, 4)


class DeniedFS(AbstractFileSystem):
    """A store that answers every read with ``PermissionError``, as s3fs does for S3's 403
    ``AccessDenied`` (moto's server does not enforce bucket permissions)."""

    protocol = "videoai-denied"

    def info(self, path: str, **kwargs: object) -> dict[str, object]:
        raise PermissionError(f"AccessDenied: {path}")

    def _open(self, path: str, mode: str = "rb", **kwargs: object) -> object:
        raise PermissionError(f"AccessDenied: {path}")


def test_a_bucket_the_credentials_cannot_read_is_refused_without_retries(tmp_path: Path) -> None:
    fsspec.register_implementation(DeniedFS.protocol, DeniedFS, clobber=True)
    s = Settings(home=tmp_path, input_roots=f"{DeniedFS.protocol}://locked/")
    url = f"{DeniedFS.protocol}://locked/a.wav"
    with pytest.raises(inputs.InputRefused, match="cannot be read with the deployment's storage credentials"):
        inputs.identity(inputs.check_granted(url, s.input_roots), s)
    with pytest.raises(InvalidInput, match="credentials") as info:
        inputs.open_root_input(url, s, "u", tmp_path, 1024)
    assert not info.value.retryable and "AccessDenied" not in info.value.message


def test_the_worker_reads_only_the_version_the_task_was_submitted_with(s3_server, s3_bucket, tmp_path: Path) -> None:
    s = Settings(home=tmp_path / "home", storage_options=s3_server.storage_options,
                 input_roots=f"s3://{s3_bucket}/clips/,{tmp_path}/media")
    fs = s3_server.fs()
    url = f"s3://{s3_bucket}/clips/v.wav"
    fs.pipe(url.removeprefix("s3://"), b"submitted")
    at_submit = inputs.identity(url, s)
    assert inputs.open_root_input(url, s, "u", tmp_path, 1024, expected=at_submit).read_bytes() == b"submitted"
    fs.pipe(url.removeprefix("s3://"), b"rewritten")  # same size, another ETag
    with pytest.raises(InvalidInput, match="changed after the task was submitted") as info:
        inputs.open_root_input(url, s, "u", tmp_path, 1024, expected=at_submit)
    assert not info.value.retryable
    (tmp_path / "media").mkdir()
    local = tmp_path / "media" / "v.wav"
    local.write_bytes(b"submitted")
    before = inputs.identity(f"file://{local}", s)
    assert inputs.open_root_input(str(local), s, "u", tmp_path, 1024, expected=before) == local
    os.utime(local, ns=(5, 5))
    with pytest.raises(InvalidInput, match="changed"):
        inputs.open_root_input(str(local), s, "u", tmp_path, 1024, expected=before)
