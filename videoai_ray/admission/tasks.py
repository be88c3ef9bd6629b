"""``Admission``: a task's (or a batch item's) body validated and prepared into the submission the
Scheduler takes, under the rules of the door it came through.

One per ``MediaService`` (the SDK's, the HTTP API's and the CLI's door) and one in each of the
Scheduler's runners (pipeline steps, schedule ticks), which check URLs by name only
(``resolve_dns=False``): nothing inside the Scheduler waits on DNS, and the worker that fetches
an input (or the dispatcher that sends a webhook) checks it again, resolved and pinned.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Iterator, Mapping
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .. import inputs, netguard
from ..catalogue import BUILTIN as BUILTIN_MODELS
from ..errors import InvalidRequest
from ..experiments import ExperimentRouter
from ..models import REQUEST_MODELS, BatchItem, TaskRequest, TaskType
from ..models.requests import HTTP_CONTEXT, ROOTS_CONTEXT
from ..protocol import Submission
from ..resolver import resolver_for
from ..settings import Settings
from ..store.batches import batch_task_id
from .fields import invalid_field
from .fingerprints import request_fingerprint

if TYPE_CHECKING:
    from ..catalogue.service import ModelService
    from ..store import TaskStore

#: batch items read ahead at a time, so their inputs' identities are asked for together
IDENTITY_WINDOW = 256
#: every field of any request model that names an input
INPUT_URL_FIELDS = tuple(dict.fromkeys(f for m in REQUEST_MODELS.values() for f in m.input_url_fields))


def new_task_id() -> str:
    return "task_" + uuid.uuid4().hex


class Admission:
    """Validation and preparation of submissions for one deployment (``settings``); ``store``
    holds the model catalogue and the running experiments a submission may be routed by."""

    def __init__(self, settings: Settings, store: TaskStore, *, resolve_dns: bool = True) -> None:
        """``resolve_dns=False``: URLs are checked by name only, never waiting on DNS (the
        Scheduler's own validation of what was checked in full when it was created)."""
        self.settings = settings
        self.store = store
        self.resolve_dns = resolve_dns
        self.router = ExperimentRouter(self._running_experiments,
                                       resolve_model=lambda name, ttype: self.models.resolve(name, ttype).to_dict())

    def _running_experiments(self) -> list[Any]:
        from ..store.experiments import running_experiments

        return running_experiments(self.store.engine, instance=self.store.instance)

    @cached_property
    def models(self) -> ModelService:
        """The model catalogue that resolves a request's ``model=`` (``MediaService.models``)."""
        from ..catalogue.service import ModelService

        return ModelService(self)

    # -- validation ----------------------------------------------------------------------------

    def validate(
        self, task_type: TaskType | str, body: Mapping[str, Any] | TaskRequest, prefix: str = "",
        *, http: bool = False, user_id: str | None = None,
    ) -> TaskRequest:
        """The body as its task type's model; ``InvalidRequest`` naming the field otherwise.
        ``http``: the body came over HTTP, where input fields take only http(s) URLs unless the
        deployment grants ``user_id`` an input root there. With ``user_id``, inputs under the
        roots granted to that user pass this syntactic check (``prepare`` checks the grant)."""
        try:
            ttype = TaskType(task_type)
        except ValueError:
            raise InvalidRequest(f"{prefix}task_type: unknown task type {task_type!r}",
                                 field=f"{prefix}task_type") from None
        model = REQUEST_MODELS[ttype]
        if isinstance(body, TaskRequest):
            body = body.model_dump(exclude_unset=True)
        try:
            request = model.model_validate(dict(body), context=self.input_context(http, user_id))
        except ValidationError as e:
            raise invalid_field(e, prefix) from None
        self.policy_checks(request, prefix)
        return request

    def input_context(self, http: bool, user_id: str | None) -> dict[str, Any] | None:
        """The validation context of a request from ``user_id`` through its door (``http``):
        inputs under roots pass the syntactic check where the door may grant roots to this user."""
        roots = user_id is not None and bool(inputs.granted_roots(self.settings, user_id, http=http) or not http)
        if not roots:
            return HTTP_CONTEXT if http else None
        return {**(HTTP_CONTEXT if http else {}), **ROOTS_CONTEXT}

    def root_inputs(self, request: TaskRequest, media_input: dict[str, Any], prefix: str, *, user_id: str,
                    http: bool, known: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Check each input named under a root against the roots granted to ``user_id`` (its URL
        in ``media_input`` becomes the canonical one) and ask for the object's identity (no byte
        of it is read); ``{field: identity}``, which the cache key includes. ``InvalidRequest``
        naming the field (through the SDK, also the roots granted to this user)."""
        found: dict[str, Any] = {}
        for field in type(request).input_url_fields:
            url = getattr(request, field)
            if not url or not inputs.is_root_url(url):
                continue
            roots = inputs.granted_roots(self.settings, user_id, http=http)
            try:
                value = inputs.check_granted(url, roots)
                ident = (known or {}).get(value) or inputs.identity(value, self.settings)
                if isinstance(ident, inputs.InputRefused):
                    raise ident
                found[field] = ident
            except inputs.InputRefused as e:
                granted = ", ".join(roots) or "none; a deployment grants them with VIDEOAI_INPUT_ROOTS"
                shown = "" if http else f" (input roots granted to user {user_id!r}: {granted})"
                raise InvalidRequest(f"{prefix}{field}: {e}{shown}", field=f"{prefix}{field}") from None
            media_input[field] = value
        return found

    def policy_checks(self, request: TaskRequest, prefix: str) -> None:
        """The deployment's policy on a valid request: the content filter (``blocklist``), the
        webhook URL policy and the network guard on its http(s) inputs."""
        # fields are looked up on the class: getattr on a pydantic model that lacks the attribute
        # is slow, and this runs for every request
        fields = type(request).model_fields
        name = next((n for n in ("prompt", "text") if n in fields), None)
        prompt = getattr(request, name) if name else None
        if prompt and self.settings.blocklist:
            low = prompt.lower()
            for word in self.settings.blocklist:
                if word.lower() in low:
                    raise InvalidRequest(f"{prefix}{name}: rejected by the content filter",
                                         field=f"{prefix}{name}")
        if request.webhook_url:
            self.check_webhook_url(request.webhook_url, f"{prefix}webhook_url")
        for field in type(request).input_url_fields:
            url = getattr(request, field)
            if url and url.startswith(("http://", "https://")):
                try:
                    netguard.check_url(url, self.settings.url_allowlist, resolve_dns=self.resolve_dns,
                                       resolver=resolver_for(self.settings))
                except netguard.UnsafeURL as e:
                    raise InvalidRequest(f"{prefix}{field}: {e}", field=f"{prefix}{field}") from None

    def check_webhook_url(self, url: str, field: str = "webhook_url") -> None:
        """The one webhook URL policy (a task's, a pipeline's): ``InvalidRequest`` naming ``field``."""
        from ..webhooks import InvalidWebhookURL, validate_webhook_url

        try:
            validate_webhook_url(url, self.settings, resolve_dns=self.resolve_dns)
        except InvalidWebhookURL as e:
            msg = str(e).removeprefix("webhook_url: ")
            raise InvalidRequest(f"{field}: {msg}", field=field) from None

    # -- preparing -------------------------------------------------------------------------------

    def prepare(self, task_type: TaskType | str, body: Mapping[str, Any] | TaskRequest, *, user_id: str,
                idempotency_key: str | None = None, batch_id: str | None = None,
                priority: str | None = None, prefix: str = "", http: bool = False,
                tenant: str | None = None, task_id: str | None = None,
                share: Mapping[str, Any] | None = None,
                known_inputs: Mapping[str, Any] | None = None) -> Submission:
        """A validated submission, ready for the Scheduler (its shape: ``protocol.Submission``).
        ``tenant`` (from the caller's token) scopes the result cache when ``cache_scope`` is
        ``tenant``; ``task_id``: a derived id (a batch item's), else a new one; ``share`` (the
        token's fair-share claims, ``Caller.share``) sets the user's weight and cap;
        ``known_inputs``: identities of inputs under roots, looked up ahead (``prepare_batch``)."""
        request = self.validate(task_type, body, prefix, http=http, user_id=user_id)
        media_input, opts = request.split()
        ttype = TaskType(task_type).value
        prio = priority or opts["priority"]
        options = {"provider": opts["provider"], "strategy": opts["strategy"], "use_cache": opts["use_cache"]}
        rooted = self.root_inputs(request, media_input, prefix, user_id=user_id, http=http, known=known_inputs)
        if rooted:
            options["inputs"] = rooted
        if tenant:
            options["tenant"] = tenant
        if share:
            options["share"] = dict(share)
        self._catalogue_model(request, ttype, options, prefix)
        prepared: Submission = {
            "id": task_id or new_task_id(), "type": ttype, "user_id": user_id,
            "priority": prio, "input": media_input, "options": options,
            "webhook_url": opts["webhook_url"], "webhook_secret": request.webhook_secret,
            "webhook_events": opts["webhook_events"], "metadata": opts["metadata"],
            "idempotency_key": idempotency_key, "batch_id": batch_id, "max_retries": self.settings.max_retries,
            "request_hash": request_fingerprint("batch" if batch_id else "task", ttype, prio, request)
            if idempotency_key else None,
        }
        # -- provider A/B experiments (issue 15): the one intake hook. A task without
        # ``provider=`` may join a running experiment: it gets an arm and is routed to the
        # arm's provider (adds ``experiment_id`` / ``experiment_arm``; see experiments.assign)
        self.router.assign(prepared)
        return prepared

    def _catalogue_model(self, request: TaskRequest, ttype: str, options: dict[str, Any], prefix: str) -> None:
        """A request whose ``model`` names a catalogue entry carries the entry (its pinned
        revision) and goes to the local provider that serves it."""
        name = getattr(request, "model", None)
        if not name or name in BUILTIN_MODELS:
            return
        if ttype == TaskType.VIDEO_GENERATION.value:
            check_video_model(name, request, f"{prefix}model")
            return
        from ..catalogue.service import local_provider

        spec = self.models.resolve(name, ttype, f"{prefix}model")
        serving = local_provider(spec)
        if options["provider"] not in (None, serving):
            raise InvalidRequest(f"{prefix}provider: model {name!r} is served by {serving}, not "
                                 f"{options['provider']}", field=f"{prefix}provider")
        options["provider"] = serving
        options["model"] = spec.to_dict()

    def prepare_batch(self, items: Iterable[Mapping[str, Any] | BatchItem], *, user_id: str,
                      batch_id: str, http: bool = False, tenant: str | None = None,
                      share: Mapping[str, Any] | None = None,
                      idempotency_key: str | None = None) -> Iterator[Submission]:
        """Validate batch items lazily; errors name the item's index (``[3].input_data.prompt``).
        Items are read a window at a time, so the identities of their inputs under roots are
        asked for together (``inputs.identities``), not one round trip per item."""
        roots = inputs.granted_roots(self.settings, user_id, http=http)
        # without roots nothing is looked up: items stay one at a time, as lazy as the iterable
        for start, window in _windows(items, IDENTITY_WINDOW if roots else 1):
            known = self._input_identities(window, roots) if roots else None
            for i, raw in enumerate(window, start):
                try:
                    item = raw if isinstance(raw, BatchItem) else BatchItem.model_validate(raw)
                except ValidationError as e:
                    raise invalid_field(e, f"[{i}].") from None
                prepared = self.prepare(item.task_type, item.input_data, user_id=user_id, batch_id=batch_id,
                                        priority=item.priority.value if item.priority else None,
                                        prefix=f"[{i}].input_data.", http=http, tenant=tenant, share=share,
                                        idempotency_key=f"{idempotency_key}#{i}" if idempotency_key else None,
                                        task_id=batch_task_id(batch_id, i),  # the same when the batch is sent again
                                        known_inputs=known)
                yield prepared

    def _input_identities(self, window: list[Any], roots: tuple[str, ...]) -> dict[str, Any]:
        """The identities of the inputs under ``roots`` that a window of raw batch items names
        (a URL that fails the check is left out: ``prepare`` refuses it, naming the item)."""
        urls = []
        for raw in window:
            data = raw.input_data if isinstance(raw, BatchItem) else raw.get("input_data") \
                if isinstance(raw, Mapping) else None
            if not isinstance(data, Mapping):
                continue
            for field in INPUT_URL_FIELDS:
                url = data.get(field)
                if isinstance(url, str) and inputs.is_root_url(url):
                    with contextlib.suppress(inputs.InputRefused):
                        urls.append(inputs.check_granted(url, roots))
        return inputs.identities(urls, self.settings) if urls else {}


def _windows(items: Iterable[Any], size: int) -> Iterator[tuple[int, list[Any]]]:
    """``(index of the first, items)`` of consecutive windows of ``size`` items."""
    window: list[Any] = []
    start = 0
    for item in items:
        window.append(item)
        if len(window) == size:
            yield start, window
            start, window = start + size, []
    if window:
        yield start, window


__all__ = ["IDENTITY_WINDOW", "INPUT_URL_FIELDS", "Admission", "new_task_id"]


def check_video_model(name: str, request: TaskRequest, field: str) -> None:
    """A video's ``model`` is a cloud provider's own (RunwayML's: the only video API here whose
    body takes a model name); no local model serves video yet, so a catalogue name is refused."""
    from ..providers.cloud.runway import MODELS, TEXT_MODELS

    if name not in MODELS:
        raise InvalidRequest(f"{field}: {name!r} is not a video model: no local model serves video yet (the "
                             f"catalogue holds whisper and diffusers models); RunwayML takes one of "
                             f"{', '.join(sorted(MODELS))}", field=field)
    if not getattr(request, "image_url", None) and name not in TEXT_MODELS:
        raise InvalidRequest(f"{field}: {name} makes a video from an image (image_url); from a prompt alone: "
                             f"{', '.join(sorted(TEXT_MODELS))}", field=field)
