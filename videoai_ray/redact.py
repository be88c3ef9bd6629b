"""The one redaction of a message that becomes public: no server path ever leaves the server.

Applied wherever an error is shown outside the process that met it: a task's stored and read
error, a pipeline's error, the error of every webhook payload, and (``shared``) a provider's last
error in ``GET /providers`` and ``/statistics``. Provider messages are built from exceptions that
name local files (``cannot identify image file '/tmp/videoai-task_…/input.png'``), so:

- an absolute or relative file path (two parts or more, or a quoted one with blanks), and a
  storage URL (``file://``, ``s3://`` and the other fsspec schemes, chained ones too), become
  the file's name (``'input.png'``), or ``<path>`` when the last part is no file name: the
  artifact root, the data home and temporary folders never show;
- ``http(s)://`` URLs and ``upload://`` references stay (a user's own inputs, in their own
  task's error);
- ``shared``: the message is seen by every user, so it carries nothing of one user's: URLs and
  paths become ``<url>`` and ``<path>`` whole, query strings ``?<query>``, and it is shortened.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_PUBLIC = re.compile(
    # a quoted path, blanks included ('/srv/my data/a.png', "C:\\x\\y")
    r"(?P<q>['\"])(?P<qpath>(?:~|\.{1,2})?/[^'\"\n]+|[A-Za-z]:\\[^'\"\n]+)(?P=q)"
    # ``scheme://...`` and fsspec's chained ``scheme::...://`` URLs, up to the next blank or quote
    r"|(?P<url>[A-Za-z][A-Za-z0-9+.-]{0,30}:(?://|:(?=[^\s'\"<>]*/))[^\s'\"<>]*)"
    # file system paths with at least two parts (``/a/b``, ``./a/b``, ``~/a``, ``C:\a\b``)
    r"|(?P<path>(?<![\w/])(?:~|\.{1,2})?(?:/[^\s/'\"<>:]+){2,}/?|[A-Za-z]:\\[^\s'\"<>]+)"
)
#: ``?query`` fragments left over (a URL without a scheme)
_QUERY = re.compile(r"\?[^\s'\"<>]*=[^\s'\"<>]*")
#: URLs a user gives or may name: kept in their own errors
_USER_SCHEMES = frozenset({"http", "https", "upload"})

MAX_PUBLIC_MESSAGE = 200


def _name(path: str) -> str:
    """What a server path becomes: its file name, or ``<path>`` when it ends in no file name."""
    base = re.split(r"[/\\]", path.split("?", 1)[0].rstrip("/\\"))[-1]
    return base if "." in base.strip(".") else "<path>"


def _replace(m: re.Match[str], shared: bool) -> str:
    if m["qpath"] is not None:
        return f"{m['q']}{'<path>' if shared else _name(m['qpath'])}{m['q']}"
    if m["url"] is not None:
        url = m["url"].rstrip(".,;:)")  # the sentence's punctuation stays
        rest = m["url"][len(url):]
        if shared:
            return "<url>" + rest
        return (url if url.split(":", 1)[0].lower() in _USER_SCHEMES else _name(url)) + rest
    return "<path>" if shared else _name(m["path"])


def public_message(message: str | None, *, shared: bool = True) -> str | None:
    """``message`` fit to show (see the module's docstring); ``shared=False`` for an error its
    own user reads (a task's, a pipeline's, a webhook's)."""
    if message is None:
        return None
    text = _PUBLIC.sub(lambda m: _replace(m, shared), message)
    if not shared:
        return text
    text = _QUERY.sub("?<query>", text)
    return text if len(text) <= MAX_PUBLIC_MESSAGE else text[: MAX_PUBLIC_MESSAGE - 1] + "…"


def public_error(error: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An error object (``{"code", "message", ...}``: a task's, a pipeline's) with its message
    fit to show to its own user."""
    if error is None:
        return None
    out = dict(error)
    if isinstance(out.get("message"), str):
        out["message"] = public_message(out["message"], shared=False)
    return out


__all__ = ["MAX_PUBLIC_MESSAGE", "public_error", "public_message"]
