"""Execute every notebook in ``notebooks/`` top to bottom in a fresh kernel and fail on any error,
then export it to HTML as a reader without a kernel sees it and check the media are there.

Each notebook starts its own local Ray inside the kernel process (``ray.init(address="local")``),
independent of any Ray this pytest process runs. The kernel runs this virtualenv's Python through
a kernelspec written to a temporary folder, with an environment scrubbed of ``RAY_ADDRESS`` (so
the notebook cannot join another cluster) and of provider keys (so nothing goes to the network).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
nbconvert = pytest.importorskip("nbconvert")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
KERNEL = "videoai-ray-test"
#: per notebook, seconds (each is meant to finish well under 2 minutes on 2 cores)
CELL_TIMEOUT = 240
_SCRUB = ("RAY_ADDRESS", "OPENAI_API_KEY", "STABILITY_API_KEY", "RUNWAYML_API_SECRET", "FAL_KEY",
          "ASSEMBLYAI_API_KEY", "DATABASE_URL", "REDIS_URL", "VIDEOAI_HOME", "VIDEOAI_INSTANCE")
#: what each notebook's HTML export must show where its futures and batches were displayed
EXPORTED = {
    "01_quickstart": ["<img ", 'src="data:image/jpeg;base64,', "<video ", 'src="data:video/mp4;base64,', "<audio ",
                      'src="data:audio/', "quick brown fox", "--&gt;", "no_provider: "],
    "02_batch": ['class="videoai-batch"', 'title="completed'],
    "03_monitoring": [],
    "04_custom_provider": ['src="data:image/jpeg;base64,', "invalid_input: the poster provider does not draw that",
                           'class="videoai-batch"', "8/8 done"],
    "05_pipelines": ['class="videoai-pipeline"', "<video ", 'src="data:video/mp4;base64,', "--&gt;",
                     "steps[1].input.prompt: step 'b' refers to unknown step 'nope'"],
    "06_data_in_buckets": ['class="videoai-batch"', "not in s3://corpus-", "not under an input root granted",
                           "quick brown fox", "output.language"],
}


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A kernelspec for this interpreter, and the environment the kernel starts with."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "videoai-ray tests", "language": "python",
    }))
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB and not k.startswith("VIDEOAI_")}
    env["JUPYTER_PATH"] = str(root)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYTHONPATH"] = os.pathsep.join([str(NOTEBOOKS.parent), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def test_the_notebooks_are_committed_without_outputs() -> None:
    names = [p.name for p in _notebooks()]
    assert names == ["01_quickstart.ipynb", "02_batch.ipynb", "03_monitoring.ipynb", "04_custom_provider.ipynb",
                     "05_pipelines.ipynb", "06_data_in_buckets.ipynb"]
    for path in _notebooks():
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, f"{path.name}: strip outputs"
        last = "\n".join(c.source for c in nb.cells if c.cell_type == "code")[-400:]
        assert "kill_scheduler(settings)" in last and "ray.shutdown()" in last, path.name


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.stem)
def test_notebook_runs(path: Path, kernel_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
                       tmp_path: Path) -> None:
    monkeypatch.setenv("JUPYTER_PATH", kernel_env["JUPYTER_PATH"])
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL, allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    started = time.monotonic()
    client.execute(env=kernel_env)  # raises CellExecutionError naming the failing cell
    elapsed = time.monotonic() - started
    print(f"{path.name}: {elapsed:.1f} s")
    assert elapsed < 120, f"{path.name} took {elapsed:.0f} s (budget: 2 minutes)"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"]
    assert not errors
    stderr = ["".join(o.get("text", "") for o in c.outputs if o.get("output_type") == "stream"
                      and o.get("name") == "stderr") for c in nb.cells if c.cell_type == "code"]
    assert "Token authentication" not in "".join(stderr), f"{path.name}: Ray's auth notice is shown"
    assert stderr[0] == "", f"{path.name}: the first cell shows stderr (red in Jupyter): {stderr[0][:500]}"
    _check_export(nb, path.stem, tmp_path)


def _check_export(nb: object, stem: str, folder: Path) -> None:
    """Export the executed notebook as a reader without a kernel gets it (nbconvert's HTML, which
    shows a widget only from saved widget state and a JavaScript library from a CDN) and look for
    the media; the HTML is kept in ``folder`` for a look in a browser."""
    page, _ = nbconvert.HTMLExporter().from_notebook_node(nb)
    (folder / f"{stem}.html").write_text(page)
    print(f"exported: {folder / f'{stem}.html'}")
    for marker in EXPORTED[stem]:
        assert marker in page, f"{stem}: {marker!r} missing from the exported HTML"
    widget_outputs = page.count('<script type="application/vnd.jupyter.widget-view+json">')
    assert "VBox(children=" not in page and widget_outputs == 0, f"{stem}: an output is still only a widget"
