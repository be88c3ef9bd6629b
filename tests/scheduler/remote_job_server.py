"""One local HTTP server speaking the remote-job protocols of RunwayML (``/v1/text_to_video``,
``/v1/tasks/{id}``), fal.ai's queue (Pika) and AssemblyAI (``/v2/upload``, ``/v2/transcript``),
plus a CDN for their outputs. It counts what costs money (creations) and what stops it (cancels).

Every request to the RunwayML and AssemblyAI paths is validated against the providers' OpenAPI
documents (the same ``Contract`` the respx fakes use); a violation is kept and fails the test.
A job answers "running" ``polls`` times, then succeeds.
"""

from __future__ import annotations

import json
import sys
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

# the cloud tests' kits: the documents, their validators and example answers
for _kit in ("providers", "providers/cloud"):
    sys.path.insert(0, str(Path(__file__).parents[1] / _kit))
from cloud_contract import Contract  # noqa: E402
from fake_answers import MP4, assemblyai_transcript, document, runway_task  # noqa: E402

FAL_APP = "/fal-ai/pika/v2.2"


@dataclass
class Job:
    kind: str
    id: str
    polls_left: int
    cancelled: bool = False


@dataclass
class RemoteFakes:
    polls: int = 3
    jobs: dict[str, Job] = field(default_factory=dict)
    creations: list[str] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> RemoteFakes:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    fake.validate(self.command, self.path, dict(self.headers), body)
                    status, payload = fake.answer(self.command, self.path, body)
                except Exception as e:  # a fake that breaks must fail the test, not hang it
                    fake.violations.append(f"{self.command} {self.path}: {type(e).__name__}: {e}")
                    status, payload = 500, {"error": "fake failed"}
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                if status != 204:
                    ctype = "video/mp4" if isinstance(payload, bytes) else "application/json"
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if status != 204:
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.contracts = {"/v1/": Contract(document("runway-openapi.yaml"), self.url),
                          "/v2/": Contract(document("assemblyai-subset.json"), self.url)}
        return self

    def stop(self) -> None:
        self.server.shutdown()

    def reset(self) -> None:
        with self.lock:
            self.jobs.clear()
            self.creations.clear()
            self.cancels.clear()

    # -- the protocols ------------------------------------------------------------------------

    def validate(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        for prefix, contract in self.contracts.items():
            if path.startswith(prefix) and not path.startswith("/v2/cdn"):
                request = httpx.Request(method, self.url + path, headers=headers, content=body)
                try:
                    contract.validate_request(request)
                except AssertionError as e:
                    self.violations.append(str(e)[:500])

    def _create(self, kind: str) -> Job:
        with self.lock:
            job = Job(kind, str(uuid.uuid4()), self.polls)
            self.jobs[job.id] = job
            self.creations.append(job.id)
        return job

    def _poll(self, job_id: str) -> Job | None:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is not None and not job.cancelled and job.polls_left > 0:
                job.polls_left -= 1
            return job

    def answer(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if path.startswith("/cdn/"):
            return 200, MP4
        # RunwayML
        if method == "POST" and path in ("/v1/text_to_video", "/v1/image_to_video"):
            return 200, {"id": self._create("runway").id}
        if path.startswith("/v1/tasks/"):
            job = self.jobs.get(parts[2])
            if job is None or job.cancelled:
                return 404, {"error": "Task not found"}
            if method == "DELETE":
                job.cancelled = True
                self.cancels.append(job.id)
                return 204, b""
            job = self._poll(job.id)
            assert job is not None
            if job.polls_left:
                return 200, {**runway_task("running"), "id": job.id}
            return 200, {**runway_task("succeeded"), "id": job.id, "output": [f"{self.url}/cdn/{job.id}.mp4"]}
        # fal.ai's queue
        if method == "POST" and path in (f"{FAL_APP}/text-to-video", f"{FAL_APP}/image-to-video"):
            job = self._create("fal")
            base = f"{self.url}{FAL_APP}/requests/{job.id}"
            return 200, {"request_id": job.id, "status_url": f"{base}/status", "response_url": base,
                         "cancel_url": f"{base}/cancel", "queue_position": 0}
        if path.startswith(f"{FAL_APP}/requests/"):
            job = self.jobs.get(parts[4])
            if job is None:
                return 404, {"detail": "Request not found"}
            if method == "PUT" and parts[-1] == "cancel":
                job.cancelled = True
                self.cancels.append(job.id)
                return 202, {"status": "CANCELLATION_REQUESTED"}
            if parts[-1] == "status":
                job = self._poll(job.id)
                assert job is not None
                return (202, {"status": "IN_PROGRESS"}) if job.polls_left else (200, {"status": "COMPLETED"})
            return 200, {"video": {"url": f"{self.url}/cdn/{job.id}.mp4"}, "seed": 42}
        # AssemblyAI
        if method == "POST" and path == "/v2/upload":
            return 200, {"upload_url": f"{self.url}/cdn/upload/{uuid.uuid4().hex}"}
        if method == "POST" and path == "/v2/transcript":
            return 200, assemblyai_transcript("queued", self._create("assemblyai").id)
        if path.startswith("/v2/transcript/"):
            job = self._poll(parts[2])
            if job is None:
                return 404, {"error": "Transcript not found"}
            return 200, assemblyai_transcript("processing" if job.polls_left else "completed", job.id)
        return 404, {"error": f"no route {method} {path}"}


__all__ = ["RemoteFakes"]
