"""Structured logs: ``configure_logging(settings)`` sends the ``videoai.*`` loggers to one handler
that writes JSON lines (``settings.log_json``) or readable text, and redacts secrets first.

The task lifecycle, provider calls and webhook deliveries log through ``logging.LoggerAdapter``
with ``extra={"task_id", "attempt", "provider", "user_id"}`` (see ``providers/context.py``); those
fields become top-level JSON keys, or a ``[task=… user=… provider=… attempt=…]`` prefix in text.

Redaction runs as a handler filter, before any formatter, on the message, the exception trace
and every extra field: API keys (``sk-…``, ``key_…``), ``Bearer``/``Basic``/``Key`` credentials,
``whsec_…`` webhook secrets, JWTs, ``password=``/``api_key:``-style pairs, passwords in URLs, and
every secret value the settings hold (provider keys, the JWT secret, database/Redis passwords).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

REDACTED = "[REDACTED]"
#: the per-task fields, in the order the text format shows them
FIELDS = ("task_id", "user_id", "provider", "attempt")
_TEXT_LABELS = {"task_id": "task", "user_id": "user", "provider": "provider", "attempt": "attempt"}
_STD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_SENSITIVE_KEYS = re.compile(r"(?i)(authorization|api[_-]?key|secret|token|password|passwd|credential)")

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization schemes: "Bearer <token>", "Basic <b64>", fal.ai's "Key <id:secret>"
    (re.compile(r"\b(Bearer|Basic)\s+(?!\[REDACTED\])[A-Za-z0-9._~+/:=-]{6,}"), r"\1 " + REDACTED),
    # "Key"/"Token" only before something credential-like (a digit or punctuation), not "Key rotation"
    (re.compile(r"\b(Key|Token)\s+(?!\[REDACTED\])(?=[A-Za-z._~+/-]*[0-9:=])[A-Za-z0-9._~+/:=-]{6,}"),
     r"\1 " + REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), REDACTED),  # OpenAI / Anthropic style keys
    (re.compile(r"\bkey_[A-Za-z0-9]{16,}"), REDACTED),  # RunwayML API secrets
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+"), REDACTED),  # Standard Webhooks secrets
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), REDACTED),  # JWTs
    (re.compile(r"(://[^/\s:@]*:)[^@\s/]+@"), r"\1" + REDACTED + "@"),  # user:password@host
    # key=value / "key": "value" pairs whose key names a secret
    (re.compile(r"""(?i)\b((?:x-)?api[_-]?key|authorization|secret|webhook_secret|token|access_token|password"""
                r"""|passwd)(["']?\s*[:=]\s*["']?)(?!(?:(?:Bearer|Basic|Key|Token)\s+)?\[REDACTED\])"""
                r"""((?:Bearer|Basic|Key|Token)\s+)?[^\s"',;&}]+"""),
     r"\1\2\3" + REDACTED),
]


class Redactor:
    """Replaces secrets in text: the fixed patterns above plus literal ``secrets``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._literal is not None:
            text = self._literal.sub(REDACTED, text)
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return text

    def value(self, obj: Any, key: str = "") -> Any:
        """``obj`` with secrets replaced, looking inside dicts, lists and tuples."""
        if key and _SENSITIVE_KEYS.search(key) and isinstance(obj, str | bytes | SecretStr):
            return REDACTED
        if isinstance(obj, str):
            return self(obj)
        if isinstance(obj, dict):
            return {k: self.value(v, str(k)) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return type(obj)(self.value(v) for v in obj)
        return obj


def secret_values(settings: Any) -> list[str]:
    """Every secret the settings hold: ``SecretStr`` fields and passwords in service URLs."""
    out: list[str] = []
    if settings is None:
        return out
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            out.append(value.get_secret_value())
        elif isinstance(value, str) and "://" in value:
            try:
                password = urlsplit(value).password
            except ValueError:
                password = None
            if password:
                out.append(password)
    return out


class RedactingFilter(logging.Filter):
    """Rewrites a record so no secret reaches any formatter: message (with its args), exception
    and stack text, and extra fields. Put it on a handler so it sees propagated records too."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad format args: keep what we can read
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STD_ATTRS:
                setattr(record, key, self.redact.value(value, key))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STD_ATTRS and not k.startswith("_")}


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC), ``level``, ``logger``, ``message``, the task fields,
    any other extra fields, ``process``, and ``exc_info`` (the trace) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"ts": _timestamp(record), "level": record.levelname, "logger": record.name,
                                "message": record.getMessage()}
        extras = _extras(record)
        for key in FIELDS:
            if extras.get(key) not in (None, ""):
                data[key] = extras[key]
        data.update({k: v for k, v in extras.items() if k not in FIELDS and k not in data})
        data["process"] = record.process
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exc_info"] = record.exc_text
        if record.stack_info:
            data["stack_info"] = record.stack_info
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-01-31T12:00:00.123Z INFO videoai.scheduler [task=… user=… provider=… attempt=2] msg``,
    then any other extra fields as ``key=value``."""

    def format(self, record: logging.LogRecord) -> str:
        extras = _extras(record)
        ctx = " ".join(f"{_TEXT_LABELS[k]}={extras[k]}" for k in FIELDS if extras.get(k) not in (None, ""))
        line = f"{_timestamp(record)} {record.levelname:<7} {record.name}" + (f" [{ctx}]" if ctx else "")
        line += f" {record.getMessage()}"
        rest = {k: v for k, v in extras.items() if k not in FIELDS}
        if rest:
            line += " " + " ".join(f"{k}={v}" for k, v in rest.items())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


def configure_logging(settings: Any = None, *, stream: IO[str] | None = None, logger: str = "videoai",
                      extra_secrets: Iterable[str] = ()) -> logging.Handler:
    """Send ``logger`` (``videoai`` and its children) to ``stream`` (stderr by default: in a Ray
    worker that is the worker's log file) at ``settings.log_level``, as JSON lines when
    ``settings.log_json``, with secrets redacted. Returns the handler.

    Cheap to call again (every actor ``__init__``, every CPU attempt): the same configuration
    keeps the handler in place; a different one replaces it, never adding a second."""
    json_lines = bool(getattr(settings, "log_json", False))
    level = logging.getLevelNamesMapping().get(str(getattr(settings, "log_level", "INFO")).upper(), logging.INFO)
    secrets = (*secret_values(settings), *extra_secrets)
    key = (json_lines, level, secrets, id(stream or sys.stderr))
    target = logging.getLogger(logger)
    ours = [h for h in target.handlers if getattr(h, "_videoai", None) is not None]
    if len(ours) == 1 and ours[0]._videoai == key:  # type: ignore[attr-defined]
        return ours[0]
    for old in ours:
        target.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._videoai = key  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    target.addHandler(handler)
    target.setLevel(level)
    # one handler, one line per record: the root logger (Ray's, a notebook's) does not repeat it
    target.propagate = False
    return handler
