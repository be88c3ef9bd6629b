"""The Grafana dashboard in ``deploy/grafana``: every panel queries metrics that ``metrics.py`` really
defines, with labels those metrics really carry, and every metric has a panel."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from videoai_ray.metrics import SPECS, MetricSpec

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "videoai.json"
#: labels Ray or Prometheus add to every sample: the Ray session, and our ``instance`` tag, which
#: Prometheus renames ``exported_instance`` because ``instance`` is its own target label
COMMON_LABELS = {"SessionName", "exported_instance"}
_METRIC = re.compile(r"\b(ray_videoai_[a-z_]+)(\{[^}]*\})?")
_MATCHER = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")
_LEGEND = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
BY_EXPORT_NAME = {s.prometheus_name: s for s in SPECS.values()}


def _spec(exported: str) -> MetricSpec | None:
    """The metric behind an exported series name (histograms: ``_bucket``/``_sum``/``_count``)."""
    if exported in BY_EXPORT_NAME:
        return BY_EXPORT_NAME[exported]
    for suffix in ("_bucket", "_sum", "_count"):
        spec = BY_EXPORT_NAME.get(exported.removesuffix(suffix))
        if exported.endswith(suffix) and spec is not None and spec.kind == "histogram":
            return spec
    return None


def _panels(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in items:
        out.append(p)
        out.extend(_panels(p.get("panels", [])))
    return out


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _query_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in _panels(dashboard["panels"]) if p["type"] != "row"]


def test_every_panel_queries_defined_metrics_with_their_labels(dashboard) -> None:
    panels = _query_panels(dashboard)
    assert len(panels) >= 10
    for panel in panels:
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            expr = target["expr"]
            found = _METRIC.findall(expr)
            assert found, f"panel {panel['title']!r}: {expr!r} names no ray_videoai_* metric"
            labels = set(COMMON_LABELS)
            for name, matchers in found:
                spec = _spec(name)
                assert spec is not None, f"panel {panel['title']!r}: {name} is not defined in metrics.py"
                labels |= set(spec.tag_keys) | ({"le"} if name.endswith("_bucket") else set())
                for label in _MATCHER.findall(matchers):
                    assert label in COMMON_LABELS | set(spec.tag_keys), f"{name} has no label {label!r}"
            grouped = {g.strip() for group in _GROUPING.findall(expr) for g in group.split(",") if g.strip()}
            assert grouped <= labels, f"panel {panel['title']!r} groups by unknown labels {grouped - labels}"
            legend = set(_LEGEND.findall(target.get("legendFormat", "")))
            assert legend <= grouped, f"panel {panel['title']!r}: legend uses {legend - grouped}, not grouped by"


def test_every_metric_has_a_panel(dashboard) -> None:
    """A metric added to metrics.py without a panel fails here: add the panel to videoai.json."""
    used = {_spec(name) for p in _query_panels(dashboard) for t in p["targets"]
            for name, _ in _METRIC.findall(t["expr"])}
    missing = sorted(s.name for s in SPECS.values() if s not in used)
    assert not missing, f"no dashboard panel for {missing}"


def test_the_topics_the_issue_asks_for_are_there(dashboard) -> None:
    titles = " | ".join(p["title"].lower() for p in _panels(dashboard["panels"]))
    for topic in ("throughput", "queue per priority", "in flight", "percentiles", "spend", "rate-limited",
                  "webhook"):
        assert topic in titles, topic
    assert "ray_videoai_queue_depth" in json.dumps(dashboard) and "histogram_quantile(0.99" in json.dumps(dashboard)


def test_dashboard_is_importable_next_to_rays(dashboard) -> None:
    """The shape Grafana's import and file provisioning need, and Ray's datasource convention."""
    assert dashboard["uid"] == "videoai-ray" and dashboard["title"] and "id" not in dashboard
    names = [v["name"] for v in dashboard["templating"]["list"]]
    assert names[0] == "datasource" and {"SessionName", "deployment"} <= set(names)
    ids = [p["id"] for p in _panels(dashboard["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in _query_panels(dashboard):
        assert panel["datasource"] == "${datasource}"
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"panel {panel['title']!r} is wider than the grid"
        for target in panel["targets"]:
            for var in re.findall(r"\$(\w+)", target["expr"]):
                assert var in names or var.startswith("__"), f"unknown variable ${var}"
