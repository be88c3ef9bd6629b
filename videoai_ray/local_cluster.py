"""The private Ray cluster that ``connect(address="local")`` starts on this machine: Ray's token
authentication on, by an explicit setting rather than by Ray's default.

Ray 2.60 turns token authentication on for a cluster that ``ray.init()`` starts while
``RAY_AUTH_MODE`` is unset (making ``~/.ray/auth_token`` if there is none), and logs a warning at
every such start; in a notebook it is the red text of the first cell. Setting the mode to
``token`` before the start keeps exactly that protection and is how Ray is told the choice was
made, so it says nothing. A mode the user set (``disabled`` included) is left as it is.

This concerns only a cluster that ``connect()`` starts itself; how a driver joins a running
cluster (``address="auto"``, ``ray://``) is ``connect()``'s business.
"""

from __future__ import annotations

import os

#: Ray's environment variable for the authentication mode (read by every process of the cluster)
AUTH_MODE_VAR = "RAY_AUTH_MODE"
#: the mode a local cluster started by ``connect("local")`` runs in unless the user chose one
LOCAL_AUTH_MODE = "token"


def set_local_cluster_auth_mode() -> str:
    """Set ``RAY_AUTH_MODE`` for the cluster about to be started (unless set already) and return the
    mode in force. Call it right before ``ray.init(address="local")``."""
    if AUTH_MODE_VAR in os.environ:
        return os.environ[AUTH_MODE_VAR]
    os.environ[AUTH_MODE_VAR] = LOCAL_AUTH_MODE
    # Ray caches its configuration, the auth mode included, when it is imported: reload it so this
    # process (the driver) speaks the cluster's mode, as Ray does when it turns the mode on itself
    from ray._raylet import Config  # type: ignore[attr-defined]  # not in Ray's _raylet stub

    Config.initialize("")
    return LOCAL_AUTH_MODE
