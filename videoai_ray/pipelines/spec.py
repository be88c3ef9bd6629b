"""A pipeline spec: its steps, the references a step's input makes to earlier steps, and the
structural checks (unknown steps, cycles) made before anything is stored.

A reference is a JSON object in place of a top-level input value::

    {"$ref": "transcribe.output.segments", "as": "cues"}

``<step>.output.<path>`` is a value of that step's output, ``<step>.input.<path>`` one of its
input; ``as: "cues"`` keeps ``start``, ``end`` and ``text`` of each item (a transcript's segments
as a subtitle request's ``cues``). A step runs once every step it refers to (or lists in
``after``) has completed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import InvalidRequest
from ..models import Priority, TaskType
from ..models.requests import check_metadata

#: most steps in one pipeline
MAX_STEPS = 20
STEP_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
#: one part of a reference's path: a key, or a list index in ASCII digits (``"²".isdigit()`` is true)
PATH_PART = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: most parts in a reference's path
MAX_PATH_PARTS = 16
_REF_KEYS = frozenset({"$ref", "as"})
_TRANSFORMS = ("cues",)


@dataclass(frozen=True)
class Ref:
    """A reference to a value of an earlier step: ``step``, ``where`` (input/output), ``path``."""

    step: str
    where: Literal["input", "output"]
    path: tuple[str, ...]
    as_: str | None = None

    @property
    def text(self) -> str:
        """The reference as written: ``"a.output.images.0"``."""
        return ".".join((self.step, self.where, *self.path))


def is_index(part: str) -> bool:
    """Whether a path part is a list index: ASCII digits only."""
    return part.isascii() and part.isdigit()


def parse_ref(value: Any) -> Ref | None:
    """The reference ``value`` holds, ``None`` if it is a plain value; ``ValueError`` if it is a
    malformed reference."""
    if not isinstance(value, dict) or "$ref" not in value:
        return None
    if set(value) - _REF_KEYS:
        raise ValueError(f"a reference takes only {sorted(_REF_KEYS)}, got {sorted(value)}")
    target, as_ = value["$ref"], value.get("as")
    if not isinstance(target, str) or target.count(".") < 1:
        raise ValueError("$ref must be '<step>.output.<path>' or '<step>.input.<path>'")
    step, where, *path = target.split(".")
    if where not in ("input", "output") or any(not p for p in path):
        raise ValueError("$ref must be '<step>.output.<path>' or '<step>.input.<path>'")
    if as_ is not None and as_ not in _TRANSFORMS:
        raise ValueError(f"'as' must be one of {list(_TRANSFORMS)}")
    return Ref(step, where, tuple(path), as_)  # type: ignore[arg-type]


class PipelineStep(BaseModel):
    """One task of a pipeline: its id (unique in the pipeline), task type and request body, in
    which top-level values may be references to earlier steps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # the pattern is published in the schema; ``_id`` checks it with a plainer message
    id: str = Field(min_length=1, max_length=40, json_schema_extra={"pattern": STEP_ID.pattern},
                    description="unique in the pipeline: a letter, then letters, digits, `_` or `-`")
    task_type: TaskType
    input: dict[str, Any]
    #: steps that must complete first even though this one reads nothing from them
    after: list[str] = Field(default_factory=list, max_length=MAX_STEPS)
    #: this step's priority (default: the pipeline's)
    priority: Priority | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not STEP_ID.match(v):
            raise ValueError("must start with a letter and hold only letters, digits, '_' and '-'")
        return v

    def refs(self) -> Iterator[tuple[str, Ref]]:
        """``(input field, reference)`` of every top-level value that refers to another step."""
        for name, value in self.input.items():
            ref = parse_ref(value)
            if ref is not None:
                yield name, ref

    def needs(self) -> list[str]:
        """The steps this one waits for, in order of first mention."""
        return list(dict.fromkeys([*(r.step for _, r in self.refs()), *self.after]))


class PipelineSpec(BaseModel):
    """``POST /pipelines``: the steps, and the options of the pipeline as a whole."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: list[PipelineStep] = Field(min_length=1, max_length=MAX_STEPS,
                                      description="each with an `id` of its own (a repeated id is refused)")
    #: the priority of steps that do not set their own
    priority: Priority = Priority.MEDIUM
    #: where ``pipeline.completed`` / ``pipeline.failed`` / ``pipeline.cancelled`` are POSTed
    webhook_url: str | None = Field(default=None, max_length=2048)
    #: signs those deliveries (the user's secret otherwise); never returned
    webhook_secret: str | None = Field(default=None, min_length=8, max_length=256, repr=False)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metadata")
    @classmethod
    def _small_metadata(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_metadata(v)

    def step(self, step_id: str) -> PipelineStep:
        return next(s for s in self.steps if s.id == step_id)


#: checks a step's literal input: (task type, literal fields, field prefix, fields that are refs)
LiteralCheck = Callable[[TaskType, dict[str, Any], str, set[str]], None]


def check_structure(spec: PipelineSpec, check_literals: LiteralCheck | None = None) -> list[str]:
    """Refuse duplicate ids, malformed references, references to unknown steps and cycles with
    ``InvalidRequest`` naming the step and its field; then check each step's literal input with
    ``check_literals``. Returns the step ids in an order where every step follows its needs."""
    index = {}
    for i, step in enumerate(spec.steps):
        if step.id in index:
            raise InvalidRequest(f"steps[{i}].id: duplicate step id {step.id!r}", field=f"steps[{i}].id")
        index[step.id] = i
    for i, step in enumerate(spec.steps):
        for name, value in step.input.items():
            field = f"steps[{i}].input.{name}"
            try:
                ref = parse_ref(value)
            except ValueError as e:
                raise InvalidRequest(f"{field}: step {step.id!r}: {e}", field=field) from None
            if ref is None:
                continue
            if ref.step not in index:
                raise InvalidRequest(f"{field}: step {step.id!r} refers to unknown step {ref.step!r}", field=field)
            bad = next((p for p in ref.path if not PATH_PART.match(p)), None)
            if bad is not None or len(ref.path) > MAX_PATH_PARTS:
                raise InvalidRequest(f"{field}: step {step.id!r}: each part of a $ref path is a key (letters, "
                                     f"digits, '_', '-') or an index (ASCII digits), at most {MAX_PATH_PARTS} "
                                     "parts", field=field)
        for j, other in enumerate(step.after):
            if other not in index:
                raise InvalidRequest(f"steps[{i}].after[{j}]: step {step.id!r} waits for unknown step {other!r}",
                                     field=f"steps[{i}].after[{j}]")
    order = _topological(spec, index)
    if check_literals is not None:
        for i, step in enumerate(spec.steps):
            check_literals(step.task_type, step.input, f"steps[{i}].input.", {n for n, _ in step.refs()})
    return order


def _topological(spec: PipelineSpec, index: dict[str, int]) -> list[str]:
    """Depth-first order; a cycle is an ``InvalidRequest`` naming a step on it and the cycle."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    order: list[str] = []
    for root in (s.id for s in spec.steps):
        if state.get(root):
            continue
        path: list[str] = [root]
        stack = [iter(spec.steps[index[root]].needs())]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                done = path.pop()
                state[done] = 2
                order.append(done)
                continue
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt):], nxt]
                i = index[path[-1]]
                raise InvalidRequest(
                    f"steps[{i}]: step {path[-1]!r} is part of a cycle ({' -> '.join(cycle)})",
                    field=f"steps[{i}]")
            if state.get(nxt) is None:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(spec.steps[index[nxt]].needs()))
    return order


__all__ = ["MAX_STEPS", "LiteralCheck", "PipelineSpec", "PipelineStep", "Ref", "check_structure", "is_index",
           "parse_ref"]
