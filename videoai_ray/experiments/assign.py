"""Which experiment and arm a new task joins, at intake.

A task joins the oldest running experiment of its type whose user and metadata filters it
matches, unless it pins a provider (``provider=``): pinned requests are never part of an
experiment. Its arm is drawn by weight from a hash of the experiment id and the task id, so the
draw is the same every time the same task is prepared (a batch sent again, a test).

An arm with a catalogue model (``model``) also sets the task's ``model``, as a request naming
it would: the entry's pinned revision is shipped with the task and is part of its cache key. A
model removed from the catalogue since the experiment started is logged and the task does not
join the experiment (it runs as if there were none), rather than being refused.

The task then routes to the arm's provider as if pinned to it, and stays there: a retryable
failure retries on the same provider, never on another one. An arm's numbers are its provider's
alone, and the provider recorded on each task is the arm's (a cache hit, where no provider ran,
is counted apart).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .models import ArmSpec, Experiment

if TYPE_CHECKING:
    from ..protocol import Submission

log = logging.getLogger("videoai.experiments")

#: seconds a process keeps its list of running experiments before reading it again: an
#: experiment created or stopped through another process applies to that process's
#: submissions within this time (through the same process, at once)
REFRESH_SECONDS = 1.0


def pick_arm(exp: Experiment, task_id: str) -> ArmSpec:
    """The arm of ``task_id`` in ``exp``: arm ``i`` with probability ``weight_i / sum(weights)``."""
    digest = hashlib.sha256(f"{exp.id}:{task_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64 * sum(a.weight for a in exp.arms)
    upto = 0.0
    for arm in exp.arms:
        upto += arm.weight
        if u < upto and arm.weight > 0:
            return arm
    return next(a for a in reversed(exp.arms) if a.weight > 0)  # u at the very top (rounding)


class ExperimentRouter:
    """Puts new tasks into running experiments; keeps the running list for ``REFRESH_SECONDS``."""

    def __init__(self, load: Callable[[], Sequence[Experiment]], refresh: float = REFRESH_SECONDS,
                 resolve_model: Callable[[str, str], dict[str, Any]] | None = None) -> None:
        self._load = load
        #: ``(model name, task type)`` → the catalogue entry a model arm's tasks carry
        self._resolve_model = resolve_model
        self._refresh = refresh
        self._by_type: dict[str, list[Experiment]] = {}
        self._loaded_at = -float("inf")

    def invalidate(self) -> None:
        """Read the running experiments again before the next task (after a create or a stop)."""
        self._loaded_at = -float("inf")

    def running(self, task_type: str) -> list[Experiment]:
        now = time.monotonic()
        if now - self._loaded_at >= self._refresh:
            try:
                loaded = self._load()
            except Exception:
                # a failed read must not refuse submissions: keep the last list, read again later
                log.warning("could not read the running experiments; using the last list", exc_info=True)
                loaded = [e for exps in self._by_type.values() for e in exps]
            by_type: dict[str, list[Experiment]] = {}
            for exp in loaded:
                by_type.setdefault(exp.task_type.value, []).append(exp)
            self._by_type, self._loaded_at = by_type, now
        return self._by_type.get(task_type, [])

    def assign(self, prepared: Submission) -> None:
        """Add ``experiment_id`` and ``experiment_arm`` to a prepared submission (see
        ``MediaService.prepare``) that joins an experiment, and route it to the arm's provider."""
        options = prepared["options"]
        if options.get("provider"):
            return  # pinned by its caller: never part of an experiment
        for exp in self.running(prepared["type"]):
            if exp.matches(prepared["user_id"], prepared.get("metadata")):
                arm = pick_arm(exp, prepared["id"])
                if arm.model is not None:
                    try:
                        assert self._resolve_model is not None, "a model arm needs the catalogue"
                        options["model"] = self._resolve_model(arm.model, prepared["type"])
                    except Exception as exc:
                        log.warning("experiment %s: arm %s: model %s cannot be used (%s); task %s is not in it",
                                    exp.id, arm.label, arm.model, exc, prepared["id"])
                        return
                    prepared["input"] = {**prepared["input"], "model": arm.model}
                options["provider"] = arm.provider
                prepared["experiment_id"], prepared["experiment_arm"] = exp.id, arm.label
                return


__all__ = ["REFRESH_SECONDS", "ExperimentRouter", "pick_arm"]
