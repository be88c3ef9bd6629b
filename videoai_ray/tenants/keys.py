"""A tenant's own cloud provider keys: stored encrypted, set and listed by its tenant admin, and
read back (decrypted, cached a couple of seconds) by the cloud adapters for the tenant's tasks.

Keys are named by the account they belong to, not by adapter: one OpenAI key serves
``openai-whisper``, ``openai-gpt-image``, ``openai-dall-e-3`` and ``openai-subtitles``
(``KEY_PROVIDERS`` maps each name to the deployment's own setting for that account).

Encryption is Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under the deployment key
``VIDEOAI_SECRETS_KEY``: the store holds ciphertext only, so a copy of the database (a backup, an
export) reveals no key without the deployment's secret. Without that setting nothing is stored
(``NoSecretsKey``, a 409). Keys never leave this module in clear except to ``CloudProvider.client``,
which puts them in a header and scrubs them from error texts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from cachetools import TTLCache
from sqlalchemy import Engine

from ..errors import InvalidRequest, NoSecretsKey, TenantNotFound
from ..store.provider_keys import delete_provider_key, get_provider_key, list_provider_keys, put_provider_key
from ..store.tenants import get_tenant
from .ids import check_tenant_id

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

    from ..settings import Settings

log = logging.getLogger("videoai.tenants")

#: the key names a tenant may set, each with the deployment's own setting for that account
KEY_PROVIDERS: dict[str, str] = {
    "openai": "openai_api_key",
    "assemblyai": "assemblyai_api_key",
    "stability": "stability_api_key",
    "runwayml": "runwayml_api_secret",
    "fal": "fal_key",
}
#: the longest key accepted (provider keys are well under 1 KiB; this bounds what is stored)
MAX_KEY_LENGTH = 1024


def key_provider_of(key_setting: str) -> str:
    """The key name (``openai``) of an adapter whose deployment key is ``key_setting``."""
    for name, setting in KEY_PROVIDERS.items():
        if setting == key_setting:
            return name
    raise KeyError(key_setting)


def check_provider(value: object) -> str:
    if not isinstance(value, str) or value not in KEY_PROVIDERS:
        raise InvalidRequest(f"provider: one of {', '.join(KEY_PROVIDERS)}", field="provider")
    return value


def check_api_key(value: object) -> str:
    """A key as a tenant admin sends it: printable ASCII without spaces (it goes into a header).
    The message never repeats the value."""
    if not isinstance(value, str) or not value:
        raise InvalidRequest("api_key: a non-empty string is required", field="api_key")
    if len(value) > MAX_KEY_LENGTH or not all(33 <= ord(c) < 127 for c in value):
        raise InvalidRequest(f"api_key: at most {MAX_KEY_LENGTH} printable ASCII characters without spaces",
                             field="api_key")
    return value


def fernet(settings: Settings) -> Fernet | None:
    """The cipher of ``VIDEOAI_SECRETS_KEY``, or ``None`` when the deployment has none."""
    secret = settings.secrets_key
    if secret is None:
        return None
    from cryptography.fernet import Fernet  # only deployments with tenant keys pay for the import

    return Fernet(secret.get_secret_value().encode("ascii"))


def _no_secrets_key() -> NoSecretsKey:
    return NoSecretsKey("this deployment has no secrets key (VIDEOAI_SECRETS_KEY), so it cannot store provider "
                        "keys; nothing was stored", field="api_key")


class ProviderKeyService:
    """Setting, removing and listing tenants' provider keys (``/api/v1/media/tenant/provider-keys``
    and ``client.tenant``). The caller's right to act for ``tenant`` is checked by the caller."""

    def __init__(self, engine: Engine, instance: str, settings: Settings) -> None:
        self.engine, self.instance, self.settings = engine, instance, settings

    def set(self, tenant: str, provider: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Store ``body["api_key"]`` encrypted; what is known about it now (never the key)."""
        check_tenant_id(tenant, "tenant")
        check_provider(provider)
        unknown = sorted(set(body) - {"api_key"})
        if unknown:
            raise InvalidRequest(f"{unknown[0]}: unknown field", field=unknown[0])
        key = check_api_key(body.get("api_key"))
        if get_tenant(self.engine, tenant, instance=self.instance) is None:
            raise TenantNotFound(f"no tenant {tenant}", field="tenant")
        cipher = fernet(self.settings)
        if cipher is None:
            raise _no_secrets_key()
        put_provider_key(self.engine, tenant, provider, cipher.encrypt(key.encode("ascii")).decode("ascii"),
                         instance=self.instance)
        return next(k for k in self.list(tenant)["provider_keys"] if k["provider"] == provider)

    def delete(self, tenant: str, provider: str) -> bool:
        check_provider(provider)
        return delete_provider_key(self.engine, tenant, provider, instance=self.instance)

    def list(self, tenant: str) -> dict[str, Any]:
        """``{"tenant", "provider_keys": [{"provider", "created_at", "updated_at"}], "fallback"}``."""
        rows = list_provider_keys(self.engine, tenant, instance=self.instance)
        return {"tenant": tenant, "fallback": self.settings.tenant_keys_fallback,
                "provider_keys": [{**r, "created_at": r["created_at"].isoformat(),
                                   "updated_at": r["updated_at"].isoformat()} for r in rows]}


class TenantKeyring:
    """The decrypted keys of tenants, as a worker reads them for each attempt: kept ``ttl``
    seconds (``tenant_cache_seconds``), so a changed or removed key takes effect within that
    time, and the store sees at most one read per tenant, provider and process in that time."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._keys: TTLCache[tuple[str, str], str | None] = TTLCache(
            maxsize=10_000, ttl=max(settings.tenant_cache_seconds, 0.001), timer=time.monotonic)
        self._lock = threading.Lock()
        self._engine: Engine | None = None

    def key(self, tenant: str, provider: str) -> str | None:
        """The tenant's own key for ``provider`` (``None``: it has none, or the deployment has no
        secrets key to read it with)."""
        with self._lock:
            if (tenant, provider) in self._keys:
                return self._keys[(tenant, provider)]
        value = self._read(tenant, provider)
        with self._lock:
            self._keys[(tenant, provider)] = value
        return value

    @cached_property
    def _cipher(self) -> Fernet | None:
        """The deployment key's cipher, built once per process (not on every cache miss)."""
        return fernet(self.settings)

    def _read(self, tenant: str, provider: str) -> str | None:
        cipher = self._cipher
        if cipher is None:
            return None
        token = get_provider_key(self._store(), tenant, provider, instance=self.settings.instance)
        if token is None:
            return None
        from cryptography.fernet import InvalidToken

        try:
            return cipher.decrypt(token.encode("ascii")).decode("ascii")
        except InvalidToken:  # stored under another deployment key: as if there were none
            log.warning("tenant %s: its %s key does not decrypt with this VIDEOAI_SECRETS_KEY; ignored", tenant,
                        provider)
            return None

    def _store(self) -> Engine:
        if self._engine is None:
            from ..store.store import StoreTimeouts, make_engine

            self._engine = make_engine(self.settings.db_url, StoreTimeouts.of(self.settings))
        return self._engine


_keyrings: dict[tuple[str, str], TenantKeyring] = {}
_keyrings_lock = threading.Lock()


def keyring_for(settings: Settings) -> TenantKeyring:
    """The process's keyring for one store and instance (one engine and cache per process)."""
    ident = (settings.db_url, settings.instance)
    with _keyrings_lock:
        ring = _keyrings.get(ident)
        if ring is None:
            ring = _keyrings[ident] = TenantKeyring(settings)
        return ring


__all__ = ["KEY_PROVIDERS", "ProviderKeyService", "TenantKeyring", "check_provider", "fernet", "key_provider_of",
           "keyring_for"]
