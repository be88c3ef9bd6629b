"""Table definitions (SQLAlchemy Core). Alembic migrations under ``migrations/`` create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: the instance (``Settings.instance``) a row of work belongs to: several deployments may share one
#: database, and each claims, recovers and lists only its own rows (rows from before migration
#: ``0011_instance`` belong to ``default``)
DEFAULT_INSTANCE = "default"


def instance_column() -> Column[str]:
    return Column("instance", String(40), nullable=False, server_default=DEFAULT_INSTANCE)


tasks = Table(
    "tasks",
    metadata,
    Column("id", String(40), primary_key=True),
    instance_column(),
    Column("type", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("priority", String(8), nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("input", JSON, nullable=False),
    Column("output", JSON),
    Column("provider", String(100)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_retries", Integer, nullable=False, default=3),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("error_retryable", Boolean),
    Column("progress", Float, nullable=False, default=0.0),
    #: what ``progress`` measures now, when the worker says (a model's weights downloading)
    Column("progress_message", String(200)),
    Column("cost", Float),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("webhook_url", String(2048)),
    Column("webhook_secret", String(256)),
    Column("webhook_events", JSON),
    Column("meta", JSON, nullable=False),
    #: routing switches: provider pin, strategy, use_cache, providers that failed this task
    Column("options", JSON, nullable=False),
    Column("idempotency_key", String(255)),
    #: fingerprint of the request an idempotency key was first used with (route, type, body)
    Column("request_hash", String(64)),
    Column("batch_id", String(40)),
    Column("cache_hit", Boolean, nullable=False, default=False),
    #: monotonic number given at the terminal transition; lets a batch follow completions cheaply
    Column("finish_seq", BigInteger),
    #: the paid job a provider created at a remote service for this task (provider, id, data,
    #: attempt), recorded before it is waited for, so a later attempt re-attaches instead of
    #: creating another; never shown to users
    Column("remote_job", JSON),
    #: the provider A/B experiment this task was assigned to at intake, and its arm (both NULL
    #: for tasks outside every experiment, pinned ``provider=`` requests included)
    Column("experiment_id", String(40)),
    Column("experiment_arm", String(64)),
    #: where the last attempt ran: ``{"node_id", "ip", "gpu_ids"?}`` (``placement.this_node``)
    Column("node", JSON),
    #: idempotency keys are per instance (another instance's task is not this one's to replay)
    UniqueConstraint("instance", "user_id", "idempotency_key", name="uq_tasks_user_idempotency"),
    Index("ix_tasks_user_created", "user_id", "created_at"),
    Index("ix_tasks_status", "status"),
    Index("ix_tasks_instance_status", "instance", "status"),
    Index("ix_tasks_type", "type"),
    Index("ix_tasks_created", "created_at"),
    Index("ix_tasks_batch_seq", "batch_id", "finish_seq"),
    Index("ix_tasks_experiment", "experiment_id", "experiment_arm"),
)

#: providers registered at runtime, kept across restarts of the Scheduler and of Ray itself
provider_registrations = Table(
    "provider_registrations",
    metadata,
    Column("instance", String(40), primary_key=True),
    Column("name", String(100), primary_key=True),
    #: ``module:QualName`` of the provider's class (for listings, and a fallback to rebuild it)
    Column("class_ref", String(512), nullable=False),
    #: 1 at the first registration, one more at each replacement
    Column("version", Integer, nullable=False),
    #: the provider instance, cloudpickled
    Column("blob", LargeBinary, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

#: the model catalogue (``videoai_ray.catalogue``): named weights the local model providers serve
model_catalogue = Table(
    "model_catalogue",
    metadata,
    Column("instance", String(40), primary_key=True),
    Column("name", String(64), primary_key=True),
    #: ``whisper`` or ``diffusers``
    Column("provider", String(20), nullable=False),
    Column("source", String(1024), nullable=False),
    #: ``sha256:<hex>`` of a folder's files, or the Hub commit
    Column("revision", String(160), nullable=False),
    #: the base model's name (a diffusers LoRA adapter)
    Column("base", String(64)),
    #: the Hub may be asked for missing weights
    Column("download", Boolean, nullable=False, default=False),
    Column("registered_by", String(128), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)

#: one row per SDK batch: how many items its driver meant to send, and whether it sent them all
batches = Table(
    "batches",
    metadata,
    Column("id", String(40), primary_key=True),
    instance_column(),
    Column("user_id", String(128), nullable=False),
    #: items the driver meant to send; NULL while a streamed batch (a generator: size unknown) sends
    Column("expected", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    #: set when the driver has sent every item; NULL while it sends, or if it stopped early
    Column("sealed_at", DateTime(timezone=True)),
    #: the most this batch may spend (actual spend plus the estimates of attempts in flight)
    Column("budget_usd", Float),
    Index("ix_batches_user_created", "user_id", "created_at"),
)

#: a user's own budget per UTC day (``VIDEOAI_USER_DAILY_BUDGET_USD`` caps it for everyone)
user_budgets = Table(
    "user_budgets",
    metadata,
    Column("user_id", String(128), primary_key=True),
    Column("budget_usd", Float, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: provider A/B experiments: a task type's traffic split between providers by weight
experiments = Table(
    "experiments",
    metadata,
    Column("id", String(40), primary_key=True),
    #: the deployment whose tasks it splits
    instance_column(),
    #: who created it (sees it, reports on it, stops it)
    Column("owner_id", String(128), nullable=False),
    Column("name", String(200), nullable=False),
    Column("task_type", String(32), nullable=False),
    #: ``[{"name", "provider", "weight"}, ...]`` in the order given
    Column("arms", JSON, nullable=False),
    #: the arm the others are compared with
    Column("baseline", String(64), nullable=False),
    #: only this user's tasks; NULL: every user's (created with an admin token, or from the SDK)
    Column("user_filter", String(128)),
    #: only tasks whose metadata holds these key/value pairs; NULL: any metadata
    Column("metadata_filter", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    #: NULL while it runs
    Column("stopped_at", DateTime(timezone=True)),
    Index("ix_experiments_owner_created", "owner_id", "created_at"),
    Index("ix_experiments_type_stopped", "task_type", "stopped_at"),
)

#: scheduled tasks (issue 15): a cron expression in a time zone, or one time (``at``); the
#: Scheduler's tick loop submits each due tick and then advances ``next_run_at``
schedules = Table(
    "schedules",
    metadata,
    Column("id", String(40), primary_key=True),
    #: the deployment whose Scheduler fires it (several may share one database)
    Column("instance", String(40), nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("name", String(200)),
    #: exactly one of ``cron`` and ``at`` is set
    Column("cron", String(200)),
    Column("at", DateTime(timezone=True)),
    Column("timezone", String(64), nullable=False),
    #: a tagged union: ``{"task": {task_type, input_data, priority}}`` (``{"pipeline": ...}`` later)
    Column("target", JSON, nullable=False),
    #: how the target is validated again at each tick and what it runs with:
    #: ``{"http": bool, "tenant": str | None, "share": {"weight", "max_in_flight"} | None}``
    Column("context", JSON, nullable=False),
    #: ``run_once`` (one catch-up run for all missed ticks) or ``skip``
    Column("misfire", String(16), nullable=False),
    Column("misfire_grace_seconds", Float, nullable=False),
    #: ``active``, ``paused`` or ``done`` (a one-time schedule that fired)
    Column("state", String(16), nullable=False),
    Column("next_run_at", DateTime(timezone=True)),
    Column("last_tick_at", DateTime(timezone=True)),
    Column("last_task_id", String(40)),
    Column("last_error", Text),
    Column("ticks_fired", Integer, nullable=False, default=0),
    Column("ticks_missed", Integer, nullable=False, default=0),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_schedules_user_created", "user_id", "created_at"),
    Index("ix_schedules_due", "instance", "state", "next_run_at"),
)

#: a small DAG of tasks (``videoai_ray.pipelines``); its steps are task rows whose ids follow from
#: the pipeline id and the step id, so their state is read from the tasks, not kept twice
pipelines = Table(
    "pipelines",
    metadata,
    Column("id", String(40), primary_key=True),
    instance_column(),
    Column("user_id", String(128), nullable=False),
    #: running, completed, failed or cancelled
    Column("status", String(16), nullable=False),
    #: the validated spec: steps (id, task_type, input with references, priority) in order
    Column("spec", JSON, nullable=False),
    Column("priority", String(8), nullable=False),
    Column("webhook_url", String(2048)),
    Column("webhook_secret", String(256)),
    Column("meta", JSON, nullable=False),
    #: the request that made it, applied to each step: ``{"http": bool, "tenant", "share"}`` (the door
    #: whose input rules its references follow, the token's tenant and fair-share claims); NULL for
    #: pipelines from before 0012_pipeline_claims, which follow the HTTP rules
    Column("context", JSON),
    Column("idempotency_key", String(255)),
    #: fingerprint of the spec an idempotency key was first used with
    Column("request_hash", String(64)),
    #: why it failed: the step, its error code and message
    Column("error", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    UniqueConstraint("instance", "user_id", "idempotency_key", name="uq_pipelines_user_idempotency"),
    Index("ix_pipelines_user_created", "user_id", "created_at"),
    Index("ix_pipelines_status", "status"),
    Index("ix_pipelines_instance_status", "instance", "status"),
)

#: the tenants of a deployment (``videoai_ray.tenants``): a token naming one is refused unless its
#: row exists, and answered 403 while it is suspended
tenants = Table(
    "tenants",
    metadata,
    Column("instance", String(40), primary_key=True),
    #: ``tenants.ids.TENANT_ID_PATTERN``; the prefix of its users' owner ids (``acme/ana``)
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    #: ``active`` or ``suspended``
    Column("status", String(16), nullable=False),
    #: the tenant's limits as JSON (``tenants.limit_spec``: budgets, rate, in flight, counts, weight); NULL: none
    Column("limits", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

tenant_provider_keys = Table(
    "tenant_provider_keys",
    metadata,
    Column("instance", String(40), primary_key=True),
    Column("tenant", String(63), primary_key=True),
    #: a key name of ``tenants.keys.KEY_PROVIDERS`` (``openai``, ``runwayml``, …)
    Column("provider", String(32), primary_key=True),
    #: the key as a Fernet token under ``VIDEOAI_SECRETS_KEY``: never stored, logged or returned in clear
    Column("ciphertext", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
