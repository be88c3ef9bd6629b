"""``client.models``: the model catalogue from a notebook (the SDK is trusted: it may register a
local folder, which the HTTP API refuses)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..client_namespaces import ClientNamespace

_COLUMNS = ["provider", "kind", "source", "revision", "base", "download", "registered_by", "registered_at"]


class Models(ClientNamespace):
    """List, register and remove the models a request may name with ``model=``."""

    def list(self) -> pd.DataFrame:
        """One row per entry, by name."""
        rows = self._client.service.models.list()
        frame = pd.DataFrame(rows, columns=["name", *_COLUMNS])
        return frame.set_index("name")

    def register(self, name: str, *, provider: str, source: str, revision: str | None = None,
                 base: str | None = None, download: bool = False, replace: bool = False) -> dict[str, Any]:
        """Add ``name``: ``provider`` ``"whisper"`` or ``"diffusers"``; ``source`` a folder, a
        storage URL (``s3://models/x/``) or ``hf://org/repo@<commit>``; ``revision`` the
        ``sha256:`` digest the files must have (computed now when absent); ``base`` the catalogue
        name of the pipeline a LoRA adapter applies to; ``download`` lets a node fetch a Hub
        source missing from its Hub cache. ``InvalidRequest`` names a bad field."""
        return self._client.service.models.register(
            name, provider=provider, source=source, revision=revision, base=base, download=download,
            replace=replace, trusted=True, user_id=self._user)

    def remove(self, name: str) -> None:
        """Tasks submitted before keep the entry they were given; new ones may not name it."""
        self._client.service.models.remove(name)


__all__ = ["Models"]
