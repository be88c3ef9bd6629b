"""Admission: what turns a request into a submission the Scheduler takes, the same for every door.

It parses and validates a body into its task type's request model, checks its inputs (the URL
policy, the network guard, input roots), applies the deployment's policy (the content filter,
webhook URLs, catalogue models), puts the task into a running experiment, and builds the
submission (``protocol.Submission`` is its shape) with the fingerprint an ``Idempotency-Key`` is
bound to.

It lives below the Scheduler: ``MediaService`` (the door of the SDK, the HTTP API and the CLI),
the pipeline runner and the schedule runner (both inside the Scheduler) all call it, and it
imports nothing of the door, the SDK or the API (``tests/test_import_graph.py`` checks it).

- ``tasks``: ``Admission``, a task's and a batch's validation and preparation
- ``fields``: pydantic's errors as ``InvalidRequest`` naming the field
- ``fingerprints``: what an ``Idempotency-Key`` is bound to
- ``doors``: what a pipeline or a schedule keeps of the request that made it

(Not ``intake`` nor ``submission``: the Scheduler's ``Intake`` (``scheduler/submit.py``) takes
what is admitted here, and ``submit`` names the modules that send it.)
"""

from .doors import door_context
from .fields import field_error, invalid_field
from .fingerprints import fingerprint, request_fingerprint
from .tasks import Admission, new_task_id

__all__ = ["Admission", "door_context", "field_error", "fingerprint", "invalid_field", "new_task_id",
           "request_fingerprint"]
