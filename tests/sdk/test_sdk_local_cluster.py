"""``connect("local")``: the private cluster it starts runs with Ray's token authentication, set
explicitly, so Ray logs no notice about it (it was the red text of every notebook's first cell),
and Ray's INFO start line is not printed either (unless the dashboard is on).

The start happens in a child process: it needs a Ray of its own, apart from the test session's."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from videoai_ray.local_cluster import prepare_local_cluster, set_local_cluster_auth_mode
from videoai_ray.ray_join import AUTH_MODE_ENV

ROOT = Path(__file__).resolve().parents[2]
CHILD = """
import json, os, sys
import ray
import videoai_ray as vai
from videoai_ray.providers.testing import NoopProvider
from videoai_ray.scheduler import kill_scheduler

settings = vai.Settings(home=sys.argv[1], instance="t-local-auth")
client = vai.connect("local", settings=settings, num_cpus=1, include_dashboard=False, providers=[NoopProvider()])
providers = list(client.providers().index)
from ray._raylet import get_authentication_mode, AuthenticationMode
token = get_authentication_mode() == AuthenticationMode.TOKEN
kill_scheduler(settings)
ray.shutdown()
print(json.dumps({"mode": os.environ.get("RAY_AUTH_MODE"), "token": token, "providers": providers}))
"""


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_connect_local_starts_a_token_auth_cluster_without_rays_notice(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", AUTH_MODE_ENV) and not k.startswith("VIDEOAI_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], capture_output=True, text=True,
                          timeout=400, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"mode": "token", "token": True, "providers": ["noop"]}, result
    assert "Token authentication" not in proc.stderr and "RAY_AUTH_MODE" not in proc.stderr, proc.stderr[-2000:]
    assert "Started a local Ray instance" not in proc.stderr, proc.stderr[-2000:]  # Ray's INFO, on red in a notebook


def test_a_mode_the_user_chose_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUTH_MODE_ENV, "disabled")
    assert set_local_cluster_auth_mode() == "disabled"
    assert os.environ[AUTH_MODE_ENV] == "disabled"


def test_rays_log_level_stays_info_with_the_dashboard_and_a_given_level_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AUTH_MODE_ENV, "token")  # already chosen: nothing of Ray's is reloaded here
    quiet: dict[str, object] = {}
    dashboard: dict[str, object] = {"include_dashboard": True}
    chosen: dict[str, object] = {"logging_level": logging.DEBUG}
    for ray_init in (quiet, dashboard, chosen):
        prepare_local_cluster(ray_init)
    assert (quiet["logging_level"], dashboard["logging_level"], chosen["logging_level"]) == (
        logging.WARNING, logging.INFO, logging.DEBUG)
