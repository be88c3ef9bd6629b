"""Checking a webhook URL when a task is created (it is checked again before every send)."""

from __future__ import annotations

from ..netguard import UnsafeURL, check_url
from ..resolver import resolver_for
from ..settings import Settings

MAX_URL_LENGTH = 2048


class InvalidWebhookURL(UnsafeURL):
    """The ``webhook_url`` of a request cannot be used; the message says why.

    A ``ValueError`` (through ``UnsafeURL``), so pydantic validators and the API can turn it into a
    422 that names :attr:`field`.
    """

    field = "webhook_url"


def validate_webhook_url(url: str, settings: Settings, *, resolve_dns: bool = True) -> None:
    """Raise :class:`InvalidWebhookURL` unless ``url`` is an http(s) URL whose host is public or
    allow-listed (``settings.url_allowlist``).

    A host name that does not resolve (within ``settings.dns_timeout``) is refused: nothing can
    be checked about it. The dispatcher resolves and checks it again before each send and
    connects to the address it checked. ``resolve_dns=False`` checks a host name by name only
    (inside the Scheduler, which never waits on DNS: see ``MediaService``).
    """
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookURL(f"webhook_url: longer than {MAX_URL_LENGTH} characters")
    try:
        check_url(url, settings.url_allowlist, resolve_dns=resolve_dns, resolver=resolver_for(settings))
    except UnsafeURL as e:
        raise InvalidWebhookURL(f"webhook_url: {e}") from e


__all__ = ["MAX_URL_LENGTH", "InvalidWebhookURL", "validate_webhook_url"]
