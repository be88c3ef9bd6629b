"""The Ray Serve application of the videoai HTTP API.

    serve run serve.app:app                       # a local Ray; default Serve proxy
    RAY_SERVE_ENABLE_HA_PROXY=1 serve run serve.app:app   # HAProxy + direct ingress
    serve run serve/config.yaml                   # the deploy config (HAProxy), on a local Ray
    serve deploy serve/config.yaml                # onto a running cluster (``ray start --head``)

Settings come from the environment (``VIDEOAI_*``, ``DATABASE_URL``, ``REDIS_URL``) of the process
that imports this module: the shell for ``serve run``, the application's ``runtime_env`` in the
config for ``serve deploy``. Set ``VIDEOAI_HOME`` to an absolute path on a cluster. The replicas
find the deployment's Scheduler, or start it with the default providers. ``videoai serve`` (which
calls ``videoai_ray.api.run_server``) picks the ingress by itself and needs none of this.
"""

from __future__ import annotations

from videoai_ray.api.deployment import build_application
from videoai_ray.settings import Settings

#: what ``serve run serve.app:app`` and the config's ``import_path`` deploy
app = build_application(Settings())
