"""Pipelines: steps as plain functions, a graph derived from their inputs and outputs, runs
recorded like any run, and steps whose code and inputs did not change reused from the cache.

    from steadyml.pipelines import Pipeline, step

    @step(outputs="data")
    def load(path: str) -> pd.DataFrame: ...

    churn = Pipeline("churn-retrain", [load, ...], params={"path": "data.parquet"}, seed=7)

Outputs are stored content-addressed in the artifact store: DataFrames and Arrow tables as
Parquet, other objects as pickles. Cached outputs are trusted local artifacts: their bytes are
verified against their digest before they are loaded, but a pickle runs the code its objects
bring, so only point a pipeline at an artifact store you trust.
"""

from steadyml.pipelines.errors import (
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
from steadyml.pipelines.graphs import Pipeline
from steadyml.pipelines.loading import load_pipeline
from steadyml.pipelines.records import PipelineRun, StepRecord, StepStatus
from steadyml.pipelines.runner import Pipelines, run_pipeline
from steadyml.pipelines.steps import Step, code_version, step
from steadyml.pipelines.values import StoredValue, ValueFormat

__all__ = [
    "Executor",
    "LocalExecutor",
    "Pipeline",
    "PipelineDefinitionError",
    "PipelineError",
    "PipelineLoadError",
    "PipelineParamError",
    "PipelineRun",
    "PipelineRunNotFoundError",
    "Pipelines",
    "Step",
    "StepFailedError",
    "StepOutcome",
    "StepRecord",
    "StepStatus",
    "StepTask",
    "StoredValue",
    "ValueFormat",
    "code_version",
    "execute_step",
    "load_pipeline",
    "log_metric",
    "log_metrics",
    "run_pipeline",
    "step",
]
