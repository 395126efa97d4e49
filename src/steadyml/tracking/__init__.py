"""Tracking: experiments, runs, metrics, datasets with fingerprints and profiles."""

from steadyml.tracking.datasets import Dataset, fingerprint, to_table
from steadyml.tracking.environment import (
    CodeVersion,
    Environment,
    capture_code,
    capture_environment,
)
from steadyml.tracking.profiles import ColumnKind, profile_table
from steadyml.tracking.runs import Metric, Run, RunStatus
from steadyml.tracking.tracker import Tracker

__all__ = [
    "CodeVersion",
    "ColumnKind",
    "Dataset",
    "Environment",
    "Metric",
    "Run",
    "RunStatus",
    "Tracker",
    "capture_code",
    "capture_environment",
    "fingerprint",
    "profile_table",
    "to_table",
]
