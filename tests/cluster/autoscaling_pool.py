"""Run by test_autoscaling.py in its own process (it needs a Ray of its own): a Ray cluster whose
autoscaler adds fake nodes on this machine, with a GPU worker node type of ``min_workers: 0``.
A model pool that needs a GPU gets work: the autoscaler adds a GPU node, the pool runs there, and
once idle the pool stops its actor, its request to the autoscaler is cleared and the node is
removed. Prints one JSON line of what was observed, with the seconds each step took.

Ray's ``cluster_utils.AutoscalingCluster`` recipe (the ``fake_multinode`` node provider,
``RAY_FAKE_CLUSTER=1``, a one-second autoscaler update), not its ``start()``: that runs ``ray stop
--force``, which stops every Ray on the machine (other test sessions' too), and it starts the head
on port 6379, Redis's; its config template (``fake_multi_node/example.yaml``) is not in the wheel
either. Here the head gets free ports, its own temp folder and home, and every process it started
is stopped at the end.

    python tests/cluster/autoscaling_pool.py     # prints the JSON line; docs/cluster.md quotes it
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray_nodes import BIN, ROOT, free_port

#: the fake provider's id for the head node (``fake_multi_node.node_provider.FAKE_HEAD_NODE_ID``)
HEAD_ID = "fffffffffffffffffffffffffffffffffffffffffffffffffff00000"
#: seconds an idle node waits before the autoscaler removes it (cluster.yaml's is 10 minutes)
IDLE_TIMEOUT_S = 6.0
#: seconds an idle pool actor waits before the pool stops it (``pool_idle_s``)
POOL_IDLE_S = 3.0


def autoscaling_config(gcs_address: str) -> dict[str, Any]:
    """A cluster launcher config as ``cluster.yaml``'s, for the fake node provider: a head with
    one CPU, and a ``gpu_worker`` type (one CPU, one GPU) of which the cluster starts none."""
    return {
        "cluster_name": "videoai-autoscale-test", "max_workers": 2, "upscaling_speed": 1.0,
        "idle_timeout_minutes": IDLE_TIMEOUT_S / 60,
        "provider": {"type": "fake_multinode", "gcs_address": gcs_address, "use_node_id_as_ip": True,
                     "disable_launch_config_check": True, "disable_node_updaters": True},
        "auth": {"ssh_user": "nobody"},
        "available_node_types": {
            "ray.head.default": {"resources": {"CPU": 1}, "node_config": {}, "max_workers": 0},
            "gpu_worker": {"resources": {"CPU": 1, "GPU": 1}, "node_config": {}, "min_workers": 0, "max_workers": 1},
        },
        "head_node_type": "ray.head.default",
        "file_mounts": {}, "cluster_synced_files": [], "file_mounts_sync_continuously": False,
        "rsync_exclude": [], "rsync_filter": [], "initialization_commands": [], "setup_commands": [],
        "head_setup_commands": [], "worker_setup_commands": [], "head_start_ray_commands": [],
        "worker_start_ray_commands": [],
    }


class FakeAutoscalingCluster:
    """A head node started with ``--autoscaling-config``; the autoscaler's fake provider starts
    and stops worker nodes as processes on this machine."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="vas-", dir="/tmp"))  # short: Ray's socket paths
        self.home = self.base / "home"
        self.home.mkdir()
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.config = self.base / "autoscaling.json"
        self.config.write_text(json.dumps(autoscaling_config(self.address)))
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "VIDEOAI_"))}
        env.update(HOME=str(self.home), RAY_USAGE_STATS_ENABLED="0", RAY_FAKE_CLUSTER="1",
                   AUTOSCALER_UPDATE_INTERVAL_S="1", RAY_OVERRIDE_NODE_ID_FOR_TESTING=HEAD_ID,
                   RAY_CLOUD_INSTANCE_ID=HEAD_ID, PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                   PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
        return env

    def start(self, timeout: float = 180) -> None:
        log = self.base / "head.log"
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(BIN / "ray"), "start", "--head", "--block", "--disable-usage-stats", f"--port={self.port}",
                 "--num-cpus=1", f"--autoscaling-config={self.config}", f"--temp-dir={self.base / 't'}",
                 "--include-dashboard=false", f"--ray-client-server-port={free_port()}",
                 f"--dashboard-agent-listen-port={free_port()}", f"--metrics-export-port={free_port()}"],
                env=self.env(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Ray runtime started" in log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.5)
        raise RuntimeError(f"the autoscaling head did not start: {log.read_text(errors='replace')[-3000:]}")

    def monitor_log(self) -> str:
        logs = sorted(self.base.glob("t/session_*/logs/monitor.*"))
        return "".join(p.read_text(errors="replace")[-3000:] for p in logs)

    def shutdown(self) -> None:
        """SIGTERM to ``ray start`` and its process group, then every process left that runs with
        this cluster's home folder (the fake worker nodes), by pid."""
        import psutil

        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
        for proc in psutil.process_iter(["pid", "cmdline", "environ"]):
            with contextlib.suppress(psutil.Error):
                cmd = " ".join(proc.info["cmdline"] or [])
                env = proc.info["environ"] or {}
                if proc.pid != os.getpid() and (str(self.base) in cmd or env.get("HOME") == str(self.home)):
                    proc.kill()
        shutil.rmtree(self.base, ignore_errors=True)


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> float:
    """Seconds until ``check()`` is true (polled), or ``TimeoutError`` naming ``what``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(0.25)
    raise TimeoutError(f"{what}: not within {timeout:.0f} s")


def gpu_nodes() -> list[str]:
    import ray

    return [n["NodeID"] for n in ray.nodes() if n.get("Alive") and (n.get("Resources") or {}).get("GPU")]


def requested() -> Any:
    """What the autoscaler is asked for now by ``request_resources`` (Ray's KV, v1 autoscaler)."""
    from ray._private import ray_constants
    from ray.experimental.internal_kv import _internal_kv_get

    raw = _internal_kv_get(ray_constants.AUTOSCALER_RESOURCE_REQUEST_CHANNEL)
    return json.loads(raw) if raw else None


def scenario(cluster: FakeAutoscalingCluster) -> dict[str, Any]:
    import ray

    import videoai_ray as vai
    from videoai_ray.providers.testing import BatchSleepProvider

    ray.init(address=cluster.address, namespace="videoai", log_to_driver=False)
    out: dict[str, Any] = {"gpu_nodes_at_start": gpu_nodes()}
    settings = vai.Settings(home=cluster.base / "data", instance="autoscale", cache_enabled=False, max_retries=0,
                            autoscaling_config=cluster.config)
    pool = BatchSleepProvider(0.2, name="gpu-pool", num_gpus=1, pool_min=0, pool_max=1, pool_idle_s=POOL_IDLE_S,
                              max_batch_size=2, batch_wait_s=0.0)
    # no node type has two GPUs: the autoscaler cannot help it, so it stays unavailable
    too_big = BatchSleepProvider(0.2, name="two-gpus", num_gpus=2)
    client = vai.connect(settings=settings, providers=[pool, too_big])

    def row(name: str = "gpu-pool") -> dict[str, Any]:
        return next(r for r in client.service.providers.list() if r["name"] == name)

    before, big = row(), row("two-gpus")
    out["before"] = {"available": before["available"], "reason": before["unavailable_reason"], "cap": before["cap"]}
    out["two_gpus"] = {"available": big["available"], "reason": big["unavailable_reason"]}
    started = time.monotonic()
    batch = client.batch([{"task_type": "image_generation", "input_data": {"prompt": f"p{i}", "provider": "gpu-pool"}}
                          for i in range(4)])
    requests_seen: list[Any] = []

    def first_done() -> bool:
        if not requests_seen and requested():
            requests_seen.append(requested())
        return any(t.status.value in ("completed", "failed") for t in batch.results())

    out["s_to_first_result"] = round(wait_for("first result", first_done, 150), 2)
    out["counts"] = batch.wait(timeout=120)
    out["s_to_all_results"] = round(time.monotonic() - started, 2)
    out["requested_while_starting"] = requests_seen[0] if requests_seen else None
    tasks = batch.results()
    out["task_nodes"] = sorted({(t.node or {}).get("node_id") for t in tasks})
    out["gpu_nodes_in_use"] = gpu_nodes()
    out["pool_during"] = {k: row()["pool"][k] for k in ("size", "started", "limit")}
    idle_from = time.monotonic()
    out["s_to_pool_zero"] = round(wait_for("pool back to zero actors",
                                           lambda: row()["pool"]["size"] == 0, 60), 2)
    out["request_after_idle"] = requested()
    wait_for("GPU node removed", lambda: not gpu_nodes(), 120)
    out["s_idle_to_node_removed"] = round(time.monotonic() - idle_from, 2)
    return out


def main() -> int:
    cluster = FakeAutoscalingCluster()
    try:
        cluster.start()
        out = scenario(cluster)
        print(json.dumps(out))
        return 0
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}\n--- monitor log:\n{cluster.monitor_log()}", file=sys.stderr)
        raise
    finally:
        with contextlib.suppress(Exception):
            import ray

            ray.shutdown()
        cluster.shutdown()


if __name__ == "__main__":
    sys.exit(main())
