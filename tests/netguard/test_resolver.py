"""Host name lookups with a deadline (``resolver.py``), the ``dns_lookup`` fault point, and the
rule that the Scheduler's validation checks URLs by name only (issue 21, finding 3)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from videoai_ray import netguard
from videoai_ray.errors import InvalidRequest
from videoai_ray.resolver import DNSTimeout, Resolver, resolver_for
from videoai_ray.service import MediaService
from videoai_ray.settings import Settings
from videoai_ray.store import TaskStore

HOOK = "https://hooks.example/hook"


def hanging(release: threading.Event) -> Any:
    def lookup(host: str) -> list[str]:
        release.wait(30)
        return ["93.184.216.34"]
    return lookup


def test_a_lookup_that_hangs_ends_at_the_deadline() -> None:
    release = threading.Event()
    try:
        started = time.monotonic()
        with pytest.raises(DNSTimeout, match=r"within 0\.3 s"):
            Resolver(0.3, hanging(release))("hooks.example")
        assert time.monotonic() - started < 3
        with pytest.raises(netguard.UnsafeURL, match=r"did not resolve within 0\.3 s") as refused:
            netguard.check_url(HOOK, resolver=Resolver(0.3, hanging(release)))
        assert netguard.transient(refused.value)  # a dispatcher tries such a delivery again later
    finally:
        release.set()


def test_answers_and_errors_come_through() -> None:
    assert Resolver(5, lambda host: ["93.184.216.34"])("hooks.example") == ["93.184.216.34"]

    def nothing(host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(netguard.UnsafeURL, match="does not resolve") as refused:
        netguard.check_url(HOOK, resolver=Resolver(5, nothing))
    assert netguard.transient(refused.value)
    with pytest.raises(netguard.UnsafeURL, match="non-public") as private:
        netguard.check_url(HOOK, resolver=Resolver(5, lambda host: ["10.1.2.3"]))
    assert not netguard.transient(private.value)


def test_the_fault_point_holds_a_lookup_until_released(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", fault_pause_dir=tmp_path, dns_timeout=0.5)
    (tmp_path / "dns_lookup.arm").touch()
    with pytest.raises(DNSTimeout):
        resolver_for(settings)("held.localhost")
    held = tmp_path / "dns_lookup.held.localhost.paused"
    assert held.exists()
    assert resolver_for(settings)("other.localhost") == ["127.0.0.1"]  # the point takes one lookup
    held.unlink()


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every system lookup is recorded, and refused (no network in tests)."""
    asked: list[str] = []

    def refuse(host: Any, *args: Any, **kw: Any) -> Any:
        asked.append(str(host))
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return asked


def test_the_schedulers_validation_never_waits_on_dns(tmp_path: Path, no_dns: list[str]) -> None:
    """``resolve_dns=False`` (the Scheduler's MediaService) checks a URL by name only; the
    caller's (``resolve_dns=True``) resolves it, and refuses a name that does not resolve."""
    settings = Settings(home=tmp_path / "home")
    store = TaskStore(f"sqlite:///{tmp_path}/t.db")
    body = {"prompt": "x", "webhook_url": HOOK, "image_url": "https://inputs.example/a.png"}
    try:
        inside = MediaService(settings, None, store, resolve_dns=False)
        inside.validate("video_generation", body)
        inside.pipelines.validate({"steps": [{"id": "a", "task_type": "image_generation",
                                              "input": {"prompt": "x", "webhook_url": HOOK}}],
                                   "webhook_url": HOOK})
        assert no_dns == []
        with pytest.raises(InvalidRequest, match="metadata") as e:  # still checked by name
            inside.validate("image_generation", {"prompt": "x", "webhook_url": "http://metadata.google.internal/"})
        assert e.value.field == "webhook_url"
        with pytest.raises(InvalidRequest, match="does not resolve"):
            MediaService(settings, None, store).validate("video_generation", body)
        assert no_dns
    finally:
        store.close()
