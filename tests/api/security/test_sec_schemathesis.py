"""Schemathesis against the running Serve app (the session's server): every operation of
``/openapi.json`` gets a fixed number of generated requests, positive and negative, and fails on a
5xx, a stack trace, or a response that breaks the documented schema. Bounded for CI: a fixed number
of examples per operation and mode, derandomised (the same cases on every run), ``?wait`` capped;
every outbound URL field points at a loopback receiver."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from served_api import Api, Receiver, unique

#: generated requests per operation and generation mode
EXAMPLES = 25
#: fields the server sends requests to (webhooks) or fetches (inputs)
OUTBOUND = ("webhook_url", "audio_url", "image_url", "subtitles_url")


def no_stack_trace(ctx: Any, response: Any, case: Any) -> bool | None:
    text = response.text if isinstance(response.text, str) else ""
    if "Traceback (most recent call last)" in text or 'File "/' in text:
        raise AssertionError(f"stack trace in the response of {case.method} {case.path}")
    return None


def _outbound_to(url: str) -> Callable[[Any, Any], Any]:
    def point(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (url if k in OUTBOUND and isinstance(v, str) else point(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [point(v) for v in value]
        return value

    def map_body(context: Any, body: Any) -> Any:
        return point(body)

    return map_body


def map_query(context: Any, query: Any) -> Any:
    if isinstance(query, dict) and "wait" in query:
        query = {**query, "wait": 0}  # a generated wait would hold a worker slot for up to a minute
    return query


@pytest.mark.slow
def test_the_api_holds_its_schema_under_generated_requests(api: Api) -> None:
    with Receiver() as rx:
        schema = schemathesis.openapi.from_url(f"{api.info.url}/openapi.json")
        schema.hook("map_body")(_outbound_to(rx.url))
        schema.hook("map_query")(map_query)
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {api.token(unique('fuzz'))}"
        failures: list[str] = []
        operations = calls = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                @given(case=operation.as_strategy(generation_mode=mode))
                @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                          suppress_health_check=list(HealthCheck))
                def run(case: Any) -> None:
                    nonlocal calls
                    calls += 1
                    case.call_and_validate(
                        base_url=api.info.url, session=session, timeout=30,
                        checks=[not_a_server_error, response_schema_conformance, content_type_conformance,
                                no_stack_trace])

                try:
                    run()
                except Unsatisfiable:  # nothing to make invalid (an operation without parameters)
                    assert mode is GenerationMode.NEGATIVE, operation.path
                except Exception as e:  # collect every operation's failure, then report them all
                    failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {e}"[:2000])
        assert operations >= 20 and calls >= operations * EXAMPLES  # it really sent the requests
        assert not failures, "\n\n".join(failures)
