"""The ``videoai`` command: demo, serve, submit, status, token, tenant, db, cluster, providers, models,
experiment, bench."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .settings import Settings


def _settings() -> Settings:
    return Settings()


def _store_settings(address: str | None) -> Settings:
    """The settings of a command that opens the store: with ``address`` (or ``RAY_ADDRESS``), the
    store of the Scheduler running on that cluster, when one runs (its settings win)."""
    import os

    settings = _settings()
    address = address or os.environ.get("RAY_ADDRESS")
    if not address:
        return settings
    import ray

    from .ray_join import join_ray
    from .scheduler import NAMESPACE, deployment_settings

    if not ray.is_initialized():
        join_ray(address, namespace=NAMESPACE, log_to_driver=False)
    return deployment_settings(settings)


def cmd_demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .demo import run_demo

    summary = run_demo(_settings(), Path(args.out) if args.out else None)
    return 0 if summary["counts"].get("completed", 0) >= summary["tasks"] - 1 else 1


def cmd_serve(args: argparse.Namespace) -> int:
    from .api import run_server

    extra = {"address": args.address} if args.address else {}
    run_server(_settings(), host=args.host, port=args.port, blocking=True, ingress=args.ingress,
               num_replicas=args.replicas, **extra)
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from .client import connect

    body = json.loads(args.json)
    client = connect(args.address, settings=_settings(), user_id=args.user)
    fut = client.submit(args.task_type, body, idempotency_key=args.idempotency_key)
    task = fut.wait(timeout=args.wait) if args.wait else fut.task
    print(task.model_dump_json(indent=2))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .errors import TaskNotFound
    from .service import MediaService

    try:
        task = MediaService(_store_settings(args.address), None, migrate=True).tasks.get(args.task_id)
    except TaskNotFound:
        print(f"no task {args.task_id}", file=sys.stderr)
        return 1
    print(task.model_dump_json(indent=2))
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from .api.auth import create_token

    user = args.user or ("operator" if args.operator else None)
    if user is None:
        print("videoai token create: --user is required (or --operator)", file=sys.stderr)
        return 2
    if args.tenant is not None:
        # a token for a tenant the store does not know would only ever answer 401
        _tenants(args.address).get(args.tenant)
    try:
        print(create_token(_settings(), user, args.ttl, rate_limit=args.rate_limit, tenant=args.tenant,
                           admin=args.admin, weight=args.weight, max_in_flight=args.max_in_flight,
                           operator=args.operator, tenant_admin=args.tenant_admin))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _tenants(address: str | None) -> Any:
    """The tenants of this deployment's store (of the running Scheduler's with ``address``)."""
    from .service import MediaService

    return MediaService(_store_settings(address), None, migrate=True).tenants


def _tenant_lifecycle(args: argparse.Namespace) -> int:
    """``videoai tenant delete|export``: through the deployment's Scheduler (delete cancels the
    tenant's work in flight there first)."""
    from .client import connect

    lifecycle = connect(args.address, settings=_settings(), user_id="operator").service.tenant_lifecycle
    if args.action == "delete":
        done = lifecycle.delete(args.id, force=args.force)
    else:
        if not args.to:
            print("videoai tenant export ID --to DIR_OR_URL", file=sys.stderr)
            return 2
        done = lifecycle.export(args.id, args.to)
    print(json.dumps(done, indent=2))
    return 0


def cmd_tenant(args: argparse.Namespace) -> int:
    """``videoai tenant create|list|show|suspend|resume|limits|delete|export`` (docs/tenants.md)."""
    if args.action in ("delete", "export") and args.id:
        return _tenant_lifecycle(args)
    tenants = _tenants(args.address)
    if args.action == "list":
        rows = tenants.list()
        if args.json:
            print(json.dumps(rows, indent=2))
        for r in [] if args.json else rows:
            print(f"{r['id']:<64} {r['status']:<10} {r['display_name']}")
        return 0
    if not args.id:
        print(f"videoai tenant {args.action} ID", file=sys.stderr)
        return 2
    if args.action == "create":
        body = {"id": args.id, **({"display_name": args.name} if args.name is not None else {})}
        row = tenants.create(body)
    elif args.action == "limits":
        row = _tenant_limits(tenants, args)
    elif args.action == "show":
        row = tenants.get(args.id)
    else:
        row = tenants.set_status(args.id, "suspended" if args.action == "suspend" else "active")
    print(json.dumps(row, indent=2))
    return 0


#: ``videoai tenant limits`` options, each with the limit it sets (``tenants.limit_spec``)
_LIMIT_OPTIONS = {"daily_budget": "daily_budget_usd", "monthly_budget": "monthly_budget_usd", "rpm": "rpm",
                  "max_in_flight": "max_in_flight", "max_schedules": "max_schedules",
                  "max_experiments": "max_experiments", "weight": "weight"}


def _limit_value(text: str) -> float | None:
    """A limit on the command line: a number, or ``none`` (the limit no longer binds)."""
    if text.strip().lower() == "none":
        return None
    return float(text)  # checked by the service, which names the limit (negative, nan, inf, 1.5 for a count)


def _tenant_limits(tenants: Any, args: argparse.Namespace) -> dict[str, Any]:
    """``videoai tenant limits ID [--rpm 60 ...] [--clear]``: change the limits named (``none``
    removes one), after removing all with ``--clear``; without options, show them."""
    given = {limit: getattr(args, opt) for opt, limit in _LIMIT_OPTIONS.items() if hasattr(args, opt)}
    if args.clear:
        return tenants.set_limits(args.id, {k: v for k, v in given.items() if v is not None})
    if given:
        return tenants.update_limits(args.id, given)
    return tenants.get(args.id)


def cmd_db(args: argparse.Namespace) -> int:
    from .store import make_engine
    from .store.migrate import current, upgrade

    settings = _store_settings(args.address)
    if settings.db_url.startswith("sqlite:///"):
        from pathlib import Path

        Path(settings.db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.db_url)
    if args.action == "upgrade":
        upgrade(engine)
    print(f"{engine.url.render_as_string(hide_password=True)}: revision {current(engine)}")
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    """``videoai cluster check``: would this process's Ray token settings let it join the cluster?
    Asked of the head's GCS in well under a second (``ray start --address`` with a wrong setting
    retries for about 20 s, then fails with a bare ``InvalidAuthToken``)."""
    import os

    from .errors import RayAuthError
    from .ray_join import check_auth, token_source

    mode = os.environ.get("RAY_AUTH_MODE", "unset")
    print(f"RAY_AUTH_MODE={mode}; token: {token_source() or 'none'}")
    problem = check_auth(args.address)
    if problem is not None:
        raise RayAuthError(problem)
    print("ok: this process's Ray auth settings are accepted (or the cluster has no token auth)")
    return 0


def cmd_providers(args: argparse.Namespace) -> int:
    from .providers.defaults import default_providers
    from .providers.registry import ProviderRegistry

    reg = ProviderRegistry()
    for p in default_providers(_settings()):
        reg.register(p)
    for row in reg.describe():
        state = "available" if row["available"] else f"unavailable ({row['unavailable_reason']})"
        print(f"{row['name']:28} {','.join(row['task_types']):60} q={row['quality']:.2f} {state}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """The model catalogue of this deployment's store (of the running Scheduler's with --address)."""
    from .errors import InvalidRequest, TaskNotFound
    from .service import MediaService

    models = MediaService(_store_settings(args.address), None, migrate=True).models
    try:
        if args.action == "add":
            if not (args.name and args.provider and args.source):
                print("videoai models add NAME --provider whisper|diffusers --source SOURCE", file=sys.stderr)
                return 2
            row = models.register(args.name, provider=args.provider, source=args.source, revision=args.revision,
                                  base=args.base, download=args.download, replace=args.replace, trusted=True,
                                  user_id="cli")
            print(json.dumps(row, indent=2))
        elif args.action == "remove":
            if not args.name:
                print("videoai models remove NAME", file=sys.stderr)
                return 2
            models.remove(args.name)
            print(f"removed {args.name}")
        else:
            rows = models.list()
            if args.json:
                print(json.dumps(rows, indent=2))
            for r in [] if args.json else rows:
                base = f" (LoRA on {r['base']})" if r["base"] else ""
                print(f"{r['name']:<24} {r['provider']:<10} {r['revision'][:23]:<24} {r['source']}{base}")
    except (InvalidRequest, TaskNotFound) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    from .experiments.demo import report_markdown, run_ab_demo

    print(report_markdown(run_ab_demo(args.tasks)), flush=True)
    return 0


def cmd_gpu_check(args: argparse.Namespace) -> int:
    from videoai_bench.gpu_check import run_from_args  # the bench package ships alongside

    return run_from_args(args)


def cmd_bench(args: argparse.Namespace) -> int:
    from videoai_bench.report import run_benchmarks  # the bench package ships alongside, imported only here

    return run_benchmarks(args.suites or ["core"], markdown=args.markdown, n=args.n, batch_items=args.batch_items,
                          objects=args.objects, clip_seconds=args.clip_seconds)


def _address_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", help="the Ray cluster to join (default: RAY_ADDRESS, else the one `ray start` "
                   "started on this machine, else a local Ray); a running Scheduler's store is the one used")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videoai", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="run the demo batch on local Ray and local providers")
    p.add_argument("--out", help="folder for the outputs (default ./videoai-demo-output)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="serve the HTTP API on Ray Serve, on the Ray cluster this machine is part of")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--ingress", choices=["auto", "haproxy", "proxy"], default="auto",
                   help="auto: HAProxy + direct ingress when it works, else Serve's default proxy")
    p.add_argument("--replicas", type=int, default=1, help="API replicas")
    _address_option(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("submit", help="submit one task and print it")
    p.add_argument("task_type", choices=["image_generation", "video_generation", "audio_transcription",
                                         "subtitle_generation"])
    p.add_argument("--json", required=True, help="the request body as JSON")
    p.add_argument("--wait", type=float, default=0, help="seconds to wait for the result")
    p.add_argument("--user", default="local")
    p.add_argument("--idempotency-key")
    _address_option(p)
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("status", help="print a task")
    p.add_argument("task_id")
    _address_option(p)
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("token", help="API tokens")
    tsub = p.add_subparsers(dest="action", required=True)
    tc = tsub.add_parser("create", help="print a JWT for a user")
    tc.add_argument("--user", help="the user (required unless --operator)")
    tc.add_argument("--ttl", type=int, default=86400, help="seconds until it expires")
    tc.add_argument("--rate-limit", type=int, help="this user's requests per minute and endpoint")
    tc.add_argument("--tenant", help="the user's tenant, which must exist (videoai tenant create): its work is "
                    "apart from every other tenant's (docs/tenants.md)")
    tc.add_argument("--tenant-admin", action="store_true", help="with --tenant: reads every task of the tenant")
    tc.add_argument("--operator", action="store_true", help="runs the deployment's tenants (/api/v1/admin/tenants)")
    tc.add_argument("--admin", action="store_true", help="may start experiments on other users' traffic")
    tc.add_argument("--weight", type=float, help="the user's share of turns against others at the same priority")
    tc.add_argument("--max-in-flight", type=int, help="the most attempts the user may have running at once")
    _address_option(tc)
    tc.set_defaults(func=cmd_token)

    p = sub.add_parser("tenant", help="the teams this deployment serves: create, list, show, suspend, resume, "
                       "limits, delete, export (docs/tenants.md)")
    p.add_argument("action", choices=["create", "list", "show", "suspend", "resume", "limits", "delete", "export"])
    p.add_argument("id", nargs="?", help="the tenant id: a-z, 0-9 and '-', at most 63 characters")
    p.add_argument("--name", help="create: a display name (default: the id)")
    p.add_argument("--force", action="store_true", help="delete: an active tenant too (it is suspended first)")
    p.add_argument("--to", help="export: the folder or fsspec URL (s3://bucket/acme) to write to")
    p.add_argument("--json", action="store_true", help="list as JSON")
    lim = p.add_argument_group("limits", "videoai tenant limits ID: what all of the tenant's users may do together "
                               "(a number, or 'none' to remove one; the others stay as they are)")
    for opt, what in (("daily-budget", "USD per UTC day"), ("monthly-budget", "USD per UTC month"),
                      ("rpm", "HTTP requests per minute"), ("max-in-flight", "attempts running at once"),
                      ("max-schedules", "schedules active or paused"), ("max-experiments", "experiments running"),
                      ("weight", "share of turns against other tenants (default 1)")):
        lim.add_argument(f"--{opt}", type=_limit_value, default=argparse.SUPPRESS, metavar="N", help=what)
    lim.add_argument("--clear", action="store_true", help="remove every limit not given here")
    _address_option(p)
    p.set_defaults(func=cmd_tenant)

    p = sub.add_parser("db", help="database migrations (of the running Scheduler's store with --address)")
    p.add_argument("action", choices=["upgrade", "current"])
    _address_option(p)
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("cluster", help="check this machine's Ray token settings against a cluster")
    p.add_argument("action", choices=["check"])
    _address_option(p)
    p.set_defaults(func=cmd_cluster)

    p = sub.add_parser("providers", help="list the default providers and whether they are available")
    p.set_defaults(func=cmd_providers)

    p = sub.add_parser("models", help="the model catalogue: list, add, remove (docs/models.md)")
    p.add_argument("action", choices=["list", "add", "remove"])
    p.add_argument("name", nargs="?", help="the model's name (add, remove)")
    p.add_argument("--provider", choices=["whisper", "diffusers"])
    p.add_argument("--source", help="a folder, a storage URL (s3://models/x/) or hf://org/repo@<commit>")
    p.add_argument("--revision", help="sha256:<hex> the files must have (computed when absent)")
    p.add_argument("--base", help="a diffusers LoRA adapter's base model (a catalogue name)")
    p.add_argument("--download", action="store_true", help="a Hub source may be downloaded by the nodes")
    p.add_argument("--replace", action="store_true", help="replace an entry of the same name")
    p.add_argument("--json", action="store_true", help="list as JSON")
    _address_option(p)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("experiment", help="provider A/B experiments")
    p.add_argument("action", choices=["demo"], help="demo: an A/B report from two local test providers")
    p.add_argument("--tasks", type=int, default=400, help="image tasks the demo sends")
    p.set_defaults(func=cmd_experiment)

    p = sub.add_parser("bench", help="benchmarks, each against a baseline measured in the same run")
    p.add_argument("suites", nargs="*", choices=["core", "http", "providers", "cache", "batch", "models", "fairness",
                                                   "data", "all"])
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p.add_argument("-n", type=int, default=20_000, help="no-op tasks for the core benchmark")
    p.add_argument("--batch-items", type=int, default=100_000, help="items streamed by the batch benchmark")
    p.add_argument("--objects", type=int, default=1000, help="objects in the bucket for the data benchmark")
    p.add_argument("--clip-seconds", type=float, default=1.0, help="length of each of those clips (16 kHz WAV)")
    p.set_defaults(func=cmd_bench)

    from videoai_bench.gpu_check import add_arguments  # light: its heavy imports wait for the run

    p = sub.add_parser("gpu-check", help="the model pools on one GPU against Ray Data on the same GPU, cold load "
                       "and model switch (docs/models.md)")
    add_arguments(p)
    p.set_defaults(func=cmd_gpu_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .errors import VideoAIError
    from .logs import configure_logging

    configure_logging(_settings())
    try:
        result: Any = args.func(args)
    except VideoAIError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
