"""The errors of pipelines: each names the pipeline, the step and the cause.

    PipelineError (SteadyError)
    ├── PipelineDefinitionError (InvalidInputError)   a cycle, a missing input, a bad step
    ├── PipelineParamError (InvalidInputError)        an unknown param or a value of a wrong type
    ├── PipelineLoadError (InvalidInputError)         FILE:PIPELINE cannot be imported
    ├── PipelineRunNotFoundError (NotFoundError)      no pipeline run has that id
    ├── StepFailedError (RuntimeError)                a step raised; its logs are kept
    └── GateFailedError (RuntimeError)                a gate step's checks failed; raised in
                                                      the step, so the run ends StepFailedError
"""

from __future__ import annotations

from typing import Any

from steadyml.core.errors import InvalidInputError, NotFoundError, SteadyError


class PipelineError(SteadyError):
    """Base class of the pipeline errors."""


class PipelineDefinitionError(PipelineError, InvalidInputError):
    """The steps of a pipeline do not make a valid graph."""


class PipelineParamError(PipelineError, InvalidInputError):
    """A pipeline param is unknown or has a value of the wrong type."""


class PipelineLoadError(PipelineError, InvalidInputError):
    """A pipeline file cannot be imported, or does not hold the named pipeline."""


class PipelineRunNotFoundError(PipelineError, NotFoundError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"No pipeline run has the id {run_id!r}. "
                         "List pipeline runs with `steady pipeline list`.")


class StepFailedError(PipelineError, RuntimeError):
    """A step raised. `result` holds the run as far as it got; the step's logs are stored."""

    def __init__(self, pipeline: str, step: str, cause: str, *, run_id: str,
                 result: Any = None) -> None:
        self.pipeline = pipeline
        self.step = step
        self.cause = cause
        self.run_id = run_id
        self.result = result
        super().__init__(f"Pipeline {pipeline!r} failed at step {step!r}: {cause}. "
                         f"The steps before it are cached; see its logs with "
                         f"`steady pipeline show {run_id}`.")


class GateFailedError(PipelineError, RuntimeError):
    """A gate's checks failed. Raised inside the gate step: the runner records the step as
    failed, keeps its log (which holds the report) and raises StepFailedError naming it.
    `result` is the GateResult with every number compared."""

    def __init__(self, result: Any) -> None:
        self.result = result
        super().__init__(result.report())
