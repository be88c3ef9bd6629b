"""Webhook URLs that point inside the network are refused at task creation."""

from __future__ import annotations

import pytest

from videoai_ray.settings import Settings
from videoai_ray.webhooks import InvalidWebhookURL, validate_webhook_url


@pytest.mark.parametrize("url", [
    "http://10.0.0.5/hook",
    "http://192.168.1.1/hook",
    "http://127.0.0.1:8080/hook",
    "http://localhost/hook",
    "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "ftp://example.com/hook",
    "not a url",
    "http://100.64.0.1/hook",  # carrier-grade NAT
    "http://[2002:7f00:1::]/hook",  # 6to4 of 127.0.0.1
    "https://example.com/" + "x" * 2100,
])
def test_refused(url: str) -> None:
    strict = Settings(url_allowlist=())
    with pytest.raises(InvalidWebhookURL) as e:
        validate_webhook_url(url, strict)
    assert str(e.value).startswith("webhook_url: ")
    assert isinstance(e.value, ValueError) and e.value.field == "webhook_url"


def test_accepted(settings: Settings) -> None:
    validate_webhook_url("http://127.0.0.1:9/hook", settings)  # allow-listed
    strict = Settings(url_allowlist=())
    validate_webhook_url("https://93.184.216.34/hook", strict)
    allow_net = Settings(url_allowlist=("10.1.0.0/16",))
    validate_webhook_url("http://10.1.2.3/hook", allow_net)
