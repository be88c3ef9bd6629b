"""Every logger of the package lives under ``videoai.*``, so ``configure_logging`` (one handler on
``videoai``) sees every line: a logger named after its module (``videoai_ray.cache.tiered``) would
bypass it."""

from __future__ import annotations

import importlib
import logging
import pkgutil

import videoai_ray


def test_every_module_logger_is_under_videoai():
    found = {}
    for mod in pkgutil.walk_packages(videoai_ray.__path__, "videoai_ray."):
        module = importlib.import_module(mod.name)
        for attr, value in vars(module).items():
            if isinstance(value, logging.Logger):
                found[f"{mod.name}.{attr}"] = value.name
    assert found and {k: v for k, v in found.items() if not v.startswith("videoai.")} == {}
    assert found["videoai_ray.cache.tiered.log"] == "videoai.cache"
