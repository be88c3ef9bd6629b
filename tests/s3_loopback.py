"""An S3-compatible server on loopback for the tests (moto's server mode, spoken to over HTTP).

``s3_server`` (session fixture) starts one server per test session and gives its endpoint and
the ``storage_options`` that the deployment passes to fsspec (``VIDEOAI_STORAGE_OPTIONS``);
``s3_bucket`` makes a fresh, empty bucket per test. Nothing here reaches past 127.0.0.1.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    #: moto accepts any credentials; these stand for a deployment's own
    key: str = "videoai-test-key"
    secret: str = "videoai-test-secret"
    region: str = "eu-west-1"  # us-east-1 takes no LocationConstraint, which s3fs sends
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def storage_options(self) -> dict[str, dict[str, Any]]:
        """``Settings.storage_options`` for this server."""
        return {
            "s3": {
                "endpoint_url": self.endpoint,
                "key": self.key,
                "secret": self.secret,
                "client_kwargs": {"region_name": self.region},
                **self.extra,
            }
        }

    def fs(self) -> Any:
        import s3fs

        return s3fs.S3FileSystem(**self.storage_options["s3"], skip_instance_cache=True)

    def make_bucket(self, prefix: str = "bucket") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.fs().mkdir(name, region_name=self.region)
        return name


def start_s3_server() -> tuple[Any, S3Server]:
    """Start moto's threaded server on a free loopback port; (server, its description)."""
    pytest.importorskip("moto.server", reason="the tests' S3 server is moto[server] (make test installs it)")
    pytest.importorskip("s3fs", reason="S3 URLs are opened through s3fs (make test installs it)")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    port = server._server.server_port  # port 0: the free port the OS chose
    return server, S3Server(endpoint=f"http://127.0.0.1:{port}")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server, described = start_s3_server()
    try:
        yield described
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> str:
    """A new empty bucket's name."""
    return s3_server.make_bucket()
