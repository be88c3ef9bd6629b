"""The environment that hardens Ray Serve's HAProxy ingress (see ``serve_hooks/sitecustomize.py``):
the Serve processes start with the hook folder first on ``PYTHONPATH``."""

from __future__ import annotations

import os
from pathlib import Path

from .serve_hooks.sitecustomize import die_with_parent, harden, hardened_template, tied_to_parent

#: the folder whose ``sitecustomize`` hardens HAProxy in every Serve process
HOOK_DIR = str(Path(__file__).parent / "serve_hooks")


def hardening_env() -> dict[str, str]:
    """``PYTHONPATH`` for the Serve processes: the hook folder, then what this process has."""
    rest = os.environ.get("PYTHONPATH", "")
    return {"PYTHONPATH": HOOK_DIR + (os.pathsep + rest if rest else "")}


__all__ = ["HOOK_DIR", "die_with_parent", "harden", "hardened_template", "hardening_env", "tied_to_parent"]
