"""Two ``ray start`` processes on this machine, a head and a second node joined by its address,
as docs/cluster.md has them: their own ports (not 6379: Redis runs there), temp folders and home
folder (so the machine's ``~/.ray/auth_token`` plays no part), and every process they start
stopped at the end, even when a test fails."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

#: environment variables of the test process that must not leak into the cluster's
_DROP = ("RAY_", "VIDEOAI_", "DATABASE_URL", "REDIS_URL")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RayNodes:
    """Where the cluster is, and the environment every process of it (and its drivers) runs with."""

    base: Path
    token: bool
    port: int = field(default_factory=free_port)
    dashboard_port: int = field(default_factory=free_port)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def home(self) -> Path:
        return self.base / "home"

    @property
    def data(self) -> Path:
        return self.base / "data"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROP)}
        env.update(HOME=str(self.home), PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
                   VIDEOAI_HOME=str(self.data), RAY_ADDRESS=self.address, RAY_USAGE_STATS_ENABLED="0",
                   PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}")
        if self.token:
            env["RAY_AUTH_MODE"] = "token"  # docs/cluster.md: on every node and every driver
        env.update(extra)
        return env

    def _start(self, name: str, args: Sequence[str], env: dict[str, str], timeout: float = 180) -> None:
        """``ray start --block`` until it says it runs; started again when it gave up (Ray waits 30 s
        for a raylet to register, which a loaded 2-core machine can pass)."""
        for attempt in range(3):
            log = self.base / f"{name}.log"
            with log.open("ab") as out:
                proc = subprocess.Popen([str(BIN / "ray"), "start", "--block", "--disable-usage-stats", *args],
                                        env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            self.procs.append(proc)
            deadline = time.monotonic() + timeout
            while proc.poll() is None and time.monotonic() < deadline:
                if "Ray runtime started" in log.read_text(errors="replace").split("--- attempt ")[-1]:
                    return
                time.sleep(0.5)
            if proc.poll() is None:
                raise TimeoutError(f"`ray start` ({name}) did not start in {timeout:.0f} s: {self.logs()}")
            with log.open("a") as out:
                out.write(f"\n--- attempt {attempt + 2}\n")
        raise RuntimeError(f"`ray start` ({name}) failed three times: {self.logs()}")

    def start(self, dashboard: bool) -> None:
        self.home.mkdir(parents=True)
        if self.token:  # what `ray get-auth-token --generate` does, once, before `ray start --head`
            (self.home / ".ray").mkdir()
            (self.home / ".ray" / "auth_token").write_text(secrets.token_hex(32))
        env = self.env()
        env.pop("RAY_ADDRESS")

        def common() -> list[str]:  # each node's own agent ports: the defaults would meet other Rays here
            return ["--dashboard-agent-listen-port", str(free_port()), "--metrics-export-port", str(free_port())]

        self._start("head", ["--head", f"--port={self.port}", "--num-cpus=1", f"--temp-dir={self.base / 'h'}",
                             f"--ray-client-server-port={free_port()}",
                             f"--include-dashboard={'true' if dashboard else 'false'}",
                             f"--dashboard-port={self.dashboard_port}", "--dashboard-host=127.0.0.1", *common()], env)
        self._start("worker", [f"--address={self.address}", "--num-cpus=2", f"--temp-dir={self.base / 'w'}",
                               *common()], env)

    def logs(self) -> str:
        return " | ".join(f"{p.name}: {p.read_text(errors='replace')[-1500:]}" for p in self.base.glob("*.log"))

    def stop(self) -> None:
        """SIGTERM to each ``ray start`` and its process group, then SIGKILL; then any process of
        this cluster left (found by its temp folder in its command line), by pid."""
        import psutil

        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
        marker = str(self.base)
        for proc in psutil.process_iter(["pid", "cmdline", "environ"]):
            with contextlib.suppress(psutil.Error):
                cmd = " ".join(proc.info["cmdline"] or [])
                env = proc.info["environ"] or {}
                if proc.pid != os.getpid() and (marker in cmd or env.get("HOME") == str(self.home)):
                    proc.kill()


@contextlib.contextmanager
def ray_nodes(*, token: bool, dashboard: bool = False) -> Iterator[RayNodes]:
    """The two nodes, in a short folder of their own (Ray's Unix sockets live under it, and a
    socket path may not pass 107 bytes), removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="vrn-", dir="/tmp"))
    nodes = RayNodes(base, token)
    try:
        nodes.start(dashboard)
        yield nodes
    finally:
        nodes.stop()
        shutil.rmtree(base, ignore_errors=True)
