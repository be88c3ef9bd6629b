"""What the experiment tests share: the test providers' costs, a two-arm experiment body, and a
helper that runs image tasks and waits for them."""

from __future__ import annotations

import uuid

import videoai_ray as vai

FAST_COST, HALF_COST = 0.01, 0.02


def images(client: vai.Client, n: int, **body: object) -> list[vai.Task]:
    """``n`` image tasks with distinct prompts (no cache hits), waited for."""
    tag = uuid.uuid4().hex[:8]
    futs = [client.images.generate(f"exp {tag} {i}", **body) for i in range(n)]
    return [f.wait(timeout=120) for f in futs]


def two_arms(**extra: object) -> dict[str, object]:
    return {"name": "fast vs half", "task_type": "image_generation",
            "arms": [{"provider": "fast", "weight": 1}, {"provider": "half", "weight": 1}], **extra}


__all__ = ["FAST_COST", "HALF_COST", "images", "two_arms"]
