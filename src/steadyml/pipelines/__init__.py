"""Pipelines: steps as plain functions, a graph derived from their inputs and outputs, runs
recorded like any run, and steps whose code and inputs did not change reused from the cache.

    from steadyml.pipelines import Pipeline, step

    @step(outputs="data")
    def load(path: str) -> pd.DataFrame: ...

    churn = Pipeline("churn-retrain", [load, ...], params={"path": "data.parquet"}, seed=7)

Built-in steps: `data_gate` and `model_gate` check data and models and stop the run on a
failure (see `steadyml.pipelines.gates`).

Steps run in this process by default; `Pipelines(platform, executor=RayExecutor())` runs each
as a Ray task (`pip install 'steadyml[ray]'`), with the same records, caching and gates.

Outputs are stored content-addressed in the artifact store: DataFrames and Arrow tables as
Parquet, other objects as pickles. Cached outputs are trusted local artifacts: their bytes are
verified against their digest before they are loaded, but a pickle runs the code its objects
bring, so only point a pipeline at an artifact store you trust.
"""

from steadyml.pipelines.data_gates import DataChecks, Reference, data_gate, validate_data
from steadyml.pipelines.errors import (
    GateFailedError,
    PipelineDefinitionError,
    PipelineError,
    PipelineLoadError,
    PipelineParamError,
    PipelineRunNotFoundError,
    StepFailedError,
)
from steadyml.pipelines.executors import (
    Executor,
    LocalExecutor,
    StepOutcome,
    StepTask,
    execute_step,
    log_metric,
    log_metrics,
)
from steadyml.pipelines.gates import CheckResult, GateKind, GateResult, GateStep
from steadyml.pipelines.graphs import Pipeline
from steadyml.pipelines.loading import load_pipeline
from steadyml.pipelines.locks import PipelineBusyError, RunLock, RunLocks
from steadyml.pipelines.model_gates import Champion, ModelChecks, evaluate_model, model_gate
from steadyml.pipelines.ray_executor import RayExecutor
from steadyml.pipelines.records import PipelineRun, StepRecord, StepStatus
from steadyml.pipelines.releases import ReleaseStep, deploy_step, register_step
from steadyml.pipelines.runner import Pipelines, run_pipeline
from steadyml.pipelines.schedulers import Scheduler
from steadyml.pipelines.schedules import (
    InvalidScheduleError,
    Schedule,
    ScheduleExistsError,
    ScheduleNotFoundError,
    Schedules,
)
from steadyml.pipelines.steps import Step, code_version, step
from steadyml.pipelines.triggers import (
    RunGuard,
    Trigger,
    TriggerKind,
    TriggerRecord,
    Triggers,
    TriggerStatus,
)
from steadyml.pipelines.values import StoredValue, ValueFormat
from steadyml.registry.gates import GateRecord, GateRequiredError, check_gates

__all__ = [
    "Champion",
    "CheckResult",
    "DataChecks",
    "Executor",
    "GateFailedError",
    "GateKind",
    "GateRecord",
    "GateRequiredError",
    "GateResult",
    "GateStep",
    "InvalidScheduleError",
    "LocalExecutor",
    "ModelChecks",
    "Pipeline",
    "PipelineBusyError",
    "PipelineDefinitionError",
    "PipelineError",
    "PipelineLoadError",
    "PipelineParamError",
    "PipelineRun",
    "PipelineRunNotFoundError",
    "Pipelines",
    "RayExecutor",
    "Reference",
    "ReleaseStep",
    "RunGuard",
    "RunLock",
    "RunLocks",
    "Schedule",
    "ScheduleExistsError",
    "ScheduleNotFoundError",
    "Scheduler",
    "Schedules",
    "Step",
    "StepFailedError",
    "StepOutcome",
    "StepRecord",
    "StepStatus",
    "StepTask",
    "StoredValue",
    "Trigger",
    "TriggerKind",
    "TriggerRecord",
    "TriggerStatus",
    "Triggers",
    "ValueFormat",
    "check_gates",
    "code_version",
    "data_gate",
    "deploy_step",
    "evaluate_model",
    "execute_step",
    "load_pipeline",
    "log_metric",
    "log_metrics",
    "model_gate",
    "register_step",
    "run_pipeline",
    "step",
    "validate_data",
]
