"""The ingress: HAProxy's statistics page is off and its metrics exporter listens only on the
Serve host (loopback here), and HAProxy dies with the process that started it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from served_api import Api

from videoai_ray.api.ingress import hardened_template, tied_to_parent


def _haproxy_processes(api: Api) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = p.info["cmdline"] or []
        if p.info["name"] and "haproxy" in p.info["name"] and any(api.haproxy_dir in part for part in cmd):
            found.append(p)
    return found


def test_stats_off_and_metrics_on_loopback(api: Api) -> None:
    if api.info.ingress != "haproxy":
        pytest.skip("the session's Serve runs without HAProxy (no binary)")
    procs = _haproxy_processes(api)
    assert procs, "no HAProxy process of this session"
    for p in procs:
        cfg = Path(p.cmdline()[p.cmdline().index("-f") + 1]).read_text()
        assert "listen stats" not in cfg and "stats uri" not in cfg
        listening = [(c.laddr.ip, c.laddr.port) for c in p.net_connections("inet") if c.status == "LISTEN"]
        assert listening and all(ip == "127.0.0.1" for ip, _ in listening), listening


def test_the_template_change_is_exact() -> None:
    from ray.serve._private.haproxy_templates import HAPROXY_CONFIG_TEMPLATE

    out = hardened_template(HAPROXY_CONFIG_TEMPLATE)
    assert "listen stats" not in out and "stats_port" not in out
    assert "bind {{ config.frontend_host }}:{{ config.metrics_port }}" in out
    assert HAPROXY_CONFIG_TEMPLATE.count("\n") - out.count("\n") == 5  # the stats section, nothing else
    with pytest.raises(ValueError):
        hardened_template("global\n")


_SPAWN = """
import asyncio, sys
from videoai_ray.api.ingress import tied_to_parent

async def main():
    proc = await tied_to_parent(asyncio.create_subprocess_exec)(sys.argv[1], "60")
    print(proc.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def test_haproxy_dies_with_its_parent(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux only")
    fake = tmp_path / "haproxy"  # the name decides; the program is a plain sleep
    fake.symlink_to("/bin/sleep")
    parent = subprocess.Popen([sys.executable, "-c", _SPAWN, str(fake)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(parent.stdout.readline()))
        assert child.is_running()
        os.kill(parent.pid, signal.SIGKILL)  # as `ray stop --force` does
        parent.wait(10)
        child.wait(10)  # raises TimeoutExpired if the child outlived its parent
    finally:
        parent.kill()
    assert asyncio.iscoroutinefunction(tied_to_parent(asyncio.create_subprocess_exec))
