"""Every logger of the package lives under ``videoai.*``, so ``configure_logging`` (one handler on
``videoai``) sees every line: a logger named after its module (``videoai_ray.cache.tiered``) would
bypass it."""

from __future__ import annotations

import importlib
import logging
import pkgutil

import videoai_ray


def test_every_package_logger_is_under_videoai():
    for mod in pkgutil.walk_packages(videoai_ray.__path__, "videoai_ray."):
        importlib.import_module(mod.name)
    names = list(logging.root.manager.loggerDict)
    assert [n for n in names if n.startswith("videoai_ray")] == []
    assert "videoai.cache" in names and "videoai.scheduler" in names
