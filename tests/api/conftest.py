"""The HTTP API, started once per test session with ``run_server`` (real Ray Serve, the fastest
ingress available, a real Scheduler with test providers) and called over HTTP with httpx.

Rate-limit counters live in the machine's Redis when it runs (else in memory; the Redis tests
then skip, or fail under CI)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from served_api import MAX_BYTES, Api, free_port, serve_test_env

from videoai_ray.errors import InvalidInput
from videoai_ray.providers.local import LocalSubtitleProvider
from videoai_ray.providers.testing import FixedLatencyProvider, FlakyProvider, InputReaderProvider, NoopProvider
from videoai_ray.scheduler import kill_scheduler
from videoai_ray.settings import Settings

#: the same Redis database as the ``redis_url`` fixture of ``tests/conftest.py``
REDIS_URL = os.environ.get("VIDEOAI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def api_settings(home: Path) -> Settings:
    return Settings(
        home=home, instance="t-api", database_url=None,
        redis_url=REDIS_URL if _redis_up() else None,
        url_allowlist=("127.0.0.1", "localhost"), retry_schedule=(0.2, 0.4, 0.8), max_retries=1,
        max_request_bytes=MAX_BYTES, blocklist=("forbiddenword",), rate_limit_per_minute=1000,
        webhook_timeout=2.0, webhook_progress_interval=0,
        # generous: the whole session calls from 127.0.0.1, and some tests send bad tokens on purpose
        auth_failures_per_minute=2000,
        # every-second crons (the default minimum interval between a schedule's firings is 60 s)
        schedule_min_interval_seconds=1,
        # tenants may store their own provider keys (tests/api/security/test_sec_tenant_keys.py)
        secrets_key=SecretStr(Fernet.generate_key().decode()),
    )


@pytest.fixture(scope="session")
def api(ray_session: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    from ray import serve

    from videoai_ray.api import run_server

    settings = api_settings(tmp_path_factory.mktemp("api-home"))
    haproxy_dir = tempfile.mkdtemp(prefix="vai-hap-")  # short: it holds Unix sockets
    kill_scheduler(settings)
    providers = [
        NoopProvider(),
        FixedLatencyProvider(0.3, 4, name="slow"),
        FixedLatencyProvider(60.0, 1, name="park"),
        FixedLatencyProvider(0.02, 4, name="priced", cost=0.25, quality=0.001),
        FlakyProvider(99, InvalidInput("the prompt is not acceptable"), name="perm"),
        LocalSubtitleProvider(),
        InputReaderProvider(),
    ]
    info = run_server(settings, port=free_port(), blocking=False, providers=providers,
                      serve_env=serve_test_env(haproxy_dir))
    handle = Api(info, settings, haproxy_dir=haproxy_dir)
    yield handle
    handle.close()
    serve.shutdown()
    kill_scheduler(settings)
    shutil.rmtree(haproxy_dir, ignore_errors=True)
