"""A pipeline spec checked in full before anything is stored, and a step's input checked again
once its references are resolved, under the rules of the door the pipeline came through.

Below the door, on the ``Admission`` every submission goes through: ``PipelineService`` (the
SDK's and the HTTP API's pipelines) calls it, and so do the Scheduler's schedule runner (a tick's
pipeline) and pipeline runner (a step about to be submitted), which never import the door.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..admission import field_error, invalid_field
from ..errors import InvalidRequest
from ..models import REQUEST_MODELS, TaskType
from ..models.requests import HTTP_CONTEXT
from .spec import PipelineSpec, check_structure

if TYPE_CHECKING:
    from ..admission import Admission


def validate_spec(admission: Admission, spec: Mapping[str, Any] | PipelineSpec, *, http: bool = False,
                  user_id: str | None = None) -> PipelineSpec:
    """The spec as a ``PipelineSpec`` whose steps refer only to known steps, without cycles,
    and whose literal inputs are valid; ``InvalidRequest`` naming the field otherwise. With
    ``user_id`` (and not ``http``), a literal input under an input root passes when it is under
    a root granted to that user, as a task submitted through the SDK (checked again when the
    step starts, and in the worker); over HTTP a step's inputs stay http(s) URLs."""
    try:
        parsed = spec if isinstance(spec, PipelineSpec) else PipelineSpec.model_validate(dict(spec))
    except ValidationError as e:
        raise invalid_field(e) from None
    check_structure(parsed, lambda t, body, prefix, refs: check_step_input(admission, t, body, prefix, refs,
                                                                             http=http, user_id=user_id))
    if parsed.webhook_url:  # the one webhook URL policy, as for a task's
        admission.check_webhook_url(parsed.webhook_url)
    return parsed


def check_step_input(admission: Admission, task_type: TaskType, body: dict[str, Any], prefix: str, skip: Set[str],
                     *, http: bool, user_id: str | None = None) -> None:
    """Validate a step's body under the rules of its door (``http``), leaving out the fields
    in ``skip``: at creation, those holding references (checked once resolved); once
    resolved, those holding a file an earlier step made (handed over as an upload). With
    ``user_id`` through the SDK door, literal inputs under the roots granted to that user pass
    (the same check as ``Admission.prepare``: canonical form, grant, the object exists)."""
    model = REQUEST_MODELS[task_type]
    unknown = sorted(skip - set(model.model_fields))
    if unknown:
        raise InvalidRequest(f"{prefix}{unknown[0]}: no such field", field=f"{prefix}{unknown[0]}")
    literal = {k: v for k, v in body.items() if k not in skip}
    # roots only through the SDK door: an HTTP pipeline's steps stay http(s) URLs
    sdk_user = user_id if not http else None
    context = admission.input_context(False, sdk_user) if sdk_user is not None else \
        HTTP_CONTEXT if http else None
    try:
        request = model.model_validate(literal, context=context)
    except ValidationError as e:
        kept = [err for err in e.errors() if not _about(err, skip)]
        if kept:
            raise field_error(kept, prefix) from None
        request = model.model_construct(**literal, **dict.fromkeys(skip))
    admission.policy_checks(request, prefix)
    if sdk_user is not None:  # refused here, naming the field and the roots granted, not when the step starts
        admission.root_inputs(request, {}, prefix, user_id=sdk_user, http=False)


def _about(err: Any, fields: Set[str]) -> bool:
    """Whether a pydantic error concerns one of ``fields`` (a model-level check names its field
    first in its message: ``"cues: ..."``)."""
    if err["loc"]:
        return str(err["loc"][0]) in fields
    msg = str(err["msg"]).removeprefix("Value error, ")
    return msg.split(":", 1)[0] in fields


__all__ = ["check_step_input", "validate_spec"]
