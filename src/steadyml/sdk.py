"""The Python SDK: `with steadyml.start_run("churn") as run: ...` and friends.

Functions use the platform given, else the process default set by `configure()`, else one
opened from the environment (STEADY_HOME, STEADY_DB_URL, STEADY_ARTIFACTS) on first use.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any

from steadyml.core.settings import Settings
from steadyml.deployments import Revision
from steadyml.platform import Platform
from steadyml.registry import LoadedModel, ModelVersion, Signature
from steadyml.registry.flavors import Flavor
from steadyml.tracking import Dataset, Run, RunStatus

_default: Platform | None = None
_default_lock = threading.Lock()


def configure(settings: Settings | None = None, **overrides: Any) -> Platform:
    """Set (and return) the platform SDK calls use by default in this process."""
    global _default
    with _default_lock:
        if _default is not None:
            _default.close()
        _default = Platform(settings or Settings.from_env(**overrides))
        return _default


def default_platform() -> Platform:
    """Return the process default platform, opening it from the environment if needed."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Platform(Settings.from_env())
        return _default


class ActiveRun:
    """A RUNNING run; ends FINISHED when its `with` block ends, FAILED if the block raises."""

    def __init__(self, platform: Platform, run_id: str, experiment: str) -> None:
        self.platform = platform
        self.id = run_id
        self.experiment = experiment
        self._datasets: list[tuple[int, str]] = []
        self._ended = False

    def log_param(self, key: str, value: object) -> None:
        self.platform.tracking.log_batch(self.id, params={key: value})

    def log_params(self, values: Mapping[str, object]) -> None:
        self.platform.tracking.log_batch(self.id, params=values)

    def log_metric(self, key: str, value: float, step: int = 0) -> None:
        self.platform.tracking.log_batch(self.id, metrics={key: value}, step=step)

    def log_metrics(self, values: Mapping[str, float], step: int = 0) -> None:
        """Record many metrics at one step, in one transaction."""
        self.platform.tracking.log_batch(self.id, metrics=values, step=step)

    def log_batch(self, *, metrics: Iterable[tuple[str, float, int, int]] = (),
                  params: Mapping[str, object] | None = None,
                  tags: Mapping[str, object] | None = None) -> None:
        """Record (key, value, step, timestamp_ms) metrics, params and tags atomically."""
        self.platform.tracking.log_batch(self.id, metrics=metrics, params=params, tags=tags)

    def set_tag(self, key: str, value: object) -> None:
        self.platform.tracking.log_batch(self.id, tags={key: value})

    def set_tags(self, values: Mapping[str, object]) -> None:
        self.platform.tracking.log_batch(self.id, tags=values)

    def log_artifact(self, path: str | os.PathLike[str], name: str | None = None) -> str:
        return self.platform.tracking.log_artifact(self.id, path, name)

    def log_dataset(self, data: Any, *, name: str, context: str = "training",
                    store_copy: bool | None = None) -> Dataset:
        """Fingerprint, profile and record a DataFrame, Arrow table or Parquet file."""
        dataset = self.platform.tracking.log_dataset(self.id, data, name=name, context=context,
                                                     store_copy=store_copy)
        self._datasets.append((dataset.id, context))
        return dataset

    def register_model(self, name: str, model: object, *, input_example: Any = None,
                       signature: Signature | None = None, flavor: Flavor | str | None = None,
                       datasets: Sequence[Dataset] | None = None,
                       metrics: Mapping[str, float] | None = None, description: str = "",
                       tags: Mapping[str, object] | None = None) -> ModelVersion:
        """Register `model` as a new version of `name`, produced by this run.

        Its datasets default to those this run logged, its metrics to the run's latest.
        """
        links = ([(d.id, "training") for d in datasets] if datasets is not None
                 else list(self._datasets))
        if metrics is None:
            metrics = self.platform.tracking.get_run(self.id).metrics
        return self.platform.registry.register(
            name, model, input_example=input_example, signature=signature, flavor=flavor,
            run_id=self.id, datasets=links, metrics=metrics, description=description,
            tags=tags)

    def end(self, status: RunStatus = RunStatus.FINISHED) -> None:
        if not self._ended:
            self._ended = True
            self.platform.tracking.finish_run(self.id, status)

    def info(self) -> Run:
        return self.platform.tracking.get_run(self.id)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is KeyboardInterrupt:
            self.end(RunStatus.KILLED)
        else:
            self.end(RunStatus.FAILED if exc_type else RunStatus.FINISHED)


def start_run(experiment: str = "default", *, name: str | None = None,
              params: Mapping[str, object] | None = None,
              tags: Mapping[str, object] | None = None,
              platform: Platform | None = None) -> ActiveRun:
    """Start a run in `experiment`, capturing git state and the Python environment."""
    platform = platform or default_platform()
    run_id = platform.tracking.create_run(experiment, name=name, params=params, tags=tags)
    return ActiveRun(platform, run_id, experiment)


def search_runs(*, experiment: str | None = None, filter: str | None = None,
                order_by: Sequence[str] | None = None, limit: int = 1000,
                platform: Platform | None = None) -> list[Run]:
    """Return runs matching e.g. `metrics.acc > 0.9 and params.model = 'rf'`."""
    return (platform or default_platform()).tracking.search_runs(
        experiment=experiment, filter=filter, order_by=order_by, limit=limit)


def get_run(run_id: str, *, platform: Platform | None = None) -> Run:
    return (platform or default_platform()).tracking.get_run(run_id)


def load_model(ref: str, *, platform: Platform | None = None) -> LoadedModel:
    """Load `name:version` or `name@alias`, verified against its artifact digest."""
    return (platform or default_platform()).registry.load(ref)


def set_alias(ref: str, alias: str, *, platform: Platform | None = None) -> ModelVersion:
    return (platform or default_platform()).registry.set_alias(ref, alias)


def lineage(ref: str, *, platform: Platform | None = None) -> dict[str, Any]:
    """Return which data, code, params and environment produced model `ref`."""
    return (platform or default_platform()).lineage(ref)


def deploy(deployment: str, model_ref: str, *, canary: float | None = None,
           shadow: bool = False, blue_green: bool = False,
           platform: Platform | None = None) -> Revision:
    """Serve `model_ref` on `deployment`, as its stable arm or as a candidate beside it."""
    return (platform or default_platform()).deployments.deploy(
        deployment, model_ref, canary=canary, shadow=shadow, blue_green=blue_green)


def promote(deployment: str, *, platform: Platform | None = None) -> Revision:
    """Make the deployment's candidate its stable arm."""
    return (platform or default_platform()).deployments.promote(deployment)


def rollback(deployment: str, *, to: int | None = None,
             platform: Platform | None = None) -> Revision:
    """Undo the last change of `deployment` (or restore revision `to`)."""
    return (platform or default_platform()).deployments.rollback(deployment, to=to)
