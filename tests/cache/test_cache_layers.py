"""L1 (memory) and L3 (disk) on their own: TTL expiry, LRU eviction, the size bound."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from videoai_ray.cache import CacheEntry, DiskLayer, MemoryLayer

TTL = 0.5


def entry(text: str = '{"url":"file:///a.png"}', ttl: float = 60.0) -> CacheEntry:
    return CacheEntry(text, time.time() + ttl)


# -- L1 --


def test_l1_entry_expires_after_the_layer_ttl() -> None:
    l1 = MemoryLayer(maxsize=10, ttl=TTL)
    l1.put_many({"k": entry()})  # the entry itself would live 60 s: the layer TTL wins
    assert "k" in l1.get_many(["k"])
    time.sleep(TTL + 0.1)
    assert l1.get_many(["k"]) == {}
    assert l1.size() == {"size": 0, "bytes": 0}


def test_l1_entry_expires_at_its_own_earlier_deadline() -> None:
    l1 = MemoryLayer(maxsize=10, ttl=60.0)
    l1.put_many({"k": entry(ttl=TTL)})
    assert "k" in l1.get_many(["k"])
    time.sleep(TTL + 0.1)
    assert l1.get_many(["k"]) == {}


def test_l1_evicts_the_least_recently_used() -> None:
    l1 = MemoryLayer(maxsize=3, ttl=60.0)
    l1.put_many({"a": entry(), "b": entry(), "c": entry()})
    assert set(l1.get_many(["a"])) == {"a"}  # a is now the most recently used
    l1.put_many({"d": entry()})
    assert set(l1.get_many(["a", "b", "c", "d"])) == {"a", "c", "d"}
    assert l1.size()["size"] == 3


def test_l1_delete_and_clear() -> None:
    l1 = MemoryLayer(maxsize=10, ttl=60.0)
    l1.put_many({"a": entry(), "b": entry()})
    l1.delete_many(["a", "missing"])
    assert set(l1.get_many(["a", "b"])) == {"b"}
    l1.clear()
    assert l1.get_many(["b"]) == {}


def test_l1_is_bounded_in_bytes_as_well_as_entries() -> None:
    # 40 outputs of 7.8 MB once grew the Scheduler by 556 MB under an entry bound of 10,000: the
    # byte bound evicts the least recently used before it is passed, whatever the entry count
    big = "x" * 1_000_000
    l1 = MemoryLayer(maxsize=10_000, ttl=60.0, max_bytes=3_500_000)
    for i in range(40):
        l1.put_many({f"k{i}": entry(big)})
        assert l1.size()["bytes"] <= 3_500_000
    assert set(l1.get_many([f"k{i}" for i in range(40)])) == {"k37", "k38", "k39"}
    l1.put_many({"huge": entry("y" * 4_000_000)})  # bigger than the whole bound: not kept in L1
    assert l1.get_many(["huge"]) == {} and l1.size()["size"] == 3


def test_the_l1_byte_bound_is_a_setting(tmp_path: Path) -> None:
    from videoai_ray.cache import TieredCache
    from videoai_ray.settings import Settings

    cache = TieredCache.from_settings(Settings(home=tmp_path, cache_l1_max_mb=2))
    l1 = cache.layers[0]
    assert isinstance(l1, MemoryLayer) and l1.max_bytes == 2 * 1024 * 1024


def test_l3_opens_its_folder_at_first_use_not_when_made(tmp_path: Path) -> None:
    # a full or missing disk must fail a lookup (a miss, and the layer backs off), never the
    # Scheduler's constructor, which Ray would not run again
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    l3 = DiskLayer(blocked / "l3", 1024 * 1024, ttl=60.0)  # nothing touched yet
    with pytest.raises(OSError):
        l3.get_many(["k"])
    blocked.unlink()
    l3.put_many({"k": entry()})  # the folder can be made now: the layer opens
    assert set(l3.get_many(["k"])) == {"k"}
    l3.close()


def test_l1_refuses_a_useless_configuration() -> None:
    with pytest.raises(ValueError):
        MemoryLayer(maxsize=0, ttl=1.0)


# -- L3 --


def test_l3_round_trip_keeps_text_and_expiry(tmp_path: Path) -> None:
    l3 = DiskLayer(tmp_path / "l3", 1024 * 1024, ttl=60.0)
    e = entry('{"a":"é"}', ttl=30.0)
    l3.put_many({"k": e})
    got = l3.get_many(["k", "other"])
    assert list(got) == ["k"]
    assert got["k"].text == e.text
    assert got["k"].expires_at == pytest.approx(e.expires_at, abs=0.05)
    l3.close()


def test_l3_entry_expires(tmp_path: Path) -> None:
    l3 = DiskLayer(tmp_path / "l3", 1024 * 1024, ttl=TTL)
    l3.put_many({"k": entry(ttl=TTL)})
    assert "k" in l3.get_many(["k"])
    time.sleep(TTL + 0.1)
    assert l3.get_many(["k"]) == {}
    assert l3.size()["size"] == 0
    l3.close()


def test_l3_stays_within_its_size_limit_and_evicts_least_recently_used(tmp_path: Path) -> None:
    limit = 1024 * 1024
    l3 = DiskLayer(tmp_path / "l3", limit, ttl=60.0)
    # ~10 kB each: 300 of them are ~3x the limit. (diskcache culls 10 entries per write once
    # over the limit, so entries must be small next to the limit, as real outputs are.)
    blob = '{"blob":"' + "x" * 10_000 + '"}'
    l3.put_many({"keep": entry(blob)})
    for i in range(300):
        l3.put_many({f"k{i}": entry(blob)})
        assert "keep" in l3.get_many(["keep"]), i  # read after every write: never the LRU victim
    size = l3.size()
    assert size["bytes"] <= limit * 1.2
    assert 50 < size["size"] < 110
    assert l3.get_many(["k0", "k1", "k100"]) == {}  # the least recently used went first
    assert set(l3.get_many(["keep", "k299", "k298"])) == {"keep", "k299", "k298"}
    l3.close()


def test_l3_survives_a_restart(tmp_path: Path) -> None:
    l3 = DiskLayer(tmp_path / "l3", 1024 * 1024, ttl=60.0)
    l3.put_many({"k": entry()})
    l3.close()
    again = DiskLayer(tmp_path / "l3", 1024 * 1024, ttl=60.0)
    assert "k" in again.get_many(["k"])
    again.delete_many(["k"])
    assert again.get_many(["k"]) == {}
    again.close()
