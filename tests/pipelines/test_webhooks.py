"""``pipeline.completed`` / ``pipeline.failed`` / ``pipeline.cancelled`` reach the pipeline's
webhook URL once each, signed like task events (the pipeline's secret, else the user's)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from loopback import QuietHandler, serving
from pipeline_steps import img

import videoai_ray as vai
from videoai_ray.pipelines import ref

pytestmark = pytest.mark.slow


class Hooks:
    """What a webhook receiver on 127.0.0.1 got: ``(headers, body)`` per delivery."""

    def __init__(self) -> None:
        self.got: list[tuple[dict[str, str], str]] = []
        self.cond = threading.Condition()

    def wait(self, pipeline_id: str, timeout: float = 30.0) -> list[tuple[dict[str, str], dict[str, Any], str]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                mine = [(h, json.loads(b), b) for h, b in self.got if json.loads(b).get("pipeline_id") == pipeline_id]
                if mine:
                    time.sleep(0.3)  # a second delivery of the same event would arrive now
                    return [(h, json.loads(b), b) for h, b in self.got
                            if json.loads(b).get("pipeline_id") == pipeline_id]
                if time.monotonic() > deadline:
                    raise AssertionError(f"no event for {pipeline_id}: {self.got}")
                self.cond.wait(0.2)


@pytest.fixture(scope="module")
def hooks() -> Iterator[tuple[Hooks, str]]:
    got = Hooks()

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            with got.cond:
                got.got.append(({k.lower(): v for k, v in self.headers.items()}, body))
                got.cond.notify_all()
            self.answer(200, b"ok")

    with serving(Handler) as base:
        yield got, base + "/hook"


def signed(headers: dict[str, str], body: str, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers.get("x-webhook-signature", ""))


def test_completed_event_carries_each_step_and_is_signed_with_the_pipelines_secret(
        pipe_client: vai.Client, hooks: tuple[Hooks, str]) -> None:
    got, url = hooks
    pipe = pipe_client.pipeline([img("a", "hooked"), img("b", ref("a.output.provider"))],
                                webhook_url=url, webhook_secret="pipeline-secret-1", metadata={"k": "v"})
    record = pipe.result(timeout=60)
    [(headers, payload, body)] = got.wait(pipe.id)
    assert signed(headers, body, "pipeline-secret-1")
    assert payload["event_type"] == "pipeline.completed" and payload["metadata"] == {"k": "v"}
    assert payload["user_id"] == pipe_client.user_id and payload["data"]["status"] == "completed"
    steps = payload["data"]["steps"]
    assert {k: (v["task_id"], v["status"]) for k, v in steps.items()} == {
        s.id: (s.task_id, "completed") for s in record.steps}
    assert steps["b"]["output"]["provider"] == "lat"


def test_failed_and_cancelled_events_use_the_users_secret_without_one(
        pipe_client: vai.Client, hooks: tuple[Hooks, str]) -> None:
    got, url = hooks
    secret = pipe_client.webhook_secret()
    failed = pipe_client.pipeline([img("bad", "no", provider="perm"), img("b", ref("bad.output.provider"))],
                                  webhook_url=url)
    with pytest.raises(vai.PipelineFailed):
        failed.result(timeout=60)
    [(headers, payload, body)] = got.wait(failed.id)
    assert signed(headers, body, secret) and headers.get("webhook-signature", "").startswith("v1,")
    assert payload["event_type"] == "pipeline.failed"
    assert payload["data"]["error"] == {"step": "bad", "code": "invalid_input",
                                        "message": "the prompt is not acceptable"}
    assert payload["data"]["steps"]["b"]["status"] == "skipped"

    cancelled = pipe_client.pipeline([img("long", "cancel me", provider="park")], webhook_url=url)
    cancelled.cancel()
    [(headers, payload, body)] = got.wait(cancelled.id)
    assert signed(headers, body, secret) and payload["event_type"] == "pipeline.cancelled"


def test_a_bad_webhook_url_is_refused_naming_it(pipe_client: vai.Client) -> None:
    with pytest.raises(vai.InvalidRequest) as info:
        pipe_client.pipeline([img("a", "x")], webhook_url="ftp://example.com/hook")
    assert info.value.field == "webhook_url"
