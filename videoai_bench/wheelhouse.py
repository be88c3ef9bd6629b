"""Carry a folder of wheels to a machine in transfers of at most N MiB each, and rebuild it there.

``pack`` cuts the folder into ``part-1``, ``part-2``, ... of at most ``--max-mib`` each (a file
larger than that, such as Ray's 75.6 MiB wheel, is cut into pieces); each part holds the whole
manifest (every file's size and SHA-256). ``unpack`` joins the parts back and checks every file
against the manifest, so a piece lost or changed on the way fails loudly instead of installing a
broken wheel. Standard library only: it runs on the GPU machine before anything is installed.

    python videoai_bench/wheelhouse.py pack wheels/ parts/ --max-mib 64
    python videoai_bench/wheelhouse.py unpack parts/part-* wheels/   # on the other machine
    pip install --no-index --find-links wheels/ ...
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path

MANIFEST = "wheelhouse.json"
_CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def pack(source: Path, dest: Path, max_bytes: int) -> list[Path]:
    """Cut the files of ``source`` into parts of at most ``max_bytes`` each (the manifest, a few
    hundred bytes, counted in); returns the part folders."""
    files = sorted(p for p in source.iterdir() if p.is_file())
    manifest = {"files": {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)} for p in files}}
    text = json.dumps(manifest, indent=1).encode()
    room = max_bytes - len(text)
    if room < _CHUNK:
        raise ValueError(f"--max-mib leaves no room beside the manifest ({len(text)} bytes)")
    parts: list[Path] = []
    used = room  # start a part at once
    for path in files:
        remaining = path.stat().st_size
        with path.open("rb") as fh:
            piece = 0
            while True:
                if used >= room:
                    parts.append(dest / f"part-{len(parts) + 1}")
                    parts[-1].mkdir(parents=True)
                    (parts[-1] / MANIFEST).write_bytes(text)
                    used = 0
                data = fh.read(min(room - used, remaining))
                (parts[-1] / f"{path.name}.{piece:03d}").write_bytes(data)
                used += len(data)
                remaining -= len(data)
                piece += 1
                if remaining <= 0:
                    break
    return parts


def unpack(parts: list[Path], dest: Path) -> list[Path]:
    """Join the pieces of ``parts`` into ``dest`` and check every file against the manifest."""
    manifests = [json.loads((p / MANIFEST).read_text()) for p in parts]
    if any(m != manifests[0] for m in manifests):
        raise ValueError("the parts come from different packs (their manifests differ)")
    pieces: dict[str, list[Path]] = {}
    for part in parts:
        for piece in part.iterdir():
            if piece.name != MANIFEST:
                name, _, _ = piece.name.rpartition(".")
                pieces.setdefault(name, []).append(piece)
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for name, spec in manifests[0]["files"].items():
        if name not in pieces:
            raise ValueError(f"{name}: no piece of it in the parts given (is a part missing?)")
        target = dest / name
        with target.open("wb") as fh:
            for piece in sorted(pieces[name], key=lambda p: int(p.name.rpartition(".")[2])):
                with piece.open("rb") as src:
                    shutil.copyfileobj(src, fh)
        if target.stat().st_size != spec["size"] or _sha256(target) != spec["sha256"]:
            target.unlink()
            raise ValueError(f"{name}: size or SHA-256 does not match the manifest (a piece is missing or changed)")
        out.append(target)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="wheelhouse", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("pack")
    a.add_argument("source", type=Path)
    a.add_argument("dest", type=Path)
    a.add_argument("--max-mib", type=float, default=64.0)
    b = sub.add_parser("unpack")
    b.add_argument("parts", type=Path, nargs="+")
    b.add_argument("dest", type=Path)
    args = p.parse_args(argv)
    if args.cmd == "pack":
        parts = pack(args.source, args.dest, int(args.max_mib * (1 << 20)))
        for part in parts:
            size = sum(f.stat().st_size for f in part.iterdir())
            print(f"{part}: {size / (1 << 20):.1f} MiB")
    else:
        for path in unpack(args.parts, args.dest):
            print(f"{path}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
