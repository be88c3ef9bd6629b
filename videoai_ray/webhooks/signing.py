"""Webhook signatures, two schemes on every delivery.

1. The VideoAI API contract's scheme: ``X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>``, keyed
   with the secret string exactly as the user holds it (UTF-8), so the contract's
   ``verify_webhook(body, signature, secret)`` accepts it.
2. Standard Webhooks (https://www.standardwebhooks.com): ``webhook-id``, ``webhook-timestamp`` and
   ``webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>``. The key is
   :func:`signing_key` of the secret: a ``whsec_<base64>`` secret (what users are issued) is
   base64-decoded, as the standard says; any other secret (a task's own ``webhook_secret``) is used
   as its raw UTF-8 bytes. A receiver therefore builds ``standardwebhooks.Webhook(secret)`` for a
   ``whsec_`` secret and ``Webhook(secret.encode())`` for any other.

The timestamp is the time of each attempt (receivers reject stale ones); the id stays the same on
every retry, so receivers can de-duplicate.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from datetime import datetime

#: prefix of the secrets this package issues (the Standard Webhooks convention)
SECRET_PREFIX = "whsec_"
SIGNATURE_HEADER = "X-Webhook-Signature"


def signing_key(secret: str) -> bytes:
    """The Standard Webhooks HMAC key for ``secret`` (see the module docstring)."""
    if secret.startswith(SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(SECRET_PREFIX):] + "==", validate=False)
        except (binascii.Error, ValueError):
            key = b""
        if key:
            return key
    return secret.encode()


def seed_signature(body: str, secret: str) -> str:
    """``sha256=<hex>``: the VideoAI API contract's signature of the raw body."""
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def standard_signature(webhook_id: str, timestamp: int, body: str, secret: str) -> str:
    """``v1,<base64>``: one Standard Webhooks signature."""
    to_sign = f"{webhook_id}.{timestamp}.{body}".encode()
    mac = hmac.new(signing_key(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def sign_headers(
    webhook_id: str,
    body: str,
    secret: str,
    at: datetime,
    *,
    extra_secrets: Iterable[str] = (),
) -> dict[str, str]:
    """All signature headers for one attempt.

    ``extra_secrets`` (e.g. a user's secret before its last rotation) add further ``v1,``
    signatures to ``webhook-signature``, space-separated as the standard allows, so receivers that
    still hold the old secret keep verifying during a rotation.
    """
    ts = int(at.timestamp())
    sigs = [standard_signature(webhook_id, ts, body, s) for s in (secret, *extra_secrets)]
    return {
        SIGNATURE_HEADER: seed_signature(body, secret),
        "webhook-id": webhook_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(sigs),
    }


__all__ = [
    "SECRET_PREFIX",
    "SIGNATURE_HEADER",
    "seed_signature",
    "sign_headers",
    "signing_key",
    "standard_signature",
]
