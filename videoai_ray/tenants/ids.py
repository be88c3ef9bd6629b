"""Tenant ids, and the owner id a tenant user's work is stored under.

A tenant id is part of storage prefixes (``tenants/<tenant>/``, ``artifacts.tenant_prefix``) and of
metric labels (``metrics.TenantLabels``), so it is held to
a strict ASCII pattern at creation: lower-case letters, digits and ``-``, starting with a letter
or digit, at most 63 characters. Nothing that could climb out of a prefix (``..``, ``/``, ``\\``),
no upper case (``Acme`` and ``acme`` would be two tenants on one case-insensitive disk) and no
unicode look-alike (``acme`` spelled with a Cyrillic ``a``) gets in.

A tenant user's owner id is ``<tenant>/<user>``: every per-user check of the system (tasks,
batches, pipelines, schedules, experiments, webhook deliveries, statistics, the user cache
scope) compares owner ids for equality, so "ana" of acme and "ana" of globex are two owners by
construction. ``/`` is the separator because a tenant id cannot hold one, and a token without a
tenant is refused when its user holds one (``auth``), so no plain user can pass for a tenant's.
Where an owner id reaches a file path it is hashed first (``artifacts.user_key``); in Redis keys
and JSON settings keys (``VIDEOAI_INPUT_ROOTS_BY_USER``) ``/`` is an ordinary character.
"""

from __future__ import annotations

import re

from ..errors import InvalidRequest

#: what a tenant id must match (``re.ASCII``: ``\\d``-style shortcuts are not used either way)
TENANT_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62})$"
_TENANT_ID = re.compile(TENANT_ID_PATTERN, re.ASCII)
#: between the tenant and the user in an owner id
SEPARATOR = "/"
#: the longest user name inside a tenant: 63 + 1 + 64 fits the stores' 128-character owner columns
MAX_TENANT_USER = 64


def valid_tenant_id(value: object) -> bool:
    # fullmatch, not match: ``$`` would accept a trailing newline
    return isinstance(value, str) and _TENANT_ID.fullmatch(value) is not None


def check_tenant_id(value: object, field: str = "id") -> str:
    """``value`` if it is a valid tenant id, else ``InvalidRequest`` naming ``field``."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{field}: a string is required", field=field)
    if not valid_tenant_id(value):
        raise InvalidRequest(f"{field}: a tenant id is 1 to 63 characters of a-z, 0-9 and '-', starting with a "
                             "letter or digit", field=field)
    return value


def check_tenant_user(user: str) -> str:
    """A user name inside a tenant: 1 to ``MAX_TENANT_USER`` characters, no ``/``."""
    if not user or len(user) > MAX_TENANT_USER or SEPARATOR in user:
        raise InvalidRequest(f"user: a tenant's user name is 1 to {MAX_TENANT_USER} characters without "
                             f"{SEPARATOR!r}", field="user")
    return user


def owner_id(tenant: str | None, user: str) -> str:
    """The id a user's work is stored under: ``user`` alone without a tenant, else
    ``<tenant>/<user>``."""
    return f"{tenant}{SEPARATOR}{user}" if tenant else user


def owner_prefix(tenant: str) -> str:
    """What every owner id of ``tenant`` starts with (a tenant admin's view)."""
    return f"{tenant}{SEPARATOR}"


def tenant_of(owner: str) -> str | None:
    """The tenant of an owner id (``None`` for a user without one)."""
    tenant, sep, _ = owner.partition(SEPARATOR)
    return tenant if sep else None
