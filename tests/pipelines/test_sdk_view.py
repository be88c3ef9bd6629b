"""The SDK handle's views: text and static HTML of a pipeline, and the live ipywidgets view that
refreshes until the pipeline ends."""

from __future__ import annotations

import pytest
from pipeline_steps import img

import videoai_ray as vai
from videoai_ray.pipelines import ref
from videoai_ray.pipelines.widget import PipelineView

pytestmark = pytest.mark.slow


def test_text_html_and_live_view(pipe_client: vai.Client, capsys: pytest.CaptureFixture[str]) -> None:
    pipe = pipe_client.pipeline([img("long", "viewed", provider="slow"), img("next", ref("long.output.provider"))])
    assert pipe.steps["next"].future() is None and pipe.steps["next"].status == "waiting"
    assert repr(pipe).startswith(f"<Pipeline {pipe.id} running: long=")
    pytest.importorskip("ipywidgets")
    view = PipelineView(pipe)
    assert view.step() is not None and not view.finished  # still running: refresh again soon
    assert "next" in view.detail.value and "waiting" in view.detail.value
    pipe.result(timeout=60)
    assert view.step() is None and view.finished
    page, text = view.static()
    assert 'class="videoai-pipeline"' in page and page.count("<tr>") == 3 and "completed" in page
    assert text == f"<Pipeline {pipe.id} completed: long=completed, next=completed>"
    pipe._ipython_display_()  # outside Jupyter: the summary as text
    assert capsys.readouterr().out.strip() == text
    assert pipe.steps["next"].future() is not None
