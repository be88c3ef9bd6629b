import pytest

from videoai_ray.artifacts import ArtifactStore, safe_name


def test_local_store_round_trip(tmp_path):
    store = ArtifactStore(str(tmp_path / "art"))
    art = store.put("task_1", "out.png", b"\x89PNG data")
    assert art["url"].startswith("file://") and art["size_bytes"] == 9 and art["content_type"] == "image/png"
    assert store.read_bytes(art["url"]) == b"\x89PNG data"
    src = tmp_path / "clip.mp4"
    src.write_bytes(b"mp4")
    assert store.read_bytes(store.put("task_1", "clip.mp4", src)["url"]) == b"mp4"


def test_names_cannot_escape_the_root(tmp_path):
    store = ArtifactStore(str(tmp_path / "art"))
    art = store.put("../../etc", "../../passwd", b"x")
    assert store.local_path(art["url"]).is_relative_to(tmp_path / "art")
    assert safe_name("../../x y.png") == "x_y.png"
    with pytest.raises(ValueError):
        store.local_path("file:///etc/passwd")


def test_fsspec_url_store():
    store = ArtifactStore("memory://videoai-test")
    art = store.put("task_2", "a.txt", b"hello")
    assert art["url"] == "memory://videoai-test/task_2/a.txt"
    assert store.read_bytes(art["url"]) == b"hello" and not store.is_local


def test_a_full_disk_is_disk_full_not_a_bare_os_error(tmp_path):
    # the attempt is told DiskFull (retried, and never held against the provider's circuit breaker)
    from full_disk import fill, small_disk

    from videoai_ray.errors import DiskFull, RetryableError

    with small_disk(tmp_path / "disk", "1m") as disk:
        store = ArtifactStore(str(disk / "artifacts"))
        fill(disk)
        with pytest.raises(DiskFull, match="disk is full") as err:
            store.put("t1", "out.bin", b"x" * 65536)
        assert err.value.code == "disk_full" and isinstance(err.value, RetryableError)
