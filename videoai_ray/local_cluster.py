"""The private Ray cluster that ``connect(address="local")`` starts on this machine, and what Ray
says when it starts: nothing, unless something is wrong (or the dashboard is on).

* **Authentication.** Ray 2.60 turns token authentication on for a cluster that ``ray.init()``
  starts while ``RAY_AUTH_MODE`` is unset (making ``~/.ray/auth_token`` if there is none), and
  logs a warning at every such start; in a notebook it was the red text of the first cell.
  Setting the mode to ``token`` before the start keeps exactly that protection and is how Ray is
  told the choice was made, so it says nothing. A mode the user set (``disabled`` included) is
  left as it is.
* **Ray's log level in this process.** ``WARNING``, so Ray's "Started a local Ray instance." (an
  INFO line on stderr, which a notebook also shows on red) is not printed; with the dashboard on
  it stays ``INFO``, for the line that gives the dashboard's URL. A ``logging_level`` passed to
  ``connect()`` wins.

This concerns only a cluster that ``connect()`` starts itself; how a driver joins a running
cluster (``address="auto"``, ``ray://``) is ``connect()``'s business.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from .ray_join import AUTH_MODE_ENV

#: the mode a local cluster started by ``connect("local")`` runs in unless the user chose one
LOCAL_AUTH_MODE = "token"


def set_local_cluster_auth_mode() -> str:
    """Set ``RAY_AUTH_MODE`` for the cluster about to be started (unless set already) and return the
    mode in force. Call it right before ``ray.init(address="local")``."""
    if AUTH_MODE_ENV in os.environ:
        return os.environ[AUTH_MODE_ENV]
    os.environ[AUTH_MODE_ENV] = LOCAL_AUTH_MODE
    # Ray caches its configuration, the auth mode included, when it is imported: reload it so this
    # process (the driver) speaks the cluster's mode, as Ray does when it turns the mode on itself
    from ray._raylet import Config  # type: ignore[attr-defined]  # not in Ray's _raylet stub

    Config.initialize("")
    return LOCAL_AUTH_MODE


def prepare_local_cluster(ray_init: dict[str, Any]) -> None:
    """Before ``ray.init(address="local", **ray_init)``: the auth mode, and Ray's log level in this
    process unless ``ray_init`` names one (see the module docstring)."""
    set_local_cluster_auth_mode()
    ray_init.setdefault("logging_level", logging.INFO if ray_init.get("include_dashboard") else logging.WARNING)
