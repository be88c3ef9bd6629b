"""Helpers of the security tests: a loopback origin server that records what it was asked."""

from __future__ import annotations

import contextlib
from typing import Any

from loopback import QuietHandler, serving


class Origin:
    """An HTTP server on 127.0.0.1 that answers every GET with ``body`` (or ``status``) and
    records the paths it was asked for."""

    def __init__(self, body: bytes = b"RIFF-input-bytes", status: int = 200) -> None:
        self.body = body
        self.status = status
        self.paths: list[str] = []
        self.url = ""
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> Origin:
        origin = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                origin.paths.append(self.path)
                self.answer(origin.status, origin.body if origin.status == 200 else b"unavailable")

        self.url = self._stack.enter_context(serving(Handler))
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()
