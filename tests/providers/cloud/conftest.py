"""Fixtures for the cloud adapter tests: settings with fake keys (also for ``make_ctx``),
and a respx router whose every call to a documented API is validated against its OpenAPI
document when the test ends. Real sockets are refused, so nothing can reach a provider."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
import respx
from cloud_contract import check_calls
from fake_answers import KEYS
from pydantic import SecretStr

from videoai_ray.settings import Settings

_KEY_FIELDS = {
    "OPENAI_API_KEY": "openai_api_key",
    "STABILITY_API_KEY": "stability_api_key",
    "RUNWAYML_API_SECRET": "runwayml_api_secret",
    "FAL_KEY": "fal_key",
    "ASSEMBLYAI_API_KEY": "assemblyai_api_key",
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse every TCP connection: respx answers everything, a real provider never does."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"a test tried to open a network connection to {address}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def cloud_settings(settings: Settings) -> Settings:
    """Settings with a fake key for every provider (whatever the environment holds)."""
    return settings.model_copy(update={attr: SecretStr(KEYS[env]) for env, attr in _KEY_FIELDS.items()})


@pytest.fixture
def no_key_settings(settings: Settings) -> Settings:
    """Settings without any provider key (whatever the environment holds)."""
    return settings.model_copy(update={attr: None for attr in _KEY_FIELDS.values()})


@pytest.fixture
def http() -> Iterator[respx.MockRouter]:
    """A respx router for the test; afterwards every request sent to the OpenAI, AssemblyAI or
    RunwayML fakes is validated against the provider's OpenAPI document."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        yield router
        check_calls(router.calls)  # inside the block: leaving it clears the recorded calls


@pytest.fixture
def ctx_settings(cloud_settings: Settings) -> Settings:
    """``make_ctx``'s contexts get the fake keys."""
    return cloud_settings
