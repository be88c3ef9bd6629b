"""What an experiment is: the body that creates one (arms with weights, the traffic it takes),
and the stored record. Bad input is an ``InvalidRequest`` naming the field (``arms[1].provider``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..errors import InvalidRequest
from ..models import TaskType
from ..models.requests import MODEL_NAME_PATTERN

#: the longest metadata value an experiment may match on
_MAX_TAG = 200


class ArmSpec(BaseModel):
    """One arm: the provider its tasks run on, or the catalogue model they run with (its
    provider implied by the model's kind), and its share of the traffic (weights are relative:
    ``1`` and ``3`` split 25 % / 75 %)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    #: required unless ``model`` is given (then it is the provider that serves the model)
    provider: str | None = Field(default=None, min_length=1, max_length=100)
    #: a model catalogue entry's name: the arm's tasks run with it (``model=``)
    model: str | None = Field(default=None, pattern=MODEL_NAME_PATTERN)
    weight: float = Field(default=1.0, ge=0, le=1e6, allow_inf_nan=False)
    #: the arm's name in reports (default: its model's, else its provider's); two arms on one
    #: provider without a model (an A/A test) need names of their own
    name: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")

    @property
    def label(self) -> str:
        return self.name or self.model or str(self.provider)


class ExperimentSpec(BaseModel):
    """The body that creates an experiment. It starts at once and takes every matching task
    submitted without ``provider=`` until it is stopped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    name: str = Field(min_length=1, max_length=200)
    task_type: TaskType
    arms: list[ArmSpec] = Field(min_length=2, max_length=10,
                                description="each arm's name (`name`, default: its `provider`) must be unique: "
                                            "two arms on one provider need names of their own")
    #: the arm the others are compared with (default: the first)
    baseline: str | None = Field(default=None, min_length=1, max_length=64,
                                 description="the name of one of the arms (default: the first)")
    #: only this user's tasks (default: the creator's own); another user's needs an admin token
    user_id: str | None = Field(default=None, min_length=1, max_length=128)
    #: every user's tasks (an admin token, or the SDK)
    all_users: bool = False
    #: only tasks whose ``metadata`` holds these key/value pairs (``{"campaign": "spring"}``)
    metadata: dict[str, str | int | bool] | None = Field(default=None, max_length=10)

    @model_validator(mode="after")
    def _arms(self) -> ExperimentSpec:
        if sum(a.weight for a in self.arms) <= 0:
            raise ValueError("arms: the weights must sum to a positive number")
        seen: dict[str, int] = {}
        for i, arm in enumerate(self.arms):
            if arm.provider is None and arm.model is None:
                raise ValueError(f"arms[{i}].provider: give the arm a provider or a model")
            if arm.label in seen:
                raise ValueError(f"arms[{i}].name: arm {arm.label!r} is given twice (name each arm)")
            seen[arm.label] = i
        if self.baseline is not None and self.baseline not in seen:
            raise ValueError(f"baseline: no arm named {self.baseline!r}")
        if self.all_users and self.user_id is not None:
            raise ValueError("user_id: give a user or all_users, not both")
        for key, value in (self.metadata or {}).items():
            if not key or len(key) > 100 or len(str(value)) > _MAX_TAG:
                raise ValueError(f"metadata.{key[:100]}: keys take 1 to 100 characters, values up to {_MAX_TAG}")
        return self


class Experiment(BaseModel):
    """A stored experiment."""

    model_config = ConfigDict(frozen=True)

    id: str
    owner_id: str
    name: str
    task_type: TaskType
    arms: list[ArmSpec]
    baseline: str
    #: whose tasks it takes; ``None``: every user's
    user_id: str | None
    metadata: dict[str, str | int | bool] | None
    created_at: datetime
    stopped_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    def matches(self, user_id: str, metadata: Mapping[str, Any] | None) -> bool:
        """Whether a task of this experiment's type, from ``user_id`` with ``metadata``, is in it."""
        if self.user_id is not None and self.user_id != user_id:
            return False
        meta = metadata or {}
        return all(k in meta and meta[k] == v for k, v in (self.metadata or {}).items())

    def public(self) -> dict[str, Any]:
        """The JSON form every entry point returns."""
        doc = self.model_dump(mode="json")
        doc["arms"] = [{"name": a.label, "provider": a.provider, "model": a.model, "weight": a.weight}
                       for a in self.arms]
        doc["status"] = "running" if self.running else "stopped"
        return doc


def new_experiment_id() -> str:
    return "exp_" + uuid.uuid4().hex


def parse_spec(body: Mapping[str, Any] | ExperimentSpec) -> ExperimentSpec:
    """The body as an ``ExperimentSpec``; ``InvalidRequest`` naming the first bad field."""
    if isinstance(body, ExperimentSpec):
        return body
    try:
        return ExperimentSpec.model_validate(dict(body))
    except ValidationError as e:
        errors = [{"field": _loc(err["loc"]) or "body", "message": err["msg"]} for err in e.errors()]
        first, msg = errors[0]["field"], str(e.errors()[0]["msg"]).removeprefix("Value error, ")
        if first == "body" and ":" in msg.split(" ")[0]:  # a model-level check names its field first
            first, msg = msg.split(":", 1)[0], msg.split(":", 1)[1].strip()
        raise InvalidRequest(f"{first}: {msg}", field=first, errors=errors) from None


def resolve_models(spec: ExperimentSpec, resolve: Callable[[str, str, str], Any]) -> ExperimentSpec:
    """``spec`` with each model arm's provider set to the one that serves its model;
    ``resolve(name, task_type, field)``: the catalogue entry (``ModelService.resolve``, which
    refuses an unknown model or one of another kind, naming ``arms[i].model``)."""
    from ..catalogue.service import local_provider
    from ..catalogue.spec import BUILTIN

    arms = []
    for i, arm in enumerate(spec.arms):
        if arm.model is not None:
            field = f"arms[{i}].model"
            if arm.model in BUILTIN:
                raise InvalidRequest(f"{field}: {arm.model!r} is not a catalogue model (leave model out to use "
                                     "the provider's own)", field=field)
            serving = local_provider(resolve(arm.model, spec.task_type.value, field))
            if arm.provider not in (None, serving):
                field = f"arms[{i}].provider"
                raise InvalidRequest(f"{field}: model {arm.model!r} is served by {serving}, not {arm.provider}",
                                     field=field)
            arm = arm.model_copy(update={"provider": serving})
        arms.append(arm)
    return spec.model_copy(update={"arms": arms})


def check_providers(spec: ExperimentSpec, providers: Sequence[Mapping[str, Any]]) -> None:
    """Every arm's provider is registered, available and serves the experiment's task type
    (``providers``: the rows of ``MediaService.providers()``)."""
    by_name = {p["name"]: p for p in providers}
    for i, arm in enumerate(spec.arms):
        field = f"arms[{i}].provider"
        row = by_name.get(str(arm.provider))
        if row is None:
            raise InvalidRequest(f"{field}: unknown provider {arm.provider!r}", field=field)
        if spec.task_type.value not in row["task_types"]:
            raise InvalidRequest(f"{field}: provider {arm.provider!r} does not serve {spec.task_type.value}",
                                 field=field)
        if not row.get("available", True):
            raise InvalidRequest(f"{field}: provider {arm.provider!r} is unavailable "
                                 f"({row.get('unavailable_reason')})", field=field)


def _loc(loc: Sequence[Any]) -> str:
    """``("arms", 1, "provider")`` → ``arms[1].provider``."""
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


__all__ = ["ArmSpec", "Experiment", "ExperimentSpec", "check_providers", "new_experiment_id", "parse_spec",
           "resolve_models"]
