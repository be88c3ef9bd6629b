"""Messages fit to show to every user: what is shared between tenants (a provider's last error in
``GET /providers`` and ``/statistics``) must not carry one user's URLs, query strings or paths."""

from __future__ import annotations

import re

#: ``scheme://...`` and fsspec's chained ``scheme::...`` URLs, up to the next blank or quote
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}:(?://|:)[^\s'\"<>]*")
#: file system paths with at least two parts (``/a/b``, ``./a/b``, ``~/a``, ``C:\a\b``)
_PATH = re.compile(r"(?<![\w/])(?:~|\.{1,2})?(?:/[^\s/'\"<>:]+){2,}/?|[A-Za-z]:\\[^\s'\"<>]+")
#: ``?query`` fragments left over (a URL without a scheme)
_QUERY = re.compile(r"\?[^\s'\"<>]*=[^\s'\"<>]*")

MAX_PUBLIC_MESSAGE = 200


def public_message(message: str | None) -> str | None:
    """``message`` with every URL, path and query string replaced by a placeholder, shortened."""
    if message is None:
        return None
    text = _URL.sub("<url>", message)
    text = _PATH.sub("<path>", text)
    text = _QUERY.sub("?<query>", text)
    return text if len(text) <= MAX_PUBLIC_MESSAGE else text[: MAX_PUBLIC_MESSAGE - 1] + "…"
