"""docs/cluster.md followed on this machine: a Ray head and a second node joined by address (two
``ray start`` processes), with Ray's token authentication as docs/cluster.md sets it up. A driver
connects and runs a batch; ``videoai serve`` joins the cluster and ``serve deploy`` deploys the
shipped config over it. Checked: the control plane runs on the head node, each task says on which
node it ran, the outputs are readable from the driver, every entry point uses one store, nothing
answers 500, and a process with the wrong Ray auth settings is told how to fix them at once.

Heavy on a shared 2-core machine. The same path without a token is not run again here: its batch
over two nodes is tests/cluster/test_cluster.py's, and its auth errors are test_ray_auth.py's."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from ray_nodes import BIN, ROOT, RayNodes, free_port, ray_nodes

pytestmark = pytest.mark.slow


def _run(nodes: RayNodes, args: list[str], timeout: float, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=nodes.env(**env), capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def _drive(nodes: RayNodes) -> dict[str, Any]:
    proc = _run(nodes, [sys.executable, str(Path(__file__).with_name("documented_driver.py"))], 300)
    assert proc.returncode == 0, proc.stderr[-3000:] + nodes.logs()
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _check_driver(out: dict[str, Any]) -> None:
    assert out["counts"] == {"completed": 8}, out
    assert out["nodes_recorded"] and set(out["task_nodes"]) <= {out["head"], out["other"]}
    assert set(out["frame_nodes"]) == set(out["task_nodes"])
    assert out["png"]
    assert out["started_on"] == out["other"]  # asked for from the second node ...
    placed = out["placement"]  # ... the control plane runs on the head all the same
    assert placed["head_node_id"] == out["head"] and placed["all_on_head"], placed
    for part in ("scheduler", "artifact_sink", "webhook_dispatcher"):
        assert placed["actors"][part] == {"node_id": out["head"], "on_head": True}, placed


def _wait_health(url: str, proc: subprocess.Popen[bytes] | None, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc is None or proc.poll() is None, "videoai serve exited"
        try:
            r = httpx.get(f"{url}/api/v1/media/health", timeout=10)
            if r.status_code == 200:
                return dict(r.json())
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} did not become healthy in {timeout:.0f} s")


def _serve_config(nodes: RayNodes, port: int) -> Path:
    """The shipped serve/config.yaml, on this test's port, with a VIDEOAI_HOME of its own (as the
    shipped /tmp/videoai is: another folder than the Scheduler's)."""
    config = yaml.safe_load((ROOT / "serve" / "config.yaml").read_text())
    config["http_options"].update(host="127.0.0.1", port=port)
    config["applications"][0]["runtime_env"]["env_vars"]["VIDEOAI_HOME"] = str(nodes.base / "config-home")
    path = nodes.base / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _app_status(nodes: RayNodes) -> dict[str, Any]:
    out = _run(nodes, [str(BIN / "serve"), "status", "-a", f"http://127.0.0.1:{nodes.dashboard_port}"], 60).stdout
    return dict((yaml.safe_load(out) or {}).get("applications", {}).get("videoai") or {})


def _serve_deploy(nodes: RayNodes, config: Path) -> None:
    """``serve deploy`` the config over the running application; wait until the new one runs."""
    before = _app_status(nodes).get("last_deployed_time_s")
    proc = _run(nodes, [str(BIN / "serve"), "deploy", str(config), "-a", f"http://127.0.0.1:{nodes.dashboard_port}"],
                120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    deadline = time.monotonic() + 180
    app: dict[str, Any] = {}
    while time.monotonic() < deadline:
        app = _app_status(nodes)
        if app.get("status") == "DEPLOY_FAILED":
            break
        if app.get("status") == "RUNNING" and app.get("last_deployed_time_s") != before:
            return
        time.sleep(2)
    raise AssertionError(f"serve deploy did not reach RUNNING: {app}")


def _api_calls(url: str) -> dict[str, Any]:
    """A submit with ?wait, the task, its file and the task list: none may answer 5xx."""
    from videoai_ray.api.auth import create_token
    from videoai_ray.settings import Settings

    headers = {"Authorization": f"Bearer {create_token(Settings(), 'doc-user', 600)}"}
    with httpx.Client(base_url=f"{url}/api/v1/media", headers=headers, timeout=60) as c:
        r = c.post("/images/generate", params={"wait": 30},
                   json={"prompt": "a cat", "size": "512x512", "provider": "local-procedural-image"})
        assert r.status_code == 200, r.text
        task = r.json()
        codes = [c.get(f"/tasks/{task['id']}").status_code, c.get("/tasks").status_code,
                 c.get(task["output"]["image_url"].removeprefix("/api/v1/media")).status_code,
                 c.get("/statistics").status_code]
    assert codes == [200, 200, 200, 200], codes
    return dict(task)


def test_the_documented_path_with_rays_token_auth() -> None:
    with ray_nodes(token=True, dashboard=True) as nodes:
        # a process without the token settings is told what to do, at once (Ray itself retries ~20 s)
        started = time.monotonic()
        refused = _run(nodes, [str(BIN / "videoai"), "cluster", "check"], 60, RAY_AUTH_MODE="disabled")
        assert refused.returncode == 2 and "set RAY_AUTH_MODE=token" in refused.stderr, refused.stderr
        assert time.monotonic() - started < 30  # mostly the CLI's imports on a loaded machine
        out = _drive(nodes)
        _check_driver(out)

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(nodes.base / "videoai-serve.log", "wb")  # noqa: SIM115
        serve = subprocess.Popen([str(BIN / "videoai"), "serve", "--port", str(port), "--ingress", "proxy"],
                                 env=nodes.env(), cwd=nodes.base, stdout=log, stderr=subprocess.STDOUT)
        try:
            health = _wait_health(url, serve, 240)
            assert health["checks"]["store"]["status"] == "ok", health
            placed = health["checks"]["control_plane"]
            assert placed["all_on_head"] and placed["here"]["on_head"], placed
            assert placed["actors"]["serve_controller"]["on_head"], placed
            task = _api_calls(url)
            assert task["node"]["node_id"] in (out["head"], out["other"])

            _serve_deploy(nodes, _serve_config(nodes, port))
            health = _wait_health(url, None, 120)
            assert health["status"] == "healthy" and health["checks"]["store"]["status"] == "ok", health
            _api_calls(url)
            assert not (nodes.base / "config-home").exists()  # the replicas opened the Scheduler's store
        finally:
            serve.send_signal(signal.SIGINT)
            try:
                serve.wait(timeout=60)
            except subprocess.TimeoutExpired:
                serve.kill()
            log.close()
