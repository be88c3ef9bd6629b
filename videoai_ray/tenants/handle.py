"""``client.tenant``: a tenant's own provider keys from a notebook. The SDK is trusted code inside
the cluster (it names its own user id), so it may act for any tenant; ``tenant`` defaults to the
tenant of the client's user (``vai.connect(user_id="acme/ana")`` → ``acme``)."""

from __future__ import annotations

from typing import Any

from ..client_namespaces import ClientNamespace
from ..errors import InvalidRequest, TaskNotFound
from .ids import check_tenant_id, tenant_of


class TenantKeys(ClientNamespace):
    """Set, remove and list a tenant's cloud provider keys (stored encrypted, never read back)."""

    def _tenant(self, tenant: str | None) -> str:
        name = tenant if tenant is not None else tenant_of(self._user)
        if name is None:
            raise InvalidRequest("tenant: name the tenant (this client's user belongs to none)", field="tenant")
        return check_tenant_id(name, "tenant")

    def set_provider_key(self, provider: str, api_key: str, *, tenant: str | None = None) -> dict[str, Any]:
        """Store ``api_key`` for ``provider`` (``openai``, ``assemblyai``, ``stability``,
        ``runwayml``, ``fal``); the tenant's tasks use it from then on (within
        ``tenant_cache_seconds``). Needs ``VIDEOAI_SECRETS_KEY`` (``NoSecretsKey`` otherwise)."""
        return self._client.service.provider_keys.set(self._tenant(tenant), provider, {"api_key": api_key})

    def delete_provider_key(self, provider: str, *, tenant: str | None = None) -> None:
        """Remove the tenant's key (``TaskNotFound`` when it has none for ``provider``)."""
        if not self._client.service.provider_keys.delete(self._tenant(tenant), provider):
            raise TaskNotFound(f"no provider_key {provider}")

    def provider_keys(self, *, tenant: str | None = None) -> dict[str, Any]:
        """Which providers the tenant has a key for (never the keys), and whether it falls back
        on the deployment's keys."""
        return self._client.service.provider_keys.list(self._tenant(tenant))
