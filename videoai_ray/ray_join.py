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


def _needs_mode(where: str) -> str:
    return (f"the Ray cluster at {where} requires Ray's token authentication: set {AUTH_MODE_ENV}=token "
            "in this process's environment, with the head node's token; " + _WHERE)


def _no_token(where: str) -> str:
    return (f"{AUTH_MODE_ENV}=token is set but this process has no Ray token to join {where}: copy the head "
            "node's ~/.ray/auth_token here, or unset RAY_AUTH_MODE for a cluster without auth; " + _WHERE)


def _wrong_token(where: str) -> str:
    return (f"the Ray token of this process ({token_source()}) is not the one of the cluster at {where}: "
            "use the head node's; " + _WHERE)


def auth_problem(exc: BaseException, address: str | None) -> str | None:
    """The videoai explanation of why joining ``address`` failed, when Ray's auth is the cause."""
    text = str(exc)
    if not (isinstance(exc, ray.exceptions.AuthenticationError) or "auth" in text.lower()
            or "UNAUTHENTICATED" in text):
        return None
    where = address or os.environ.get("RAY_ADDRESS") or "this machine's Ray"
    if not token_mode():
        return _needs_mode(where)
    return _no_token(where) if token_source() is None else _wrong_token(where)


def read_token() -> str | None:
    """This process's Ray token (as Ray would send it), or ``None``."""
    source = token_source()
    if source is None:
        return None
    if source == "RAY_AUTH_TOKEN":
        return os.environ["RAY_AUTH_TOKEN"].strip()
    return Path(source).expanduser().read_text().strip()


def _target(address: str | None) -> tuple[str | None, bool]:
    """The ``host:port`` that ``ray.init(address)`` would join (``None``: it starts a local Ray, or
    goes through Ray Client), and whether it is explicit (Ray then never turns token auth on by
    itself)."""
    if address in (None, "auto") and os.environ.get("RAY_ADDRESS"):
        address = os.environ["RAY_ADDRESS"]
    if address == "local" or (address is not None and "://" in address):
        return None, True
    if address not in (None, "auto"):
        return address, True
    from ray._private import services

    try:
        return services.canonicalize_bootstrap_address(address or "auto"), False
    except Exception:  # no cluster recorded on this machine: ray.init says so itself
        return None, False


def _gcs_refuses(target: str, token: str | None, timeout: float) -> bool | None:
    """Whether the GCS at ``target`` refuses a call carrying ``token`` (or none) as
    unauthenticated; ``None`` when it cannot be asked (down, not a GCS)."""
    import grpc

    metadata = [("authorization", f"Bearer {token}")] if token else []
    with grpc.insecure_channel(target) as channel:
        call = channel.unary_unary("/ray.rpc.NodeInfoGcsService/GetClusterId",
                                   request_serializer=lambda m: m, response_deserializer=lambda b: b)
        try:
            call(b"", timeout=timeout, metadata=metadata)
        except grpc.RpcError as e:
            return True if e.code() == grpc.StatusCode.UNAUTHENTICATED else None
    return False


def check_auth(address: str | None = None, timeout: float = 5.0) -> str | None:
    """Ask the cluster's GCS, in well under a second, whether this process's Ray auth settings
    would let it join ``address``; the problem and its fix, or ``None`` (nothing to join, no auth
    needed, or our token accepted). Without it a wrong setting costs about 20 s of Ray retrying
    before a bare ``InvalidAuthToken`` / ``ConnectionError``."""
    target, explicit = _target(address)
    if target is None:
        return None
    if not _gcs_refuses(target, None, timeout):
        return None  # no auth on that cluster (or it cannot be asked: ray.init reports that)
    sends = token_mode() or (not explicit and AUTH_MODE_ENV not in os.environ and token_source() is not None)
    if not sends:
        return _needs_mode(target)
    token = read_token()
    if token is None:
        return _no_token(target)
    if _gcs_refuses(target, token, timeout):
        return _wrong_token(target)
    return None


def join_ray(address: str | None = None, **ray_init: Any) -> Any:
    """``ray.init(address, **ray_init)``; a ``RayAuthError`` naming the fix when Ray's token
    authentication is why it would fail (asked first, ``check_auth``) or did (Ray's own errors
    otherwise)."""
    problem = check_auth(address)
    if problem is not None:
        raise RayAuthError(problem)
    try:
        return ray.init(address=address, **ray_init)
    except (ConnectionError, RuntimeError, ray.exceptions.AuthenticationError) as e:
        problem = auth_problem(e, address)
        if problem is None:
            raise
        raise RayAuthError(problem) from e


__all__ = ["AUTH_MODE_ENV", "auth_problem", "check_auth", "join_ray", "read_token", "token_mode", "token_source"]
