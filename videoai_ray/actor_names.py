"""The Ray namespace and the names of the package's named actors, in one place.

Every named actor of an instance lives in ``NAMESPACE``; its name says what it is and which
instance (``Settings.instance``) it serves, so deployments sharing a Ray cluster do not meet.
"""

from __future__ import annotations

NAMESPACE = "videoai"

#: the webhook dispatcher of the default instance (other instances add ``-<instance>``)
WEBHOOK_DISPATCHER = "videoai-webhooks"


def scheduler_name(instance: str) -> str:
    return f"videoai-scheduler-{instance}"


def artifact_sink_name(instance: str) -> str:
    return f"videoai-artifacts-{instance}"


def webhook_dispatcher_name(instance: str) -> str:
    return WEBHOOK_DISPATCHER if instance == "default" else f"{WEBHOOK_DISPATCHER}-{instance}"


def worker_prefix(instance: str, provider: str = "") -> str:
    """The prefix of the worker actors of ``provider`` (of every provider when empty)."""
    return f"videoai-worker-{instance}-{provider}" + ("-" if provider else "")


def pool_member_name(instance: str, provider: str, member_id: str) -> str:
    return f"videoai-pool-{instance}-{provider}-{member_id}"


__all__ = ["NAMESPACE", "WEBHOOK_DISPATCHER", "artifact_sink_name", "pool_member_name", "scheduler_name",
           "webhook_dispatcher_name", "worker_prefix"]
