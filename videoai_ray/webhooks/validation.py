"""Checking a webhook URL when a task is created (it is checked again before every send)."""

from __future__ import annotations

import socket

from ..netguard import UnsafeURL, check_url
from ..settings import Settings

MAX_URL_LENGTH = 2048


class InvalidWebhookURL(UnsafeURL):
    """The ``webhook_url`` of a request cannot be used; the message says why.

    A ``ValueError`` (through ``UnsafeURL``), so pydantic validators and the API can turn it into a
    422 that names :attr:`field`.
    """

    field = "webhook_url"


def validate_webhook_url(url: str, settings: Settings) -> None:
    """Raise :class:`InvalidWebhookURL` unless ``url`` is an http(s) URL whose host is public or
    allow-listed (``settings.url_allowlist``).

    A host name that does not resolve right now is accepted: DNS may be down or the receiver not
    deployed yet, and the dispatcher checks the resolved addresses again before each send.
    """
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookURL(f"webhook_url: longer than {MAX_URL_LENGTH} characters")
    try:
        check_url(url, settings.url_allowlist)
    except UnsafeURL as e:
        if isinstance(e.__cause__, socket.gaierror):
            try:
                check_url(url, settings.url_allowlist, resolve_dns=False)
            except UnsafeURL as e2:
                raise InvalidWebhookURL(f"webhook_url: {e2}") from e2
            return
        raise InvalidWebhookURL(f"webhook_url: {e}") from e


__all__ = ["MAX_URL_LENGTH", "InvalidWebhookURL", "validate_webhook_url"]
