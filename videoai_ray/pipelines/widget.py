"""A pipeline in a notebook: one row per step (status, progress bar, provider, what it waits for),
live while it runs (``PipelineView``), static HTML and a text summary otherwise."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from ..snapshots import COLORS, chip, progress_bar
from ..widgets import POLL_RUNNING, LiveView, in_notebook
from .model import PipelineRecord

if TYPE_CHECKING:
    from .handle import Pipeline

def pipeline_html(record: PipelineRecord) -> str:
    """The pipeline as static HTML: its status, then a row per step."""
    rows = []
    for s in record.steps:
        fraction = 1.0 if s.status == "completed" else s.progress
        why = f"{s.error.code}: {s.error.message}" if s.error else ""
        rows.append(
            f"<tr><td><b>{html.escape(s.id)}</b></td><td>{html.escape(s.task_type.value)}</td>"
            f"<td>{chip(s.status)}</td><td style='width:30%'>"
            f"{progress_bar(fraction, COLORS.get(s.status, '#888'), '90%')}</td>"
            f"<td>{html.escape(s.provider or '')}</td><td>{html.escape(', '.join(s.needs))}</td>"
            f"<td style='color:#d62728'>{html.escape(why[:300])}</td></tr>")
    error = ""
    if record.error:
        error = (f"<div style='color:#d62728'>{html.escape(record.error['step'])}: "
                 f"{html.escape(record.error['code'])}: {html.escape(str(record.error['message'])[:500])}</div>")
    return (f'<div class="videoai-pipeline" style="font-family:sans-serif"><div><b>pipeline</b> '
            f"<code>{html.escape(record.id)}</code> {chip(record.status.value)}</div>"
            "<table><tr><th>step</th><th>type</th><th>status</th><th>progress</th><th>provider</th>"
            f"<th>needs</th><th></th></tr>{''.join(rows)}</table>{error}</div>")


def pipeline_summary(record: PipelineRecord) -> str:
    steps = ", ".join(f"{s.id}={s.status}" for s in record.steps)
    return f"<Pipeline {record.id} {record.status.value}: {steps}>"


class PipelineView(LiveView):
    """Live view of a pipeline: the step table, refreshed until the pipeline ends."""

    def __init__(self, pipeline: Pipeline) -> None:
        import ipywidgets as w

        super().__init__()
        self.pipeline = pipeline
        self.key = pipeline.id
        self.record: PipelineRecord | None = None
        self.detail = w.HTML()
        self.widget = w.VBox([self.detail])

    def render(self, record: PipelineRecord) -> None:
        self.record = record
        self.finished = record.done
        self.detail.value = pipeline_html(record)

    def static(self) -> tuple[str, str]:
        assert self.record is not None, "render() first"
        return pipeline_html(self.record), pipeline_summary(self.record)

    def state_key(self) -> str:
        return "|".join(s.status for s in self.record.steps) if self.record is not None else ""

    def step(self) -> float | None:
        record = self.pipeline.record
        self.render(record)
        return None if record.done else POLL_RUNNING


def display_pipeline(pipeline: Pipeline) -> None:
    """``_ipython_display_`` of a ``Pipeline``: a live view in Jupyter, plain text elsewhere."""
    if not in_notebook():
        print(pipeline_summary(pipeline.record))
        return
    view = PipelineView(pipeline)
    view.render(pipeline.record)
    view.show()


__all__ = ["PipelineView", "display_pipeline", "pipeline_html", "pipeline_summary"]
