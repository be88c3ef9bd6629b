"""Provider A/B experiments: a task type's traffic split between providers by weight, each task's
arm recorded, and a report comparing the arms with confidence intervals (see docs/experiments.md)."""

from .assign import ExperimentRouter, pick_arm
from .models import ArmSpec, Experiment, ExperimentSpec, check_providers, new_experiment_id, parse_spec
from .report import build_report

__all__ = [
    "ArmSpec",
    "Experiment",
    "ExperimentRouter",
    "ExperimentSpec",
    "build_report",
    "check_providers",
    "new_experiment_id",
    "parse_spec",
    "pick_arm",
]
