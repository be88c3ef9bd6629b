"""The wheelhouse is carried in parts no larger than the limit and rebuilt byte for byte; a part
missing or a piece changed on the way is refused, never half-installed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from videoai_bench.wheelhouse import main, pack, unpack

LIMIT = 3 << 20  # 3 MiB parts


@pytest.fixture
def wheels(tmp_path: Path) -> Path:
    src = tmp_path / "wheels"
    src.mkdir()
    for name, size in (("big-1.0-py3-none-any.whl", 7 << 20), ("small-1.0-py3-none-any.whl", 300_000),
                       ("empty-1.0-py3-none-any.whl", 0), ("mid-1.0-py3-none-any.whl", 2 << 20)):
        (src / name).write_bytes(os.urandom(size))
    return src


def test_parts_fit_the_limit_and_rebuild_every_file(wheels: Path, tmp_path: Path) -> None:
    parts = pack(wheels, tmp_path / "parts", LIMIT)
    assert len(parts) == 4  # 9.3 MiB in 3 MiB parts (the big wheel cut in pieces)
    for part in parts:
        assert sum(f.stat().st_size for f in part.iterdir()) <= LIMIT
    out = unpack(list(reversed(parts)), tmp_path / "back")  # any order
    assert sorted(p.name for p in out) == sorted(p.name for p in wheels.iterdir())
    for p in out:
        assert p.read_bytes() == (wheels / p.name).read_bytes()


def test_a_missing_or_changed_piece_is_refused(wheels: Path, tmp_path: Path) -> None:
    parts = pack(wheels, tmp_path / "parts", LIMIT)
    with pytest.raises(ValueError, match="missing"):
        unpack(parts[:-1], tmp_path / "short")
    piece = next(p for p in parts[1].iterdir() if p.name.startswith("big-"))
    data = bytearray(piece.read_bytes())
    data[100] ^= 0xFF
    piece.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="SHA-256"):
        unpack(parts, tmp_path / "bad")
    assert not (tmp_path / "bad" / "big-1.0-py3-none-any.whl").exists()  # nothing half-written stays


def test_command_line(wheels: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pack", str(wheels), str(tmp_path / "parts"), "--max-mib", "3"]) == 0
    parts = sorted((tmp_path / "parts").iterdir())
    assert main(["unpack", *map(str, parts), str(tmp_path / "back")]) == 0
    assert capsys.readouterr().out.count(": ok") == 4
