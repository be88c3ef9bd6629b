"""Running the API: ingress choice, HAProxy fallback, the ``serve/`` entry points, the HTTP bench."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from served_api import Api, free_port

from videoai_ray.api import server
from videoai_ray.api.server import HAPROXY_ENV

ROOT = Path(__file__).resolve().parents[2]


def test_ingress_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    assert server.choose_ingress("proxy") == "proxy"
    assert server.choose_ingress("haproxy") == "haproxy"
    monkeypatch.setattr(server, "haproxy_binary", lambda: None)
    assert server.choose_ingress("auto") == "proxy"
    monkeypatch.setattr(server, "haproxy_binary", lambda: "/usr/sbin/haproxy")
    assert server.choose_ingress("auto") == "haproxy"
    with pytest.raises(ValueError, match="ingress"):
        server.choose_ingress("nginx")  # type: ignore[arg-type]


def test_session_server_uses_haproxy_when_installed(api: Api) -> None:
    expected = "haproxy" if server.haproxy_binary() else "proxy"
    assert api.info.ingress == expected
    assert api.info.api_url == api.info.url + "/api/v1/media"


@pytest.mark.slow
def test_run_server_falls_back_to_the_default_proxy(tmp_path: Path) -> None:
    """HAProxy that cannot start (a bad binary path reaches the Serve processes only): the API
    still comes up, behind the default proxy. Its own Ray, in a subprocess."""
    script = textwrap.dedent(f"""
        import httpx, ray
        from ray import serve
        from videoai_ray.api import run_server
        from videoai_ray.providers.testing import NoopProvider
        from videoai_ray.settings import Settings
        ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
        s = Settings(home={str(tmp_path)!r}, instance="t-api-fallback")
        info = run_server(s, port={free_port()}, blocking=False, ingress="haproxy", providers=[NoopProvider()],
                          ready_timeout=30, serve_env={{"RAY_SERVE_HAPROXY_BINARY_PATH": "/nonexistent/haproxy",
                                                      "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0.5"}})
        print("INGRESS", info.ingress, httpx.get(info.api_url + "/health").status_code)
        serve.shutdown()
        ray.shutdown()
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180,
                         cwd=ROOT, env={**os.environ, "RAY_ADDRESS": ""})
    assert "INGRESS proxy 200" in out.stdout, out.stdout[-2000:] + out.stderr[-4000:]
    assert "falling back to the default proxy" in out.stderr


def test_serve_entry_points() -> None:
    """``serve run serve.app:app`` imports an Application; the deploy config points at it."""
    out = subprocess.run([sys.executable, "-c", "import serve.app as m; from ray.serve import Application; "
                          "assert isinstance(m.app, Application); print('OK')"],
                         capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "VIDEOAI_HOME": "/tmp/videoai-serve-import-test"})
    assert out.stdout.strip() == "OK", out.stderr[-3000:]
    config = yaml.safe_load((ROOT / "serve" / "config.yaml").read_text())
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(config)
    [app] = schema.applications
    assert app.import_path == "serve.app:app" and app.route_prefix == "/"
    assert schema.controller_options is not None
    # `videoai serve` sets HAPROXY_ENV itself; the file spells the same variables for `serve run`
    assert schema.controller_options.runtime_env["env_vars"] == HAPROXY_ENV


@pytest.mark.slow
def test_http_bench_loader_against_the_running_api(api: Api) -> None:
    from videoai_bench.http import _accounted, _client, _load

    headers = {"Authorization": f"Bearer {api.token('bench-test')}"}
    result = asyncio.run(_accounted(
        _load(f"{api.info.api_url}/images/generate", headers, 202, 60, 20.0, 8, _client("auto"))))
    assert result["requests"] == 60 and result["errors"] == 0
    assert result["rps"] > 0 and result["p50_ms"] <= result["p99_ms"]
    # the CPU accounting finds the API replica, the Scheduler and this process doing the work
    assert result["cpu_us"]["API replica"] > 0 and result["cpu_us"]["Scheduler"] > 0
    assert result["cpu_us"]["load generator"] > 0


@pytest.mark.slow
def test_http_bench_hop_baseline_acknowledges_every_request(api: Api) -> None:
    import httpx
    from ray import serve

    from videoai_bench.http import _client, _load, hop_application

    serve.run(hop_application(), name="t-bench-hop", route_prefix="/t-bench-hop", blocking=False)
    url = f"{api.info.url}/t-bench-hop/"
    try:
        deadline = time.monotonic() + 60
        while httpx.post(url, json={"ping": 1}, timeout=10).status_code != 200:  # the ingress learns the route
            assert time.monotonic() < deadline, "the hop app never answered"
            time.sleep(0.5)
        result = asyncio.run(_load(url, {}, 200, 40, 20.0, 8, _client("auto")))
        answer = httpx.post(url, json={"prompt": "x"}, timeout=10).json()
    finally:
        serve.delete("t-bench-hop")
    assert result["requests"] == 40 and result["errors"] == 0
    assert answer["prompt"] == "x" and answer["status"] == "pending" and len(answer["id"]) == 32


def test_http_bench_cpu_rows_compare_roles_per_request() -> None:
    from videoai_bench.http import _cpu_rows

    accept = [{"requests": 100, "cpu_us": {"API replica": 900.0, "Scheduler": 300.0, "echo replica": 5.0,
                                           "load generator": 400.0}},
              {"requests": 300, "cpu_us": {"API replica": 1100.0, "Scheduler": 500.0, "echo replica": 5.0,
                                           "load generator": 400.0}}]
    echo = [{"requests": 200, "cpu_us": {"echo replica": 700.0, "API replica": 10.0, "load generator": 400.0}}]
    rows = {r["benchmark"].split(": ", 1)[1]: r for r in _cpu_rows(accept, echo)}
    assert rows["API replica"]["value"] == 1050 and rows["API replica"]["baseline"] == "per echo request: 700 µs"
    assert rows["Scheduler"]["value"] == 450 and rows["Scheduler"]["baseline"] == "per echo request: 0 µs"
    assert rows["whole machine"]["value"] == 1050 + 450 + 400
    assert rows["whole machine"]["ratio"] == round(1100 / 1900, 2)
