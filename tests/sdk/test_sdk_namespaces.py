"""The client as namespaces over the service: every flat name is one line over its namespace, with
the same parameters; the namespaces do on a live engine what the flat names always did; and
``MediaService`` keeps its own surface small (the rest is namespaces)."""

from __future__ import annotations

import ast
import inspect
import textwrap

import pandas as pd
import pytest

import videoai_ray as vai
from videoai_ray.client import Client
from videoai_ray.errors import InvalidRequest, ScheduleNotFound
from videoai_ray.pipelines import step
from videoai_ray.service import MediaService

#: Client methods that are its own, not a flat name over a namespace
OWN = {"__init__", "scheduler", "upload", "statistics", "cache_stats", "experiment"}
#: what MediaService does itself; a new operation goes into a namespace
SERVICE_OWN = {"submit", "send", "collect", "submit_async", "estimate", "version", "version_async",
               "version_wait", "wait_done", "close"}


def _namespaces() -> dict[str, type]:
    """The client's namespace attributes and their classes, read from ``Client.__init__``."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(Client.__init__)))
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and isinstance(node.value.func, ast.Name) and isinstance(node.targets[0], ast.Attribute):
            cls = inspect.getmodule(Client).__dict__.get(node.value.func.id)  # type: ignore[union-attr]
            if isinstance(cls, type):
                found[node.targets[0].attr] = cls
    return found


def _flat_names() -> dict[str, tuple[str, str]]:
    """Each flat method: the namespace attribute and the method its one statement calls."""
    out = {}
    for name, fn in vars(Client).items():
        if name in OWN or name.startswith("_") or not inspect.isfunction(fn):
            continue
        body = ast.parse(textwrap.dedent(inspect.getsource(fn))).body[0].body  # type: ignore[attr-defined]
        statements = [s for s in body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        assert len(statements) == 1, f"Client.{name} is more than one line over a namespace"
        call = statements[0].value  # type: ignore[attr-defined]
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute), name
        target = call.func.value
        assert isinstance(target, ast.Attribute) and ast.unparse(target.value) == "self", name
        out[name] = (target.attr, call.func.attr)
    return out


def test_every_flat_name_is_one_line_over_a_namespace_method_with_the_same_parameters() -> None:
    namespaces = _namespaces()
    flat = _flat_names()
    assert {"cancel", "batch", "schedule", "set_budget", "webhook_secret", "register_provider"} <= set(flat)
    for name, (attr, method) in flat.items():
        target = getattr(namespaces[attr], method)
        mine = list(inspect.signature(getattr(Client, name)).parameters.values())[1:]
        theirs = list(inspect.signature(target).parameters.values())[1:]
        assert [(p.name, p.kind, p.default) for p in mine] == [(p.name, p.kind, p.default) for p in theirs], name


def test_the_service_does_little_itself_and_the_rest_through_namespaces() -> None:
    own = {n for n, v in vars(MediaService).items() if not n.startswith("_") and inspect.isfunction(v)}
    assert own == SERVICE_OWN
    source = inspect.getsource(MediaService.__init__)
    for namespace in ("tasks", "batches", "budgets", "webhooks", "providers", "monitor"):
        assert f"self.{namespace} = " in source


def test_namespaces_do_what_the_flat_names_did(sdk_client: vai.Client) -> None:
    client = sdk_client
    fut = client.tasks.submit("image_generation", {"prompt": "ns", "provider": "noop"})
    assert fut.result(timeout=60).status.value == "completed"
    assert client.tasks.get(fut.id) == client.get(fut.id)
    listed = client.tasks(limit=5)
    assert isinstance(listed, pd.DataFrame) and fut.id in set(listed["id"])
    assert list(listed["id"]) == list(client.tasks.list(limit=5)["id"])

    batch = client.batches.create([{"task_type": "image_generation", "input_data": {"prompt": f"b{i}",
                                                                                    "provider": "noop"}}
                                   for i in range(3)])
    batch.wait(timeout=60)
    again = client.batches.get(batch.id)
    assert list(again.ids) == list(batch.ids) == list(client.batch_from_id(batch.id).ids)
    assert batch.id in client.batches().index and batch.id in client.batches.list().index
    assert client.batches.estimate([{"task_type": "image_generation", "input_data": {"prompt": "e"}}]).tasks == 1

    assert client.budget.set(3.0)["budget_usd"] == 3.0 == client.budget()["budget_usd"]
    assert client.set_budget(None)["budget_usd"] is None and client.budget.get()["budget_usd"] is None
    assert isinstance(client.budget.spend(days=1), pd.DataFrame)

    assert client.webhooks.secret() == client.webhook_secret() and client.webhooks.secret().startswith("whsec_")
    assert client.webhooks.statistics() == client.webhook_statistics()
    assert repr(client.tasks) == "<Tasks: cancel(), get(), list(), retry(), submit(); calling it is list()>"
    assert repr(client.budget) == "<UserBudget: get(), set(), spend(); calling it is get()>"
    assert repr(client.webhooks) == "<Webhooks: deliveries(), redeliver(), secret(), statistics(), status()>"
    assert "noop" in set(client.providers().index) and list(client.providers.list().index) == list(
        client.providers().index)


def test_schedules_pipelines_and_experiments_namespaces(sdk_client: vai.Client) -> None:
    client = sdk_client
    sched = client.schedules.create("image_generation", {"prompt": "tick", "provider": "noop"}, cron="0 0 1 1 *")
    assert client.schedules.pause(sched.id).state == "paused"
    assert client.resume_schedule(sched.id).state == "active"
    assert client.schedules.get(sched.id, n_next=2).id == sched.id and sched.id in client.schedules().index
    client.schedules.delete(sched.id)
    with pytest.raises(ScheduleNotFound):
        client.get_schedule(sched.id)

    pipe = client.pipelines.create([step("one", "image_generation", prompt="p", provider="noop")])
    assert pipe.result(timeout=60).status.value == "completed"
    assert client.pipelines.get(pipe.id).status == pipe.status and pipe.id in set(client.pipelines()["id"])
    with pytest.raises(InvalidRequest, match="steps"):
        client.pipelines.create()

    exp = client.experiments.create(name="ns", task_type="image_generation",
                                    arms=[{"provider": "noop", "weight": 1}, {"provider": "lat", "weight": 1}])
    assert client.experiments.get(exp.id).id == exp.id == client.experiment(exp.id).id
    assert exp.id in client.experiments().index
    with pytest.raises(InvalidRequest, match="not both"):
        client.experiment(exp.id, name="x")
    exp.stop()
