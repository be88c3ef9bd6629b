"""The package's shape: no import circle, a light package root (a Serve replica imports neither
the SDK nor pandas), one door to the core (only ``MediaService`` touches the store and calls
the Scheduler), and the Scheduler below that door (it never imports the door, the SDK or the API)."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import videoai_ray

PACKAGE = Path(videoai_ray.__file__).parent
#: modules an import must not pull into a Serve replica
SDK_MODULES = ["pandas", "videoai_ray.client", "videoai_ray.client_namespaces", "videoai_ray.futures",
               "videoai_ray.widgets", "videoai_ray.batching", "videoai_ray.mapview", "videoai_ray.frames"]
#: the entry points, which reach the store and the Scheduler only through MediaService
#: what the Scheduler, and everything it imports, never imports: the door, the SDK, the API
ABOVE_THE_SCHEDULER = ["videoai_ray.service", *(m for m in SDK_MODULES if m.startswith("videoai_ray.")),
                       "videoai_ray.api"]
ENTRY_POINTS = [*sorted((PACKAGE / "api").glob("*.py")), *(PACKAGE / f"{m}.py" for m in (
    "client", "client_namespaces", "futures", "batching", "mapview", "widgets", "media_namespaces", "cli"))]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run when the module is imported (not in functions, not under ``TYPE_CHECKING``)."""
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        elif isinstance(node, ast.If | ast.Try):
            yield from (n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))


def _every_import(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports run at some point: the top-level ones and those inside functions (a lazy import
    runs on the first call), not those under ``TYPE_CHECKING`` (never run)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for other in node.orelse:
                yield from _every_import(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _every_import(node)  # type: ignore[arg-type]


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.Import):
        return {a.name for a in node.names}
    base = module if is_package else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        base = base.rpartition(".")[0]
    target = (f"{base}.{node.module}" if node.module else base) if node.level else str(node.module)
    subs = {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known}
    # ``from . import prices`` imports the submodule; the package itself is already being imported
    return subs if node.module is None and len(subs) == len(node.names) else {target, *subs}


def import_graph(lazy: bool = False) -> dict[str, set[str]]:
    """Which modules of the package each one imports when it is imported (``lazy``: also inside
    its functions, when they run)."""
    known = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        tree = ast.parse(path.read_text())
        edges = set()
        for node in (_every_import if lazy else _top_level_imports)(tree):
            edges |= _targets(module, path.name == "__init__.py", node, known)
        graph[module] = {t for t in edges if t in known and t != module}
    return graph


def reached(graph: dict[str, set[str]], start: str) -> dict[str, str | None]:
    """Every module importing ``start`` may run, each with the module that imports it (``None``
    for ``start``). Importing ``a.b.c`` also runs the packages ``a`` and ``a.b``."""
    via: dict[str, str | None] = {start: None}
    todo = [start]
    while todo:
        module = todo.pop()
        parents = {module.rsplit(".", n)[0] for n in range(1, module.count(".") + 1)}
        for other in sorted((graph.get(module, set()) | parents) - via.keys()):
            via[other] = module
            todo.append(other)
    return via


def _chain(via: dict[str, str | None], module: str) -> str:
    chain = [module]
    while (before := via[chain[-1]]) is not None:
        chain.append(before)
    return " <- ".join(chain)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_check_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_of_the_package_imports_itself_back() -> None:
    graph = import_graph()
    assert "videoai_ray.futures" in graph["videoai_ray.client"]  # the graph is read
    assert "videoai_ray.client" not in graph["videoai_ray.futures"]  # under TYPE_CHECKING only
    assert cycles(graph) == []


def test_lazy_imports_count_and_type_checking_ones_do_not() -> None:
    tree = ast.parse("import a\nif TYPE_CHECKING:\n    import b\nelse:\n    import c\n"
                     "def f():\n    import d\n    class E:\n        def g(self):\n            from e import x\n")
    assert [ast.unparse(n) for n in _every_import(tree)] == ["import a", "import c", "import d", "from e import x"]
    assert [ast.unparse(n) for n in _top_level_imports(tree)] == ["import a"]
    graph = {"p.a": {"p.b"}, "p.b": set(), "p.c.d": {"q"}, "p.c": set(), "p": set(), "q": set()}
    assert set(reached(graph, "p.c.d")) == {"p.c.d", "p.c", "p", "q"}
    assert _chain(reached(graph, "p.a"), "p.b") == "p.b <- p.a"


def test_the_scheduler_never_imports_the_door_the_sdk_nor_the_api() -> None:
    """The Scheduler is below the door: its runners admit pipeline steps and schedule ticks through
    ``videoai_ray.admission``, as ``MediaService`` does, never through ``MediaService`` itself.
    Imports inside functions count (they run when the function does)."""
    via = reached(import_graph(lazy=True), "videoai_ray.scheduler.actor")
    # the graph is read: the runners, which once built a MediaService inside their constructors
    assert {"videoai_ray.pipelines.runner", "videoai_ray.schedules.runner", "videoai_ray.admission"} <= set(via)
    above = [_chain(via, m) for m in sorted(via) if any(m == a or m.startswith(f"{a}.") for a in ABOVE_THE_SCHEDULER)]
    assert above == []
    loaded = _imported_after("import videoai_ray.scheduler.actor")
    assert "videoai_ray.scheduler.actor" in loaded
    assert sorted(m for m in loaded if any(m == a or m.startswith(f"{a}.") for a in ABOVE_THE_SCHEDULER)) == []


def _imported_after(statement: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", f"import sys; {statement}; print('\\n'.join(sys.modules))"],
                         capture_output=True, text=True, timeout=120, check=True)
    return set(out.stdout.split())


def test_the_http_app_does_not_import_the_sdk_nor_pandas() -> None:
    loaded = _imported_after("import videoai_ray.api.app")
    assert "videoai_ray.api.app" in loaded and "fastapi" in loaded
    assert sorted(loaded & set(SDK_MODULES)) == []


def test_the_package_root_is_light_and_exports_lazily() -> None:
    loaded = _imported_after("import videoai_ray; assert videoai_ray.__version__")
    assert sorted(loaded & {*SDK_MODULES, "ray"}) == []
    loaded = _imported_after("from videoai_ray import Client, TaskFuture, InvalidRequest, Settings, connect")
    assert {"videoai_ray.client", "pandas"} <= loaded


def test_every_exported_name_resolves() -> None:
    for name in videoai_ray.__all__:
        assert getattr(videoai_ray, name).__name__ == name
    assert set(videoai_ray.__all__) <= set(dir(videoai_ray))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        videoai_ray.nope  # noqa: B018


@pytest.mark.parametrize("path", ENTRY_POINTS, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_entry_points_reach_the_store_and_scheduler_only_through_the_service(path: Path) -> None:
    offending = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr in ("store", "engine"):
            offending.append(f"{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Attribute) and node.attr == "remote" and "scheduler" in ast.unparse(node.value):
            offending.append(f"{node.lineno}: {ast.unparse(node)}")
        # the CLI migrates the database (``videoai db``), ``connect`` opens the store for the core,
        # a new batch's ids are derived from its id (``store.batches.DerivedIds``)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("store") \
                and path.name not in ("cli.py", "client.py", "client_namespaces.py"):
            offending.append(f"{node.lineno}: from {node.module} import ...")
    assert offending == []


def test_no_private_name_is_imported_from_another_module() -> None:
    """A name one module uses from another is public there (``_name`` is the module's own)."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level and node.module != "__future__":
                found += [f"{path.relative_to(PACKAGE)}: {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert not found, found


def test_no_two_public_classes_share_a_name() -> None:
    """A class name says which one: ``ProviderRateLimiter`` and ``RequestRateLimiter``, never two
    ``RateLimiter``s a reader (or an import) could mix up. The HTTP routes' models are left out:
    their names are the OpenAPI document's schema names (``Statistics``), a contract with clients
    that may share a name with the SDK's object for the same thing."""
    where: dict[str, list[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "api" and path.name.startswith("routes_"):
            continue
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                where.setdefault(node.name, []).append(str(path.relative_to(PACKAGE)))
    assert not {name: paths for name, paths in where.items() if len(paths) > 1}
