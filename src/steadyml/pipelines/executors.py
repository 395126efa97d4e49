"""Executors run one step and hand back its outcome: values, metrics, logs, or the error.

`execute_step` is the whole of a step's execution, with nothing that needs the platform, so
an executor that runs steps elsewhere (a Ray task, a subprocess) calls the same function
there and returns the same `StepOutcome`, with the outputs encoded there (`encode_outputs`).
The runner does everything else: caching, storing outputs, recording.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import logging
import random
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from steadyml.core.errors import InvalidInputError
from steadyml.pipelines.steps import Step
from steadyml.pipelines.values import ValueFormat, encode, type_name

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class StepTask:
    """What a step needs to run: the step, its input values, and the seed of its RNGs."""

    pipeline: str
    step: Step
    inputs: Mapping[str, Any]
    seed: int


@dataclass(frozen=True)
class EncodedValue:
    """An output encoded where its step ran, as the artifact store keeps it."""

    data: bytes
    format: ValueFormat
    fingerprint: str
    type: str


@dataclass
class StepOutcome:
    """What running a step gave: one value per output, or the error; always its logs.

    An executor that runs steps in another process hands back `encoded` outputs instead of
    `values`: the store gets the encoding of the step's own objects (pickling an unpickled
    copy can give other bytes), and the driver never unpickles what a step returned.
    """

    values: tuple[Any, ...] | None
    metrics: dict[str, float] = field(default_factory=dict)
    logs: str = ""
    error: str | None = None
    duration_ms: float = 0.0
    encoded: tuple[EncodedValue, ...] | None = None

    @property
    def succeeded(self) -> bool:
        return self.error is None


class Executor(Protocol):
    """Runs steps; the default runs them in this process (`LocalExecutor`)."""

    def execute(self, task: StepTask) -> StepOutcome: ...


class LocalExecutor:
    """Run each step in this process, one after another."""

    def execute(self, task: StepTask) -> StepOutcome:
        return execute_step(task)


def execute_step(task: StepTask) -> StepOutcome:
    """Run a step with seeded RNGs, capturing stdout, stderr and logging, and its metrics."""
    buffer = io.StringIO()
    metrics: dict[str, float] = {}
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    level = root.level
    token = _metrics.set(metrics)
    _seed_rngs(task.seed)
    start = time.perf_counter()
    values = error = None
    try:
        root.addHandler(handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                values = task.step.split_outputs(task.step.fn(**task.inputs))
            except Exception as exc:  # the step's own failure: recorded, not raised here
                error = f"{type(exc).__name__}: {exc}"
                buffer.write(traceback.format_exc())
    finally:
        duration_ms = (time.perf_counter() - start) * 1000
        root.removeHandler(handler)
        root.setLevel(level)
        _metrics.reset(token)
    return StepOutcome(values=values, metrics=metrics, logs=buffer.getvalue(), error=error,
                       duration_ms=duration_ms)


def encode_outputs(values: tuple[Any, ...]) -> tuple[EncodedValue, ...]:
    """Encode a step's output values as the runner stores them (Parquet, JSON or pickle)."""
    return tuple(EncodedValue(*encode(value), type_name(value)) for value in values)


def log_metric(key: str, value: float) -> None:
    """Record a metric of the running step on the pipeline run (e.g. `auc` of an evaluation)."""
    log_metrics({key: value})


def log_metrics(values: Mapping[str, float]) -> None:
    """Record metrics of the running step; a cached step's metrics are recorded again."""
    current = _metrics.get()
    if current is None:
        raise InvalidInputError("log_metrics() records a metric of a running pipeline step; "
                                "call it inside a step function.")
    for key, value in values.items():
        try:
            current[key] = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"Metric {key!r} must be a number, got {value!r}.") from exc


def _seed_rngs(seed: int) -> None:
    """Seed Python's and numpy's global RNGs, for steps that use them without a seed."""
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency; kept for remote workers
        return
    np.random.seed(seed % 2**32)


_metrics: contextvars.ContextVar[dict[str, float] | None] = contextvars.ContextVar(
    "steadyml_step_metrics", default=None)
