"""The network guard's address forms, called as a function (no traffic leaves loopback): every
address that is not globally routable is refused, also when wrapped in an IPv6 form, and so are
metadata addresses and names. Pinning is checked against a loopback server with a resolver that
changes its answer between two lookups (DNS rebinding)."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from videoai_ray import netguard
from videoai_ray.errors import InvalidInput

REFUSED = [
    "http://100.64.0.1/", "http://100.127.255.254/",  # carrier-grade NAT
    "http://100.100.100.200/latest/meta-data",  # Alibaba metadata
    "http://192.0.0.192/",  # Oracle metadata, IETF protocol assignments
    "http://168.63.129.16/",  # Azure wire server (public by is_global)
    "http://169.254.169.254/", "http://[fd00:ec2::254]/",  # AWS metadata, v4 and v6
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[2002:a9fe:a9fe::]/",  # 6to4 of 169.254.169.254
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped
    "http://[64:ff9b::7f00:1]/", "http://[64:ff9b::a00:1]/",  # NAT64 of 127.0.0.1, 10.0.0.1
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",  # Teredo (client 127.0.0.1)
    "http://127.0.0.1/", "http://127.1/", "http://2130706433/", "http://0x7f000001/",  # loopback spellings
    "http://0.0.0.0/", "http://[::]/", "http://[::1]/", "http://10.0.0.1/", "http://172.16.0.1/",
    "http://192.168.1.1/", "http://198.18.0.1/", "http://224.0.0.1/", "http://240.0.0.1/",
    "http://255.255.255.255/", "http://[fe80::1]/", "http://[fc00::1]/", "http://[ff02::1]/",
    "http://metadata.google.internal/", "http://metadata.azure.com/", "http://METADATA/",
    "http://instance-data/", "http://localhost/", "http://a.localhost/",
    "http://user:pw@8.8.8.8/", "ftp://8.8.8.8/", "file:///etc/passwd", "gopher://8.8.8.8/",
    "simplecache::http://127.0.0.1/x", "http://8.8.8.8:99999/", "http:///nohost",
]
ACCEPTED = ["http://8.8.8.8/", "https://1.1.1.1:8443/x?y=1", "http://[2606:4700:4700::1111]/",
            "http://[64:ff9b::808:808]/", "http://[2002:808:808::]/"]


@pytest.mark.parametrize("url", REFUSED)
def test_refused(url: str) -> None:
    with pytest.raises(netguard.UnsafeURL):
        netguard.check_url(url)


@pytest.mark.parametrize("url", ACCEPTED)
def test_accepted(url: str) -> None:
    netguard.check_url(url)


def test_allowlist_admits_only_what_it_names() -> None:
    netguard.check_url("http://100.64.0.7/", ["100.64.0.0/10"])
    with pytest.raises(netguard.UnsafeURL):
        netguard.check_url("http://100.100.100.200/", ["10.0.0.0/8"])


def test_a_name_that_does_not_resolve_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def nothing(*_: Any, **__: Any) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", nothing)
    with pytest.raises(netguard.UnsafeURL, match="does not resolve"):
        netguard.check_url("https://receiver.example/hook")


@pytest.fixture
def loopback() -> Iterator[tuple[int, list[str]]]:
    hosts: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers.get("Host", ""))
            if self.path == "/to-mapped":
                self.send_response(302)
                self.send_header("Location", "http://[::ffff:169.254.169.254]/latest/")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1], hosts
    srv.shutdown()
    srv.server_close()


def test_connects_to_the_checked_address_keeping_the_host(loopback: tuple[int, list[str]], tmp_path: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The first lookup answers loopback (allow-listed), any later one a private address: only one
    lookup may happen, and the request must reach the first answer with the name as ``Host``."""
    port, hosts = loopback
    real = socket.getaddrinfo
    lookups: list[str] = []

    def rebinding(host: Any, *args: Any, **kw: Any) -> Any:
        if host == "rebind.test":
            lookups.append(host)
            ip = "127.0.0.1" if len(lookups) == 1 else "10.255.255.1"
            return real(ip, *args, **kw)
        return real(host, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    out = netguard.download(f"http://rebind.test:{port}/a", tmp_path / "a", max_bytes=100,
                            allowlist=["127.0.0.1"], timeout=5)
    assert out.read_bytes() == b"ok"
    assert lookups == ["rebind.test"] and hosts == [f"rebind.test:{port}"]


def test_every_redirect_hop_is_checked(loopback: tuple[int, list[str]], tmp_path: Any) -> None:
    port, _ = loopback
    with pytest.raises(InvalidInput, match="refusing"):
        netguard.download(f"http://127.0.0.1:{port}/to-mapped", tmp_path / "b", max_bytes=100,
                          allowlist=["127.0.0.1"], timeout=5)
