"""Measures (not a test): what submitting an input under a root costs the driver, one metadata
request per object (``inputs.identity``), asked one at a time and a batch window at a time
(``inputs.identities``, as ``prepare_batch`` does), against moto's S3 server on loopback, run in
a process of its own (in the driver's process its request handling would share the driver's GIL).

    PYTHONPATH=.:tests python tests/inputs/measure_identity.py 300
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from s3_loopback import S3Server

from videoai_ray import inputs
from videoai_ray.settings import Settings


def start_server() -> tuple[subprocess.Popen[bytes], S3Server]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    return proc, S3Server(endpoint=f"http://127.0.0.1:{port}")


def main(n: int) -> None:
    server, s3 = start_server()
    try:
        bucket = s3.make_bucket("corpus")
        fs = s3.fs()
        for i in range(n):
            fs.pipe(f"{bucket}/clips/{i}.wav", b"x" * 32_000)
        settings = Settings(storage_options=s3.storage_options, input_roots=f"s3://{bucket}/clips/")
        urls = [inputs.check_granted(f"s3://{bucket}/clips/{i}.wav", settings.input_roots) for i in range(n)]
        inputs.identity(urls[0], settings)  # the client is made once
        started = time.perf_counter()
        for url in urls:
            inputs.identity(url, settings)
        one_by_one = time.perf_counter() - started
        started = time.perf_counter()
        found = inputs.identities(urls, settings)
        together = time.perf_counter() - started
        assert all(isinstance(v, dict) for v in found.values()) and len(found) == n
        print(f"{n} objects: one at a time {one_by_one / n * 1e3:.1f} ms each; "
              f"16 in flight {together / n * 1e3:.1f} ms each ({one_by_one / together:.1f}x)")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
