"""When the next attempt of a failed task may start."""

from __future__ import annotations

import random

from ..backoff import schedule_delay
from ..errors import ProviderError, RateLimited


def retry_delay(schedule: tuple[float, ...], retry_number: int, error: ProviderError | None = None,
                *, jitter: float = 0.1, rng: random.Random | None = None) -> float:
    """Delay before retry ``retry_number`` (1-based) from the schedule (its last entry repeats),
    plus up to ``jitter`` of it so retries of many tasks do not stampede; a rate limit's
    ``retry_after`` is honoured (never earlier than the provider asked)."""
    delay = schedule_delay(schedule, retry_number, spread=(0.0, jitter), rng=rng)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        delay = max(delay, float(error.retry_after))
    return delay
