"""A tenant's files in the artifact store: everything under its prefix ``tenants/<tenant>/``
(``artifacts.tenant_prefix``), listed, copied out (export) and removed (delete) as one folder."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ..artifacts import ArtifactStore, tenant_prefix
from ..storage import url_to_fs


def _root(store: ArtifactStore, tenant: str) -> tuple[Any, str]:
    fs, path = url_to_fs(f"{store.root}/{tenant_prefix(tenant)}", store.options)
    return fs, path.rstrip("/")


def tenant_files(store: ArtifactStore, tenant: str) -> Iterator[tuple[str, str]]:
    """``(path relative to the tenant's prefix, store path)`` of every file of the tenant, sorted."""
    fs, root = _root(store, tenant)
    if not fs.exists(root):
        return
    for path in sorted(fs.find(root)):
        yield path[len(root) + 1:], path


def copy_tenant_files(store: ArtifactStore, tenant: str, target: str,
                      options: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copy every file of the tenant to ``target`` (an fsspec URL), keeping the paths under its
    prefix; ``[{"path", "size_bytes"}]`` of the copies."""
    fs, _ = _root(store, tenant)
    out_fs, out_root = url_to_fs(target, options)
    out_root = out_root.rstrip("/")
    copied = []
    for rel, path in tenant_files(store, tenant):
        dest = f"{out_root}/{rel}"
        out_fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
        with fs.open(path, "rb") as src, out_fs.open(dest, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        copied.append({"path": rel, "size_bytes": int(out_fs.size(dest))})
    return copied


def remove_tenant_files(store: ArtifactStore, tenant: str) -> int:
    """Remove the tenant's prefix and everything under it; how many files there were."""
    fs, root = _root(store, tenant)
    if not fs.exists(root):
        return 0
    count = len(fs.find(root))
    fs.rm(root, recursive=True)
    return count


__all__ = ["copy_tenant_files", "remove_tenant_files", "tenant_files"]
