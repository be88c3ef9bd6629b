"""One settings object, read from environment variables (``VIDEOAI_*``, ``DATABASE_URL``,
``REDIS_URL`` and the providers' own key variables).

The object is plain data: the SDK reads it once and ships it to the Scheduler actor, which hands
it on, so every process of a cluster runs with the settings of the process that started it.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .models import Strategy

#: signs API tokens when VIDEOAI_JWT_SECRET is not set: fine on 127.0.0.1, refused on other hosts
DEV_JWT_SECRET = "change-me-videoai-dev-secret-32bytes!"

#: The VideoAI API contract's retry schedule, in seconds: 30 s → 5 min → 30 min → 2 h → 24 h.
SEED_RETRY_SCHEDULE: tuple[float, ...] = (30.0, 300.0, 1800.0, 7200.0, 86400.0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDEOAI_", extra="ignore", frozen=True)

    #: data folder: SQLite file, artifacts, disk cache
    home: Path = Path(".videoai")
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL"))
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL"))
    #: where outputs go (any fsspec URL); default: ``<home>/artifacts``
    artifacts_url: str | None = None
    #: set when ``artifacts_url`` is a local path that every node shares (NFS and the like)
    artifacts_shared: bool = False
    #: per URL protocol, the fsspec options its filesystem takes, as JSON (``storage.py``):
    #: ``{"s3": {"endpoint_url": "http://minio:9000"}}``; credentials are best left to each
    #: node's own environment (``AWS_*`` variables, instance roles)
    storage_options: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False)
    #: trusted input roots (``inputs.py``): fsspec URL prefixes (``s3://corpus/``,
    #: ``/mnt/shared/media/``) under which an SDK task may name its input directly, read in place
    #: by the worker; comma-separated or a JSON list. Empty: inputs are http(s) URLs and uploads only
    input_roots: Annotated[tuple[str, ...], NoDecode] = ()
    #: per tenant id, as JSON: the roots the SDK tasks of every user of that tenant (owner ids
    #: ``<tenant>/<user>``) may read (each under an ``input_roots`` entry; ``[]``: none); a tenant
    #: not named gets all of ``input_roots``. A user's own entry below narrows it further
    input_roots_by_tenant: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    #: per tenant id, as JSON: the roots every user of that tenant may name over HTTP (each under
    #: an ``input_roots`` entry); a user's own entry below narrows it further
    input_roots_http_by_tenant: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    #: per user id, as JSON: the roots that user's SDK tasks may read (each under an
    #: ``input_roots`` entry and, for a tenant's user, under the tenant's entry; ``[]``: none); a
    #: user not named gets its tenant's roots, or all of ``input_roots``
    input_roots_by_user: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    #: per user id, as JSON: the roots that user may name over HTTP (each under an
    #: ``input_roots`` entry and, for a tenant's user, under the tenant's HTTP entry if it has
    #: one). Over HTTP inputs are http(s) only unless a root is granted here or to the tenant
    input_roots_http_by_user: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    #: names this deployment's actors, so several can share one Ray cluster (tests use it)
    instance: str = Field(default="default", pattern=r"^[A-Za-z0-9_-]{1,40}$")
    #: how many tenants get their own ``tenant`` label on the per-task metrics (``metrics.py``);
    #: later ones share ``_other`` (a label's distinct values are Prometheus series)
    metrics_max_tenants: int = Field(default=20, ge=0, le=1000)

    # -- scheduling --
    retry_schedule: Annotated[tuple[float, ...], NoDecode] = SEED_RETRY_SCHEDULE
    max_retries: int = Field(default=3, ge=0, le=20)
    #: attempts a task may lose (its worker process died, or the Scheduler that ran it was
    #: replaced) before it fails as ``worker_lost``; they never count against ``max_retries``, and
    #: this bound ends a crash loop (a provider that kills its process on some input)
    max_lost_attempts: int = Field(default=5, ge=0, le=100)
    #: a waiting task moves up one priority level per this many seconds
    aging_seconds: float = Field(default=60.0, gt=0)
    strategy: Strategy = Strategy.QUALITY
    #: attempts an I/O-bound worker may hold beyond its provider's cap, so a freed slot starts
    #: its next attempt at once (priority order can then be off by this many per provider)
    prefetch: int = Field(default=2, ge=0, le=100)
    #: consecutive failures that take a provider out of rotation, and for how long
    breaker_failures: int = Field(default=5, ge=1)
    breaker_cooldown: float = Field(default=30.0, gt=0)
    #: default per-attempt timeout when a provider sets none (seconds)
    task_timeout: float = Field(default=900.0, gt=0)
    submit_chunk: int = Field(default=1000, ge=1, le=50_000)
    #: largest output (as JSON) an attempt may return; a bigger one fails the task
    #: (``invalid_output``) in the worker, before it reaches the Scheduler or the store
    max_output_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    #: seconds a task pinned to a provider that is not registered waits, after the Scheduler
    #: starts, for a runtime registration to arrive before it fails (``no_provider``)
    provider_grace_seconds: float = Field(default=60.0, ge=0)
    #: seconds an I/O worker's event loop may be blocked past an attempt's timeout before the
    #: watchdog times that attempt out and replaces the worker
    loop_block_grace: float = Field(default=0.5, ge=0)
    #: fault injection for tests: when this file exists, the Scheduler deletes it and kills its
    #: own process after accepting the completion of the task id the file names, before writing it
    fault_kill_file: Path | None = None
    #: fault injection for tests: attempts pause at named points while a test kills a process
    #: (``videoai_ray.fault_points``); unset in production
    fault_pause_dir: Path | None = None

    # -- fair sharing between users (``scheduler/fairness.py``, docs/fairness.md) --
    #: users take turns by weight within a priority; off: strict FIFO within a priority
    #: and no per-user cap
    fair_share: bool = True
    #: a user's share of turns when neither their token (``weight`` claim) nor
    #: ``fair_share_weights`` names one
    fair_share_default_weight: float = Field(default=1.0, ge=0.01, le=1000)
    #: per user id, as JSON: ``{"batch-team": 0.5, "web-app": 4}``
    fair_share_weights: dict[str, Annotated[float, Field(ge=0.01, le=1000)]] = Field(default_factory=dict)
    #: attempts one user may have in flight at once (``None``: no cap), unless their token
    #: (``max_in_flight`` claim) or ``user_max_in_flight_by_user`` says otherwise
    user_max_in_flight: int | None = Field(default=None, ge=1)
    #: per user id, as JSON: ``{"batch-team": 8}``
    user_max_in_flight_by_user: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)

    # -- provider rate limits (``scheduler/ratelimit.py``) --
    #: per provider name, fields of ``RateLimits`` that replace its declared limits, as JSON:
    #: ``{"runway": {"requests": 10}, "openai-whisper": {"requests": 3000}, "pika": null}``
    provider_rate_limits: dict[str, dict[str, Any] | None] = Field(default_factory=dict)
    #: fraction of a declared rate left unused, for the jitter between our start and the provider
    rate_limit_margin: float = Field(default=0.05, ge=0.0, lt=0.5)
    #: seconds without a 429 after which a lowered rate grows again (by half, up to the declared)
    rate_limit_recovery_seconds: float = Field(default=60.0, gt=0)

    #: the most any user may spend per UTC day, in USD (``None``: no limit); a user's own budget
    #: (``PUT /budget``, ``client.set_budget``) can only be lower
    user_daily_budget_usd: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    # -- per-user caps on what keeps running on its own (schedules, experiments) --
    #: schedules one user may hold that can still fire (active or paused; ``None``: no cap)
    user_max_schedules: int | None = Field(default=100, ge=1)
    #: the shortest time between two firings of one cron schedule, checked at creation over its
    #: next 256 firings (0: no minimum)
    schedule_min_interval_seconds: float = Field(default=60.0, ge=0, le=86_400, allow_inf_nan=False)
    #: running experiments one user may own (``None``: no cap)
    user_max_experiments: int | None = Field(default=20, ge=1)

    # -- the store's bounded waits (PostgreSQL; SQLite uses the statement timeout as its busy timeout) --
    #: seconds to open a connection before the store counts as unreachable
    store_connect_timeout: float = Field(default=10.0, gt=0)
    #: seconds one statement may run (server side), and the longest the Scheduler waits for one
    #: store call before it carries on without it (its event loop never waits on the store)
    store_statement_timeout: float = Field(default=30.0, gt=0)
    #: seconds to wait for a free pooled connection
    store_pool_timeout: float = Field(default=10.0, gt=0)
    #: longest pause between the degraded Scheduler's tries to reach its store (it backs off from 0.5 s)
    store_retry_max: float = Field(default=10.0, gt=0)

    # -- cache (the VideoAI API contract's TTLs) --
    cache_enabled: bool = True
    #: who shares a cached result: ``user`` (default), ``tenant`` (the token's ``tenant`` claim),
    #: ``global`` (everyone: anyone can tell what others submitted, by getting a cache hit)
    cache_scope: Literal["user", "tenant", "global"] = "user"
    #: seconds an API replica (and the schedule runner) keeps a tenant's state (active, suspended,
    #: unknown) before reading it again: a suspension takes effect within that time (docs/tenants.md)
    tenant_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    #: the deployment key that encrypts tenants' own provider keys at rest (Fernet: 32 url-safe
    #: base64 bytes: ``Fernet.generate_key()``); unset: tenants cannot store keys (409 ``no_secrets_key``)
    secrets_key: SecretStr | None = None
    #: whether a tenant without its own key for a provider may use the deployment's key; ``False``:
    #: such a task fails (``authentication_failed``, naming the provider and the tenant)
    tenant_keys_fallback: bool = True
    #: where ``POST /api/v1/admin/tenants/{id}/export`` writes (an fsspec URL or a local folder;
    #: unset: ``<home>/exports``): over HTTP an export goes only under it, never to a path the caller names
    tenant_export_url: str | None = None
    cache_l1_ttl: float = 3600.0
    cache_l1_size: int = 10_000
    #: most megabytes of outputs L1 holds in the Scheduler's memory (least recently used go first)
    cache_l1_max_mb: float = Field(default=256.0, gt=0)
    cache_l2_ttl: float = 86400.0
    #: most entries kept in Redis (least recently used are trimmed); 0 turns L2 off
    cache_l2_size: int = Field(default=100_000, ge=0)
    #: seconds a failing cache layer (e.g. Redis down) is skipped before it is tried again
    cache_retry_after: float = Field(default=5.0, gt=0)
    cache_l3_ttl: float = 7 * 86400.0
    cache_l3_size_mb: int = 1024

    # -- HTTP API --
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "videoai-ray"
    rate_limit_per_minute: int = Field(default=600, ge=1)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    #: requests with a missing or bad token accepted per client address and minute (then 429)
    auth_failures_per_minute: int = Field(default=60, ge=1)
    #: deepest nesting of arrays and objects accepted in a JSON body
    max_json_depth: int = Field(default=32, ge=4, le=500)
    #: comma-separated words refused in prompts (content filter hook)
    blocklist: Annotated[tuple[str, ...], NoDecode] = ()

    # -- outbound URLs (webhooks, audio_url, image_url) --
    #: hosts or CIDR networks admitted even though private/loopback (tests, intranets)
    url_allowlist: Annotated[tuple[str, ...], NoDecode] = ()
    #: seconds a host name lookup may take before the URL is refused as not resolving in time
    #: (``resolver.py``; the system resolver alone can take 10 s and more)
    dns_timeout: float = Field(default=5.0, gt=0, le=120)
    max_download_bytes: int = Field(default=200 * 1024 * 1024, ge=1024)
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_max_age: float = Field(default=24 * 3600.0, gt=0)
    webhook_progress_interval: float = Field(default=2.0, ge=0)

    # -- local providers --
    #: path to a CTranslate2 Whisper model folder; default: the pinned wheel's tiny English model
    whisper_model: Path | None = None
    #: actors of the ``local-whisper`` pool at most, and GPUs each holds (0: the CPU, int8)
    whisper_pool_max: int = Field(default=1, ge=1, le=1024)
    whisper_gpus: float = Field(default=0.0, ge=0)
    #: a diffusers pipeline folder for ``local-diffusers`` (unset: the provider is unavailable)
    diffusers_model: Path | None = None
    diffusers_pool_max: int = Field(default=1, ge=1, le=1024)
    diffusers_gpus: float = Field(default=0.0, ge=0)
    diffusers_steps: int = Field(default=30, ge=1, le=500)

    # -- the model catalogue (docs/models.md) --
    #: URL prefixes (``s3://models/``) a model source registered over HTTP must start with; an
    #: ``hf://`` source is always allowed there, a local folder only through the SDK or the CLI
    model_roots: Annotated[tuple[str, ...], NoDecode] = ()
    #: each node's folder for weights fetched from a remote source; default: ``<home>/model-cache``
    model_cache_dir: Path | None = None
    #: the Hugging Face Hub cache for ``hf://`` sources; default: huggingface_hub's own
    #: (``HF_HUB_CACHE``, else ``$HF_HOME/hub``)
    hf_cache_dir: Path | None = None
    #: catalogue models one pool actor keeps loaded (the least recently used is dropped first)
    models_per_actor: int = Field(default=3, ge=1, le=64)
    #: the weights (bytes on disk) one pool actor may hold loaded at once; 0: no limit
    model_memory_per_actor: int = Field(default=0, ge=0)
    #: bytes per second one download of catalogue weights may take from a node's link; 0: no limit
    model_download_rate: int = Field(default=0, ge=0)

    # -- logs --
    log_json: bool = False
    log_level: str = "INFO"

    # -- cluster --
    #: the Ray autoscaler config whose worker node types the cluster may add (``cluster.yaml``);
    #: unset: the node groups Ray's GCS holds, else ``~/ray_bootstrap_config.yaml`` on the head
    autoscaling_config: Path | None = None

    # -- cloud provider keys (their own, conventional names) --
    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    stability_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("STABILITY_API_KEY")
    )
    runwayml_api_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("RUNWAYML_API_SECRET")
    )
    fal_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("FAL_KEY"))
    assemblyai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("ASSEMBLYAI_API_KEY")
    )

    # -- cloud provider endpoints (each SDK's own variable), to route calls through a gateway --
    #: OpenAI-compatible gateways, proxies and Azure OpenAI's v1 API, e.g. ``https://gw.internal/v1``
    openai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    stability_api_host: str | None = Field(default=None, validation_alias=AliasChoices("STABILITY_API_HOST"))
    runwayml_base_url: str | None = Field(default=None, validation_alias=AliasChoices("RUNWAYML_BASE_URL"))
    #: fal's queue host (``queue.fal.run``), or a URL
    fal_queue_run_host: str | None = Field(default=None, validation_alias=AliasChoices("FAL_QUEUE_RUN_HOST"))
    assemblyai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("ASSEMBLYAI_BASE_URL"))

    @field_validator("retry_schedule", "blocklist", "url_allowlist", "model_roots", mode="before")
    @classmethod
    def _comma_list(cls, v: object) -> object:
        if isinstance(v, str):
            return tuple(p.strip() for p in v.split(",") if p.strip())
        return v

    @field_validator("secrets_key")
    @classmethod
    def _fernet_key(cls, v: SecretStr | None) -> SecretStr | None:
        """A malformed deployment key is refused at start, not at the first key a tenant sets
        (the message never holds the value)."""
        import base64
        import binascii

        if v is None or not v.get_secret_value():
            return None
        try:
            ok = len(base64.urlsafe_b64decode(v.get_secret_value().encode("ascii"))) == 32
        except (binascii.Error, UnicodeEncodeError, ValueError):
            ok = False
        if not ok:
            raise ValueError("VIDEOAI_SECRETS_KEY must be 32 url-safe base64-encoded bytes (Fernet.generate_key())")
        return v

    @field_validator("input_roots", mode="before")
    @classmethod
    def _root_list(cls, v: object) -> object:
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("["):
                import json

                return tuple(json.loads(text))
            return tuple(p.strip() for p in text.split(",") if p.strip())
        return v

    @field_validator("input_roots")
    @classmethod
    def _canonical_roots(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from .inputs import canonical_root

        return tuple(canonical_root(r) for r in v)

    @field_validator("input_roots_by_tenant", "input_roots_http_by_tenant")
    @classmethod
    def _tenant_grants_under_roots(cls, v: dict[str, tuple[str, ...]],
                                   info: ValidationInfo) -> dict[str, tuple[str, ...]]:
        """Each tenant's grant is under a deployment root, and keyed by a valid tenant id."""
        from .inputs import narrowed_grants
        from .tenants.ids import valid_tenant_id

        for tenant in v:
            if not valid_tenant_id(tenant):
                raise ValueError(f"{tenant!r} is not a tenant id (a-z, 0-9 and '-', at most 63 characters)")
        return narrowed_grants(v, info.data.get("input_roots", ()))

    @field_validator("input_roots_by_user", "input_roots_http_by_user")
    @classmethod
    def _grants_under_roots(cls, v: dict[str, tuple[str, ...]], info: ValidationInfo) -> dict[str, tuple[str, ...]]:
        """Each user's grant is under a deployment root, and a tenant user's under its tenant's
        entry of the same door where there is one: a grant narrows, never widens."""
        from .inputs import narrowed_grants, under_tenant_grants

        grants = narrowed_grants(v, info.data.get("input_roots", ()))
        http = info.field_name == "input_roots_http_by_user"
        by_tenant = "input_roots_http_by_tenant" if http else "input_roots_by_tenant"
        under_tenant_grants(grants, info.data.get(by_tenant, {}))
        return grants

    @field_validator("retry_schedule")
    @classmethod
    def _non_empty_schedule(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not v or any(x < 0 for x in v):
            raise ValueError("needs at least one non-negative delay")
        return v

    @field_validator("provider_rate_limits")
    @classmethod
    def _known_limit_fields(cls, v: dict[str, dict[str, Any] | None]) -> dict[str, dict[str, Any] | None]:
        from .providers.limits import RateLimits

        for name, fields in v.items():
            if fields is not None:
                try:
                    RateLimits(**fields)
                except (TypeError, ValueError) as e:
                    raise ValueError(f"{name}: {e}") from None
        return v

    @field_validator("openai_base_url", "stability_api_host", "runwayml_base_url", "fal_queue_run_host",
                     "assemblyai_base_url")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        """An operator's endpoint (from settings, so trusted: the URL guard does not apply to
        it): ``https://`` is assumed for a bare host; empty means the provider's own."""
        if v is None or not v.strip():
            return None
        v = v.strip().rstrip("/")
        if "://" not in v:
            v = "https://" + v
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL or a host name")
        return v

    def replaced(self, **update: Any) -> Settings:
        """A copy with ``update`` applied and the derived URLs computed afresh."""
        copy = self.model_copy(update=update)
        for cached in ("db_url", "artifacts_root"):  # cached_property values copied from the original
            copy.__dict__.pop(cached, None)
        return copy

    def pinned(self) -> Settings:
        """These settings with an absolute data folder: another process (the Scheduler, a Serve
        replica) runs in another working directory, and a relative ``home`` would point it at a
        different database."""
        home = Path(self.home).expanduser().resolve()
        return self if home == self.home else self.replaced(home=home)

    @cached_property
    def db_url(self) -> str:
        """SQLAlchemy URL: ``DATABASE_URL`` or a SQLite file in the data folder."""
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return f"sqlite:///{(self.home / 'videoai.db').resolve()}"

    @cached_property
    def artifacts_root(self) -> str:
        return self.artifacts_url or str((self.home / "artifacts").resolve())

    @property
    def tenant_export_root(self) -> str:
        """Where the operator's HTTP exports go (``tenant_export_url``, or ``<home>/exports``)."""
        return (self.tenant_export_url or str((self.home / "exports").resolve())).rstrip("/")
