"""steadyml: track, register, deploy, observe and keep production ML models healthy."""

from steadyml.core.errors import SteadyError
from steadyml.core.settings import Settings
from steadyml.platform import Platform, open_platform
from steadyml.registry import LoadedModel, ModelRef, ModelVersion, Signature
from steadyml.sdk import (
    ActiveRun,
    configure,
    default_platform,
    deploy,
    get_run,
    lineage,
    load_model,
    promote,
    rollback,
    search_runs,
    set_alias,
    start_run,
)
from steadyml.tracking import Dataset, Run, RunStatus

__version__ = "0.1.0"

__all__ = [
    "ActiveRun",
    "Dataset",
    "LoadedModel",
    "ModelRef",
    "ModelVersion",
    "Platform",
    "Run",
    "RunStatus",
    "Settings",
    "Signature",
    "SteadyError",
    "configure",
    "default_platform",
    "deploy",
    "get_run",
    "lineage",
    "load_model",
    "open_platform",
    "promote",
    "rollback",
    "search_runs",
    "set_alias",
    "start_run",
]
