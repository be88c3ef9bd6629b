"""Signatures: the VideoAI API contract's ``verify_webhook`` and the ``standardwebhooks`` package both accept what
we send, with a task's own secret and with a user's issued ``whsec_`` secret."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from receiver import standard_verifier, verify_webhook
from standardwebhooks import Webhook, WebhookVerificationError

from videoai_ray.webhooks.outbox import encode_body, new_webhook_id
from videoai_ray.webhooks.signing import sign_headers, signing_key
from videoai_ray.webhooks.user_secrets import generate_secret

BODY = encode_body({"event_type": "task.completed", "task_id": "task_1", "data": {"progress": 1.0},
                    "metadata": {"note": "café"}})


@pytest.mark.parametrize("secret", ["optional-secret-for-verification", generate_secret()])
def test_both_schemes_verify(secret: str) -> None:
    wid = new_webhook_id()
    headers = sign_headers(wid, BODY, secret, datetime.now(UTC))
    assert headers["webhook-id"] == wid and wid.startswith("msg_")
    assert verify_webhook(BODY, headers["X-Webhook-Signature"], secret)
    assert standard_verifier(secret).verify(BODY, headers) is not None
    # the base64 form of a raw task secret works too (what Standard Webhooks libraries expect)
    if not secret.startswith("whsec_"):
        Webhook(base64.b64encode(secret.encode()).decode()).verify(BODY, headers)


def test_tampering_and_wrong_secret_fail() -> None:
    secret = generate_secret()
    headers = sign_headers(new_webhook_id(), BODY, secret, datetime.now(UTC))
    tampered = BODY.replace("task_1", "task_2")
    assert not verify_webhook(tampered, headers["X-Webhook-Signature"], secret)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers)


def test_stale_timestamp_is_rejected_by_receivers() -> None:
    secret = generate_secret()
    headers = sign_headers(new_webhook_id(), BODY, secret, datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers)


def test_rotation_grace_signs_with_both() -> None:
    old, new = generate_secret(), generate_secret()
    headers = sign_headers(new_webhook_id(), BODY, new, datetime.now(UTC), extra_secrets=[old])
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)
    assert verify_webhook(BODY, headers["X-Webhook-Signature"], new)


def test_signing_key_rules() -> None:
    raw = b"\x00\x01binary-key"
    assert signing_key("whsec_" + base64.b64encode(raw).decode()) == raw
    assert signing_key("plain") == b"plain"
    assert signing_key("whsec_") == b"whsec_"  # nothing to decode: used as text
