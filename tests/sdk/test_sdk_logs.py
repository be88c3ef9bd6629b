"""Logs: JSON lines and text with the task fields, and no secret ever written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from videoai_ray.logs import REDACTED, Redactor, configure_logging, secret_values
from videoai_ray.settings import Settings

OPENAI = "sk-proj-AbCdEf0123456789xyz"
ASSEMBLY = "3f8a1c2e9b7d4e6fa0b1c2d3e4f5a6b7"  # AssemblyAI keys are bare hex, only known from settings
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
FIELDS = {"task_id": "task_abc", "attempt": 2, "provider": "openai-gpt-image", "user_id": "ana"}


@pytest.fixture
def settings() -> Settings:
    return Settings(openai_api_key=OPENAI, assemblyai_api_key=ASSEMBLY, jwt_secret="jwt-secret-for-tests-0123456789",
                    database_url="postgresql://videoai:pg-pass-77@db:5432/videoai", log_level="DEBUG")


@pytest.fixture
def restore_videoai_logger() -> Iterator[None]:
    logger = logging.getLogger("videoai")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved


def _emit(settings: Settings, json_lines: bool) -> str:
    buf = io.StringIO()
    configure_logging(settings.model_copy(update={"log_json": json_lines}), stream=buf)
    adapter = logging.LoggerAdapter(logging.getLogger("videoai.providers"), FIELDS)
    adapter.info("POST /v1/images/generations Authorization: Bearer %s", OPENAI)
    adapter.debug("assemblyai header authorization: %s", ASSEMBLY)
    logging.getLogger("videoai.webhooks").warning(
        "signing with %s for %s", WHSEC, "https://user:hook-pass@example.com/hook",
        extra={"headers": {"Authorization": f"Key fal-id:{ASSEMBLY}", "webhook-id": "msg_1"}, "task_id": "task_abc"})
    try:
        raise RuntimeError(f"provider said: invalid key {OPENAI}")
    except RuntimeError:
        logging.getLogger("videoai.scheduler").exception("attempt failed (jwt %s)", "jwt-secret-for-tests-0123456789")
    logging.getLogger("videoai.store").info("connected to %s", settings.db_url)
    return buf.getvalue()


SECRETS = [OPENAI, ASSEMBLY, WHSEC, "hook-pass", "jwt-secret-for-tests-0123456789", "pg-pass-77"]


@pytest.mark.usefixtures("restore_videoai_logger")
@pytest.mark.parametrize("json_lines", [True, False], ids=["json", "text"])
def test_no_secret_is_ever_written(settings: Settings, json_lines: bool) -> None:
    out = _emit(settings, json_lines)
    for secret in SECRETS:
        assert secret not in out
    assert out.count(REDACTED) >= 7 and "provider said: invalid key" in out  # the trace is kept, redacted


@pytest.mark.usefixtures("restore_videoai_logger")
def test_json_lines_carry_the_task_fields(settings: Settings) -> None:
    lines = [json.loads(ln) for ln in _emit(settings, True).splitlines()]
    first = lines[0]
    assert {k: first[k] for k in FIELDS} == FIELDS
    assert first["level"] == "INFO" and first["logger"] == "videoai.providers" and first["ts"].endswith("Z")
    assert first["message"] == f"POST /v1/images/generations Authorization: Bearer {REDACTED}"
    assert lines[1]["level"] == "DEBUG"  # settings.log_level applies
    assert lines[2]["headers"] == {"Authorization": REDACTED, "webhook-id": "msg_1"}
    assert "Traceback" in lines[3]["exc_info"] and lines[3]["level"] == "ERROR"


@pytest.mark.usefixtures("restore_videoai_logger")
def test_text_lines_are_readable(settings: Settings) -> None:
    lines = _emit(settings, False).splitlines()
    assert lines[0].endswith(
        "INFO    videoai.providers [task=task_abc user=ana provider=openai-gpt-image attempt=2] "
        f"POST /v1/images/generations Authorization: Bearer {REDACTED}")
    assert "[task=task_abc]" in lines[2] and "headers=" in lines[2]
    assert any(ln.startswith("Traceback") for ln in lines)


@pytest.mark.usefixtures("restore_videoai_logger")
def test_configure_is_idempotent_and_owns_the_videoai_tree(settings: Settings) -> None:
    root_buf, buf = io.StringIO(), io.StringIO()
    root_handler = logging.StreamHandler(root_buf)
    logging.getLogger().addHandler(root_handler)
    try:
        configure_logging(settings, stream=io.StringIO())
        warning = settings.model_copy(update={"log_level": "WARNING"})
        handler = configure_logging(warning, stream=buf)
        assert configure_logging(warning, stream=buf) is handler  # same configuration: kept as is
        logger = logging.getLogger("videoai")
        assert [h for h in logger.handlers if getattr(h, "_videoai", None)] == [handler]
        logging.getLogger("videoai.x").info("hidden")
        logging.getLogger("videoai.x").warning("shown once")
    finally:
        logging.getLogger().removeHandler(root_handler)
    assert buf.getvalue().count("shown once") == 1 and "hidden" not in buf.getvalue()
    assert root_buf.getvalue() == ""  # not repeated by the root logger


def test_redactor_patterns() -> None:
    r = Redactor(["literal-secret-value"])
    cases = {
        "Authorization: Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl": "Authorization: Bearer " + REDACTED,
        "authorization=Basic dXNlcjpwYXNz": "authorization=Basic " + REDACTED,
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.abc": "token " + REDACTED,
        "fal Authorization: Key 1234-abcd:ffff0000": "fal Authorization: Key " + REDACTED,
        "runway key_0123456789abcdef0123 used": f"runway {REDACTED} used",
        '{"api_key": "abc123", "n": 1}': '{"api_key": "' + REDACTED + '", "n": 1}',
        "x-api-key=abc123&y=2": f"x-api-key={REDACTED}&y=2",
        "password: hunter2": f"password: {REDACTED}",
        "redis://:p4ss@redis:6379/0": f"redis://:{REDACTED}@redis:6379/0",
        "value literal-secret-value here": f"value {REDACTED} here",
        "task_0123456789abcdef0123456789abcdef done in 3 s": "task_0123456789abcdef0123456789abcdef done in 3 s",
        "the key to success": "the key to success",
        "Key rotation finished, Token bucket refilled": "Key rotation finished, Token bucket refilled",
        "Token abcdef123456": f"Token {REDACTED}",
    }
    for text, expected in cases.items():
        assert r(text) == expected, text


def test_secret_values_come_from_settings(settings: Settings) -> None:
    values = secret_values(settings)
    assert OPENAI in values and ASSEMBLY in values and "pg-pass-77" in values
    assert "jwt-secret-for-tests-0123456789" in values and secret_values(None) == []
