"""Joining a Ray cluster, with Ray 2.60's token authentication explained when it refuses us.

How Ray 2.60 decides (``ray/_private/authentication``): a new local ``ray.init()`` turns token
auth on and writes a token to ``~/.ray/auth_token`` when there is none; ``ray start --head``
turns it on only when a token already exists (or ``RAY_AUTH_MODE=token`` is set, and then it
refuses to start without one); ``ray.init(address="auto")`` (or no address) to a cluster of this
machine turns it on when a token exists; an explicit address (``host:port``, ``RAY_ADDRESS``) and
``ray start --address`` never do: they need ``RAY_AUTH_MODE=token``. The token is read from
``RAY_AUTH_TOKEN``, the file ``RAY_AUTH_TOKEN_PATH`` names, or ``~/.ray/auth_token``; every
node and driver of a cluster must hold the head's. ``ray get-auth-token --generate`` makes one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ray

from .errors import RayAuthError

AUTH_MODE_ENV = "RAY_AUTH_MODE"
#: what every message below ends with: where the token goes, and Ray's own page
_WHERE = ("the token is read from RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token "
          "(docs/cluster.md, https://docs.ray.io/en/latest/ray-security/token-auth.html)")


def token_source() -> str | None:
    """Where this process would read a Ray token from, or ``None`` when it has none."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    path = os.environ.get("RAY_AUTH_TOKEN_PATH")
    if path:
        return path if Path(path).expanduser().is_file() else None
    default = Path.home() / ".ray" / "auth_token"
    return str(default) if default.is_file() else None


def token_mode() -> bool:
    return os.environ.get(AUTH_MODE_ENV, "").lower() == "token"


def auth_problem(exc: BaseException, address: str | None) -> str | None:
    """The videoai explanation of why joining ``address`` failed, when Ray's auth is the cause."""
    text = str(exc)
    where = address or os.environ.get("RAY_ADDRESS") or "this machine's Ray"
    if "Could not find any running Ray instance" in text:
        return None
    if token_mode() and token_source() is None:
        return (f"{AUTH_MODE_ENV}=token is set but this process has no Ray token to join {where}: copy the head "
                "node's ~/.ray/auth_token here, or unset RAY_AUTH_MODE for a cluster without auth; " + _WHERE)
    if isinstance(exc, ray.exceptions.AuthenticationError) or "auth" in text.lower() or "UNAUTHENTICATED" in text:
        if token_mode():
            return (f"the Ray token of this process ({token_source()}) is not the one of the cluster at {where}: "
                    "use the head node's; " + _WHERE)
        return (f"the Ray cluster at {where} requires Ray's token authentication: set {AUTH_MODE_ENV}=token "
                "in this process's environment, with the head node's token; " + _WHERE)
    return None


def join_ray(address: str | None = None, **ray_init: Any) -> Any:
    """``ray.init(address, **ray_init)``; a ``RayAuthError`` naming the fix when Ray's token
    authentication is why it failed (Ray's own errors otherwise)."""
    try:
        return ray.init(address=address, **ray_init)
    except (ConnectionError, RuntimeError, ray.exceptions.AuthenticationError) as e:
        problem = auth_problem(e, address)
        if problem is None:
            raise
        raise RayAuthError(problem) from e


__all__ = ["AUTH_MODE_ENV", "auth_problem", "join_ray", "token_mode", "token_source"]
