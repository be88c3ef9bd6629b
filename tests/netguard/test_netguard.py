import http.server
import threading

import pytest

from videoai_ray import netguard
from videoai_ray.errors import InvalidInput


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/x", "http://localhost:8080/", "http://10.1.2.3/", "http://192.168.0.10/",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://metadata.google.internal/",
    "http://0.0.0.0/", "ftp://example.com/",
])
def test_refuses_non_public_targets(url):
    with pytest.raises(netguard.UnsafeURL):
        netguard.check_url(url)


def test_public_literal_and_allowlist():
    netguard.check_url("https://93.184.216.34/hook")
    netguard.check_url("http://127.0.0.1:9000/hook", allowlist=["127.0.0.1"])
    netguard.check_url("http://10.0.0.7/hook", allowlist=["10.0.0.0/8"])
    with pytest.raises(netguard.UnsafeURL):
        netguard.check_url("http://10.0.0.7/hook", allowlist=["192.168.0.0/16"])


@pytest.fixture
def server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/redirect-private":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/secret")
                self.end_headers()
                return
            body = b"x" * (5000 if self.path == "/big" else 100)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_download_checks_size_and_every_redirect(server, tmp_path):
    allow = ["127.0.0.1"]
    out = netguard.download(f"{server}/ok", tmp_path / "a", max_bytes=1000, allowlist=allow)
    assert out.read_bytes() == b"x" * 100
    with pytest.raises(InvalidInput, match="limit"):
        netguard.download(f"{server}/big", tmp_path / "b", max_bytes=1000, allowlist=allow)
    with pytest.raises(InvalidInput, match="refusing"):
        netguard.download(f"{server}/redirect-private", tmp_path / "c", max_bytes=1000, allowlist=allow)
    with pytest.raises(InvalidInput, match="refusing"):
        netguard.download(f"{server}/ok", tmp_path / "d", max_bytes=1000)  # loopback not allowed
