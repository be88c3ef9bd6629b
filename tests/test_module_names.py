"""No two modules of the package share a name where a reader could mix them up (issue 23): a name
may repeat only where each package holds its own one of a kind (its ``service``, its SDK
``handle``, its ``spec``), listed here with the reason."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import videoai_ray

PACKAGE = Path(videoai_ray.__file__).parent

#: names that repeat on purpose: each is a package's own one of a kind, read with its package
SHARED = {
    "__init__": "a package",
    "service": "a feature's service, reached as service.<feature> (pipelines, schedules, ...), and the door",
    "handle": "a feature's SDK handle (pipelines, experiments, schedules, tenants, the model catalogue)",
    "spec": "what a feature's request declares (a pipeline, a schedule, a catalogue model)",
    "model": "a pipeline's record model; a provider that serves a model",
    "runner": "what runs a feature inside the Scheduler (pipelines, schedules)",
    "validation": "a feature's own checks (pipelines, webhooks)",
    "stats": "the API's statistics; an experiment's intervals",
    "schema": "a package's tables (the store's, the webhooks')",
    "keys": "the cache's keys; a tenant's provider keys",
    "events": "the event payloads (models); the Scheduler's event sink",
    "errors": "the package's errors; the API's error bodies",
    "context": "an attempt's context (providers); a request's (the API)",
    "budgets": "the Scheduler's budget ledger; the store's budget rows",
    "actor": "the Scheduler actor; a model pool's actor",
    "ratelimit": "the API's per-user request limits; the Scheduler's provider limiter",
}


def test_module_names_repeat_only_where_each_package_holds_its_own() -> None:
    places: dict[str, list[str]] = defaultdict(list)
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        places[path.stem].append(str(path.relative_to(PACKAGE)))
    repeated = {name: sorted(paths) for name, paths in places.items() if len(paths) > 1}
    unexplained = {name: paths for name, paths in repeated.items() if name not in SHARED}
    assert not unexplained, f"modules that share a name; rename one (or say why in SHARED): {unexplained}"
    assert not set(SHARED) - set(repeated), "SHARED lists a name no longer repeated: drop it"


def test_the_names_the_issue_found_twice_are_now_one_each() -> None:
    for name in ("backoff", "limits", "submit", "resources"):
        found = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob(f"{name}.py"))
        assert len(found) == 1, found
