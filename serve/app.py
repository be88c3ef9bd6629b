"""The Ray Serve application of the videoai HTTP API.

    serve run serve.app:app                       # this machine's Ray (local when none); default proxy
    RAY_SERVE_ENABLE_HA_PROXY=1 serve run serve.app:app   # HAProxy + direct ingress
    serve run serve/config.yaml                   # the deploy config (HAProxy), on a local Ray
    serve deploy serve/config.yaml                # onto a running cluster (``ray start --head``)

Settings come from the environment (``VIDEOAI_*``, ``DATABASE_URL``, ``REDIS_URL``) of the process
that imports this module: the shell for ``serve run``, the application's ``runtime_env`` in the
config for ``serve deploy``. The replicas open the running Scheduler's store (its settings win
over these; a ``DATABASE_URL`` naming another database stops them with the reason), or start the
Scheduler with the default providers and these settings (``VIDEOAI_HOME`` absolute: a replica's
working directory is not yours). ``videoai serve`` (which
calls ``videoai_ray.api.run_server``) picks the ingress by itself and needs none of this.
"""

from __future__ import annotations

from videoai_ray.api.deployment import build_application
from videoai_ray.settings import Settings

#: what ``serve run serve.app:app`` and the config's ``import_path`` deploy
app = build_application(Settings())
