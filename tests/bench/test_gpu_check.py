"""``videoai gpu-check --device cpu`` on tiny random-weight models (built by the tests, nothing
from a hub): every row of the GPU check is measured through the real paths (the pools via the
SDK, Ray Data ``map_batches``, a cold load, a model switch) and printed as a Markdown table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from videoai_bench.gpu_check import main
from videoai_ray.cli import build_parser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers" / "local"))
from tiny_models import build_tiny_stable_diffusion, build_tiny_whisper


def test_cli_hands_every_argument_to_the_check() -> None:
    args = build_parser().parse_args(["gpu-check", "--device", "cpu", "--clips", "2"])
    assert args.func.__name__ == "cmd_gpu_check"
    assert (args.device, args.clips, args.images, args.whisper_model) == ("cpu", 2, 16, None)
    for bad in (["--device", "tpu"], ["--clips", "many"]):
        with pytest.raises(SystemExit):
            main(bad)
        with pytest.raises(SystemExit):
            build_parser().parse_args(["gpu-check", *bad])


@pytest.mark.slow
def test_gpu_check_on_the_cpu_with_tiny_models(ray_session: None, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    whisper, sd = build_tiny_whisper(tmp_path), build_tiny_stable_diffusion(tmp_path, vae_blocks=4)
    assert main(["--device", "cpu", "--whisper-model", str(whisper), "--diffusers-model", str(sd),
                 "--clips", "3", "--images", "2", "--steps", "2"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| benchmark | value | unit | baseline | ratio | target |")
    rows = lines[1:]
    assert len(rows) == 5, out
    assert "skipped" not in out
    throughput = [r for r in rows if "Ray Data map_batches, 1 actor, same model and cpu" in r]
    assert len(throughput) == 2 and "clips/s" in throughput[0] and "images/s" in throughput[1]
    for row in throughput:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[1]) > 0 and float(cells[4]) > 0  # measured value and ratio to Ray Data
    assert any(r.startswith("| cold load, local-whisper") and "of which model load" in r for r in rows)
    assert any(r.startswith("| cold load, local-diffusers") for r in rows)
    assert any(r.startswith("| model switch on one device") for r in rows)
    assert "device cpu" in out and "whole check" in out


@pytest.mark.slow
def test_a_spent_time_budget_skips_the_parts_not_started_and_says_so(
        ray_session: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--device", "cpu", "--budget-s", "0"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == 2
    assert "skipped: the time budget of 0 s was spent before the whisper rows" in rows[0], rows
    # a part that cannot run at all says its own reason first (no pipeline folder was given)
    assert "skipped: no --diffusers-model given" in rows[1], rows
