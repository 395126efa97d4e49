"""What a serving process runs: one runtime per deployment revision, swapped atomically.

A watcher polls the store for revision changes made by any client (CLI, SDK, admin API, any
worker). A new revision's models are loaded and warmed in a thread while the old revision
keeps answering; then the deployment's runtime is replaced in one assignment, and the old
one drains its queues before it stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from steadyml.deployments import Arm, Mode, Revision
from steadyml.registry import InputKind, LoadedModel, input_kind
from steadyml.serving.batching import Batcher, PredictedHook
from steadyml.serving.breaker import CircuitBreaker
from steadyml.serving.routing import ArmName

log = logging.getLogger("steadyml.serving")


@dataclass
class ArmRuntime:
    name: ArmName
    arm: Arm
    model: LoadedModel
    batcher: Batcher
    load_s: float
    breaker: CircuitBreaker | None = None  # candidates only


@dataclass
class DeploymentRuntime:
    revision: Revision
    stable: ArmRuntime
    candidate: ArmRuntime | None
    activated: float = field(default_factory=time.time)

    @property
    def candidate_percent(self) -> float:
        if self.candidate is None or self.revision.mode is not Mode.CANARY:
            return 0.0
        if self.candidate.breaker is not None and self.candidate.breaker.is_open:
            return 0.0  # the circuit is open: stable answers everything
        return self.revision.weight

    @property
    def shadow(self) -> ArmRuntime | None:
        return self.candidate if self.revision.mode is Mode.SHADOW else None

    def arms(self) -> list[ArmRuntime]:
        return [a for a in (self.stable, self.candidate) if a is not None]

    def start(self) -> None:
        for arm in self.arms():
            arm.batcher.start()

    async def stop(self) -> None:
        for arm in self.arms():
            await arm.batcher.stop()


class ModelCache:
    """Loaded models by reference, shared by revisions (a promote reloads nothing)."""

    def __init__(self, load: Callable[[str], LoadedModel]) -> None:
        self._load = load
        self._models: dict[str, tuple[LoadedModel, float]] = {}

    def get(self, arm: Arm) -> tuple[LoadedModel, float]:
        found = self._models.get(arm.ref)
        if found is None:
            start = time.perf_counter()
            model = self._load(arm.ref)
            warm(model)
            found = self._models[arm.ref] = (model, time.perf_counter() - start)
        return found

    def keep_only(self, refs: set[str]) -> None:
        for ref in set(self._models) - refs:
            del self._models[ref]


def warm(model: LoadedModel) -> None:
    """Run one prediction so lazy initialisation happens before real traffic arrives."""
    rows = {spec.name: ["" if spec.dtype.value == "string" else 0] for spec in
            model.signature.inputs}
    try:
        model.predict(rows)
    except Exception as exc:  # a model may reject all-zero input; real traffic decides
        log.warning("warm-up prediction of %s failed: %s", model.ref, exc)


def model_input(model: LoadedModel) -> Callable[[Any], Any]:
    """Return a function giving the model its input in the form it was fitted on."""
    if input_kind(model.version.flavor_meta) is not InputKind.FRAME:
        return model.predictor.predict
    names = list(model.signature.feature_names)

    def predict(features: Any) -> np.ndarray:
        if isinstance(features, np.ndarray):
            import pandas as pd

            features = pd.DataFrame(features, columns=names)
        return model.predictor.predict(features)

    return predict


def concat(parts: list[Any]) -> Any:
    if isinstance(parts[0], np.ndarray):
        return np.concatenate(parts)
    import pandas as pd

    return pd.concat(parts, ignore_index=True)


# Called after each batch with (deployment, arm name, arm, rows, CPU seconds).
BatchHook = Callable[[str, ArmName, Arm, int, float], None]
# Builds, for one arm of a revision, the hook that records its predictions (or None).
RecorderFactory = Callable[[Revision, ArmName, Arm, LoadedModel], PredictedHook | None]


def build(revision: Revision, cache: ModelCache, on_batch: BatchHook | None = None,
          recorder: RecorderFactory | None = None) -> DeploymentRuntime:
    """Load and warm a revision's models (blocking: call it in a thread)."""
    config = revision.config

    def arm_runtime(name: ArmName, arm: Arm) -> ArmRuntime:
        model, load_s = cache.get(arm)
        hook = partial(on_batch, revision.deployment, name, arm) if on_batch else None
        batcher = Batcher(model_input(model), max_rows=config.max_batch_size,
                          max_wait_s=config.max_wait_ms / 1000, concat=concat, on_batch=hook,
                          on_predicted=recorder(revision, name, arm, model) if recorder
                          else None)
        breaker = (CircuitBreaker(window=config.breaker_window,
                                  min_requests=config.breaker_min_requests,
                                  error_rate=config.breaker_error_rate)
                   if name is ArmName.CANDIDATE else None)
        return ArmRuntime(name=name, arm=arm, model=model, batcher=batcher, load_s=load_s,
                          breaker=breaker)

    candidate_name = ArmName.SHADOW if revision.mode is Mode.SHADOW else ArmName.CANDIDATE
    return DeploymentRuntime(
        revision=revision, stable=arm_runtime(ArmName.STABLE, revision.stable),
        candidate=(arm_runtime(candidate_name, revision.candidate)
                   if revision.candidate is not None else None))


class Runtimes:
    """The runtimes a serving process holds, kept in step with the store."""

    def __init__(self, *, heads: Callable[[], dict[str, int]],
                 current: Callable[[str], Revision], cache: ModelCache,
                 on_batch: BatchHook | None = None,
                 recorder: RecorderFactory | None = None) -> None:
        self._heads = heads
        self._recorder = recorder
        self._current = current
        self._cache = cache
        self._on_batch = on_batch
        self.by_name: dict[str, DeploymentRuntime] = {}
        self.errors: dict[str, str] = {}  # deployment -> why its newest revision is not live
        self._failed: dict[str, int] = {}
        self._retiring: dict[asyncio.Task[None], DeploymentRuntime] = {}

    async def refresh(self) -> None:
        """Bring every deployment to its current revision; keep serving the old on failure."""
        heads = await asyncio.to_thread(self._heads)
        for name, number in heads.items():
            live = self.by_name.get(name)
            if (live is not None and live.revision.revision == number) or \
                    self._failed.get(name) == number:
                continue
            try:
                revision = await asyncio.to_thread(self._current, name)
                runtime = await asyncio.to_thread(build, revision, self._cache, self._on_batch,
                                                  self._recorder)
            except Exception as exc:
                self._failed[name] = number
                self.errors[name] = f"revision {number} could not be loaded: {exc}"
                log.error("deployment %s: %s", name, self.errors[name])
                continue
            runtime.start()
            self.by_name[name] = runtime  # the switch: new requests see the new revision
            self.errors.pop(name, None)
            self._failed.pop(name, None)
            if live is not None:
                self._retire(live)
            log.info("deployment %s now serves revision %d", name, number)
        for name in set(self.by_name) - set(heads):
            await self.by_name.pop(name).stop()
        self._cache.keep_only({a.arm.ref for r in self.by_name.values() for a in r.arms()})

    def _retire(self, old: DeploymentRuntime) -> None:
        """Stop an old revision's batchers once requests that picked it have been answered."""
        async def retire() -> None:
            await asyncio.sleep(old.revision.config.timeout_ms / 1000)
            await old.stop()

        task = asyncio.get_running_loop().create_task(retire())
        self._retiring[task] = old
        task.add_done_callback(lambda done: self._retiring.pop(done, None))

    async def watch(self, interval_s: float) -> None:
        """Refresh forever (the server's lifespan cancels this task)."""
        while True:
            try:
                await self.refresh()
            except Exception:  # a store hiccup must not stop serving what is loaded
                log.exception("could not refresh deployments")
            await asyncio.sleep(interval_s)

    async def stop(self) -> None:
        retiring = list(self._retiring.items())
        for task, _old in retiring:
            task.cancel()  # skip the grace period: the server is going away
        for runtime in [old for _task, old in retiring] + list(self.by_name.values()):
            await runtime.stop()  # each drains what is queued first
