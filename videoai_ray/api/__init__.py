"""The HTTP face of the core: FastAPI routes, JWT auth, rate limits, and the Ray Serve deployment.

``create_token`` and ``create_app`` import no Ray Serve code; ``run_server`` and
``build_application`` (the Serve parts) are loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .app import create_app
from .auth import Caller, create_token, verify_token
from .context import API_PREFIX, ApiContext

if TYPE_CHECKING:
    from .deployment import build_application
    from .server import ServerInfo, run_server

_LAZY = {"build_application": "deployment", "run_server": "server", "ServerInfo": "server"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    # the app
    "API_PREFIX",
    "ApiContext",
    "create_app",
    # auth
    "Caller",
    "create_token",
    "verify_token",
    # running it
    "ServerInfo",
    "build_application",
    "run_server",
]
