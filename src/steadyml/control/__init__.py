"""The controller: evaluate policies on a schedule, act (promote, roll back, alert, retrain)."""

from steadyml.control.controller import Controller
from steadyml.control.drift_checks import (
    drift_history,
    drift_rule,
    evaluate_drift,
    retrain_argv,
)
from steadyml.control.events import Event, Recorder
from steadyml.control.windows import ArmStats, LogReader, online_metrics, training_reference

__all__ = [
    "ArmStats",
    "Controller",
    "Event",
    "LogReader",
    "Recorder",
    "drift_history",
    "drift_rule",
    "evaluate_drift",
    "online_metrics",
    "retrain_argv",
    "training_reference",
]
