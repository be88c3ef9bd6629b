"""Ray 2.60's token authentication, as a process that joins a cluster meets it: each wrong setting
is named with its fix, asked of the cluster's GCS in well under a second (Ray itself retries about
20 s, then says ``InvalidAuthToken`` or ``ConnectionError``). The cluster here is the test
session's own Ray, which a local ``ray.init()`` starts with token auth on."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from videoai_ray.errors import RayAuthError
from videoai_ray.ray_join import check_auth, join_ray

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gcs(ray_session: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The session Ray's GCS address, and an environment of a machine without any Ray setting."""
    import ray
    from ray._private.authentication.authentication_utils import is_token_auth_enabled

    if not is_token_auth_enabled():
        pytest.skip("the session's Ray runs without token auth (RAY_AUTH_MODE=disabled)")
    for var in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ray/auth_token here
    yield str(ray.get_runtime_context().gcs_address)


def _timed(address: str) -> tuple[str | None, float]:
    started = time.monotonic()
    problem = check_auth(address)
    return problem, time.monotonic() - started


def test_a_driver_without_the_mode_is_told_to_set_it(gcs: str) -> None:
    problem, seconds = _timed(gcs)
    assert problem is not None and "requires Ray's token authentication: set RAY_AUTH_MODE=token" in problem
    assert seconds < 5
    with pytest.raises(RayAuthError, match="set RAY_AUTH_MODE=token"):
        join_ray(gcs)  # refused before ray.init is called


def test_the_mode_without_a_token_names_where_the_token_goes(gcs: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    problem, seconds = _timed(gcs)
    assert problem is not None and "has no Ray token" in problem and "~/.ray/auth_token" in problem
    assert seconds < 5


def test_another_token_is_named_as_not_the_clusters(gcs: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", "0" * 64)
    problem, _ = _timed(gcs)
    assert problem is not None and "(RAY_AUTH_TOKEN) is not the one of the cluster" in problem


def test_the_clusters_token_is_accepted(gcs: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from ray._raylet import AuthenticationTokenLoader

    token = AuthenticationTokenLoader.instance().get_raw_token(ignore_auth_mode=True)
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    monkeypatch.setenv("RAY_AUTH_TOKEN", token)
    assert check_auth(gcs) is None
    monkeypatch.delenv("RAY_AUTH_MODE")  # asked by address, the mode is needed even with the token
    assert "set RAY_AUTH_MODE=token" in (check_auth(gcs) or "")


@pytest.mark.slow
def test_connect_names_the_fix_when_the_mode_is_set_without_a_token(gcs: str, tmp_path: Path) -> None:
    """``connect()`` used to skip its hint exactly when ``RAY_AUTH_MODE`` was set."""
    import os

    env = {**os.environ, "RAY_AUTH_MODE": "token", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", f"import videoai_ray as vai; vai.connect({gcs!r})"], env=env,
                          capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("videoai_ray.errors.RayAuthError: RAY_AUTH_MODE=token is set but this process has no "
                           "Ray token"), proc.stderr[-2000:]
