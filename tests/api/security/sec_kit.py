"""Helpers of the security tests: a loopback origin server that records what it was asked."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Origin:
    """An HTTP server on 127.0.0.1 that answers every GET with ``body`` (or ``status``) and
    records the paths it was asked for."""

    def __init__(self, body: bytes = b"RIFF-input-bytes", status: int = 200) -> None:
        self.body = body
        self.status = status
        self.paths: list[str] = []
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                origin.paths.append(self.path)
                payload = origin.body if origin.status == 200 else b"unavailable"
                self.send_response(origin.status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Origin:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
