"""Run pipelines as tracked runs: each step executed or reused from the cache, and recorded.

A step's cache key is the sha256 of (pipeline, step, code version, input fingerprints, the
step's seed, its output names, the output format version). A step whose key matches an earlier
succeeded or cached step reuses that step's outputs, which stay in the artifact store, and is
recorded as `cached` with the run that executed it. Outputs are only read back (and verified)
when a step that runs needs them, so a fully cached run reads no data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from steadyml.core.fingerprints import sha256_hex, sha256_json
from steadyml.pipelines import records
from steadyml.pipelines.contexts import bind_platform, bind_run
from steadyml.pipelines.errors import PipelineLoadError, StepFailedError
from steadyml.pipelines.executors import (
    Executor,
    LocalExecutor,
    StepOutcome,
    StepTask,
)
from steadyml.pipelines.graphs import SEED_PARAM, Pipeline
from steadyml.pipelines.loading import load_pipeline, source_of
from steadyml.pipelines.params import to_json
from steadyml.pipelines.records import PipelineRun, StepRecord, StepStatus
from steadyml.pipelines.steps import Step
from steadyml.pipelines.triggers import RunGuard, Trigger
from steadyml.pipelines.values import (
    OUTPUT_FORMAT_VERSION,
    StoredValue,
    ValueFormat,
    decode,
    fingerprint_param,
    identify,
    serialise,
    type_name,
)
from steadyml.platform import Platform
from steadyml.tracking import runs as rr

PIPELINE_TAG = "steady.pipeline"
_DRIVER = LocalExecutor()


class Pipelines:
    """Run, rerun and inspect pipelines on a platform."""

    def __init__(self, platform: Platform, *, executor: Executor | None = None) -> None:
        self.platform = platform
        self.executor = executor or LocalExecutor()

    def run(self, pipeline: Pipeline, params: Mapping[str, Any] | None = None, *,
            texts: Mapping[str, str] | None = None, use_cache: bool = True,
            source: str | None = None, rerun_of: str | None = None,
            target: str | None = None, trigger: Trigger | None = None,
            wait_s: float = 0.0) -> PipelineRun:
        """Run `pipeline` with `params` (and command-line `texts`), recorded as a tracked run.

        Params are checked and inputs resolved before anything runs or is recorded. The run
        then holds its target (`target`, else the pipeline's): a second run of the same target
        meanwhile is refused with `PipelineBusyError`, or waits up to `wait_s` for it. The
        trigger (manual by default) is recorded either way. A step that raises ends the run
        FAILED with `StepFailedError`; its logs are stored and the steps before it stay cached.
        """
        resolved = pipeline.resolve_params(params, texts=texts)
        as_json = {k: to_json(v) for k, v in resolved.items()}
        source = source or source_of(pipeline)
        tags = {PIPELINE_TAG: pipeline.name}
        if rerun_of:
            tags["steady.rerun_of"] = rerun_of
        with RunGuard(self.platform, pipeline.name, target or pipeline.target, trigger,
                      wait_s=wait_s) as guard:
            return self._run_held(pipeline, resolved, as_json, source, {**tags, **guard.tags},
                                  rerun_of, use_cache, guard)

    def _run_held(self, pipeline: Pipeline, resolved: dict[str, Any], as_json: dict[str, Any],
                  source: str | None, tags: dict[str, str], rerun_of: str | None,
                  use_cache: bool, guard: RunGuard) -> PipelineRun:
        tracking = self.platform.tracking
        run_id = tracking.create_run(pipeline.name, name=pipeline.name, params=as_json, tags=tags)
        guard.attach(run_id)
        try:
            with self.platform.store.write() as conn:
                records.insert_run(conn, run_id=run_id, pipeline=pipeline.name, source=source,
                                   params=as_json, seed=resolved[SEED_PARAM], rerun_of=rerun_of,
                                   started_ms=self.platform.clock.now_ms())
            state = _RunState(self.platform, resolved, as_json)
            for position, step in enumerate(pipeline.order):
                record = self._run_step(pipeline, step, position, run_id, state, use_cache)
                if record.status is StepStatus.FAILED:
                    tracking.finish_run(run_id, rr.RunStatus.FAILED)
                    raise StepFailedError(pipeline.name, step.name, record.error or "failed",
                                          run_id=run_id, result=self.get(run_id))
        except StepFailedError:
            raise
        except Exception:
            tracking.finish_run(run_id, rr.RunStatus.FAILED)
            raise
        except BaseException:
            tracking.finish_run(run_id, rr.RunStatus.KILLED)
            raise
        tracking.finish_run(run_id)
        return self.get(run_id)

    def rerun(self, run_id: str, *, use_cache: bool = False,
              pipeline: Pipeline | None = None) -> PipelineRun:
        """Run again with exactly the params and seed run `run_id` recorded.

        The pipeline is loaded again from the file it was run from, unless given. The cache is
        off by default, so every step executes again.
        """
        earlier = self.get(run_id)
        if pipeline is None:
            if earlier.source is None:
                raise PipelineLoadError(
                    f"Pipeline run {earlier.run_id} of {earlier.pipeline!r} was not started from "
                    "a file steadyml can load again; rerun it from Python with "
                    "Pipelines.rerun(run_id, pipeline=...).")
            pipeline, _ = load_pipeline(earlier.source)
        if pipeline.name != earlier.pipeline:
            raise PipelineLoadError(
                f"Run {earlier.run_id} is of pipeline {earlier.pipeline!r}, but "
                f"{earlier.source or 'the pipeline given'} is {pipeline.name!r}.")
        return self.run(pipeline, earlier.params, use_cache=use_cache, source=earlier.source,
                        rerun_of=earlier.run_id)

    def get(self, run_id: str) -> PipelineRun:
        """Return a pipeline run and its steps (a unique id prefix is enough)."""
        with self.platform.store.read() as conn:
            return records.get_run(conn, run_id)

    def list_runs(self, *, pipeline: str | None = None, limit: int = 50) -> list[PipelineRun]:
        with self.platform.store.read() as conn:
            return records.list_runs(conn, pipeline=pipeline, limit=limit)

    def load_output(self, run_id: str, name: str) -> Any:
        """Return output `name` of a run, read from the artifact store and verified."""
        run = self.get(run_id)
        for record in run.steps:
            if name in record.outputs:
                stored = record.outputs[name]
                return decode(self.platform.artifacts.get_bytes(stored.digest), stored.format)
        outputs = sorted(o for r in run.steps for o in r.outputs)
        raise KeyError(f"Run {run.run_id} of {run.pipeline!r} has no output {name!r}; its "
                       f"outputs are {outputs}.")

    def step_logs(self, record: StepRecord) -> str:
        """Return what a step printed and logged (with the traceback, if it failed)."""
        if record.log_digest is None:
            return ""
        return self.platform.artifacts.get_bytes(record.log_digest).decode(errors="replace")

    # --- one step ----------------------------------------------------------------------------

    def _run_step(self, pipeline: Pipeline, step: Step, position: int, run_id: str,
                  state: _RunState, use_cache: bool) -> StepRecord:
        inputs = {i.name: state.fingerprint(pipeline, i.name, i.default) for i in step.inputs}
        seed = step_seed(state.params[SEED_PARAM], step.name)
        key = sha256_json({"format": OUTPUT_FORMAT_VERSION, "pipeline": pipeline.name,
                           "step": step.name, "code": step.code_version, "inputs": inputs,
                           "seed": seed, "outputs": list(step.outputs)})
        started_ms = self.platform.clock.now_ms()
        if use_cache and step.cacheable:
            hit = self._cached(key)
            if hit is not None:
                origin, earlier = hit
                record = StepRecord(position=position, step=step.name,
                                    status=StepStatus.CACHED, cache_key=key,
                                    code_version=step.code_version, inputs=inputs,
                                    outputs=earlier.outputs, metrics=earlier.metrics,
                                    started_ms=started_ms, duration_ms=0.0, cached_from=origin,
                                    log_digest=earlier.log_digest)
                state.stored.update(earlier.outputs)
                self._record(run_id, record)
                return record
        values = {i.name: state.value(pipeline, i.name) for i in step.inputs
                  if i.name in pipeline.producers or i.name in state.params}
        # Built-in steps read the store through the bound platform; those that change it
        # (register, deploy) run here in the driver whatever the executor, bound to the run.
        executor = _DRIVER if step.runs_in_driver else self.executor
        with bind_platform(self.platform), bind_run(run_id):
            outcome = executor.execute(StepTask(pipeline.name, step, values, seed))
        outputs: dict[str, StoredValue] = {}
        if outcome.succeeded:
            try:
                outputs = self._store_outputs(pipeline.name, step, outcome, state)
            except Exception as exc:  # a value pickle cannot encode
                outcome.error = f"cannot store its output: {type(exc).__name__}: {exc}"
                outcome.logs += f"\n{outcome.error}\n"
        # A step that printed nothing has no log to store (a failed one always has its error).
        log_digest = (self.platform.artifacts.put_bytes(outcome.logs.encode())
                      if outcome.logs else None)
        record = StepRecord(position=position, step=step.name,
                            status=(StepStatus.SUCCEEDED if outcome.succeeded
                                    else StepStatus.FAILED),
                            cache_key=key, code_version=step.code_version, inputs=inputs,
                            outputs=outputs, metrics=outcome.metrics, started_ms=started_ms,
                            duration_ms=outcome.duration_ms, log_digest=log_digest,
                            error=outcome.error)
        self._record(run_id, record, log_size=len(outcome.logs.encode()))
        return record

    def _cached(self, key: str) -> tuple[str, StepRecord] | None:
        with self.platform.store.read() as conn:
            hit = records.find_cached(conn, key)
        if hit is None:
            return None
        # A blob removed from the store makes the entry unusable: run the step instead.
        if not all(self.platform.artifacts.exists(v.digest) for v in hit[1].outputs.values()):
            return None
        return hit

    def _store_outputs(self, pipeline: str, step: Step, outcome: StepOutcome,
                       state: _RunState) -> dict[str, StoredValue]:
        outputs = {}
        if outcome.encoded is not None:
            # An executor running steps elsewhere sends outputs encoded there (the same
            # bytes); the steps after it then read them back from the store when needed.
            for name, value in zip(step.outputs, outcome.encoded, strict=True):
                digest = self.platform.artifacts.put_bytes(value.data)
                outputs[name] = StoredValue(value.format, digest, value.fingerprint,
                                            len(value.data), value.type)
        else:
            for name, value in zip(step.outputs, outcome.values or (), strict=True):
                outputs[name] = self._store_value(pipeline, step.name, value)
        if outcome.values is not None:
            state.values.update(zip(step.outputs, outcome.values, strict=True))
        state.stored.update(outputs)
        return outputs

    def _store_value(self, pipeline: str, step: str, value: Any) -> StoredValue:
        """Store one output; a table this step already output (same content) is not
        encoded or written again (a `cache=False` reader of unchanged data)."""
        fmt, fp, prepared = identify(value)
        if fmt in (ValueFormat.PANDAS, ValueFormat.ARROW):
            with self.platform.store.read() as conn:
                earlier = records.find_output(conn, pipeline, step, fp, fmt.value)
            if earlier is not None and self.platform.artifacts.exists(earlier.digest):
                return replace(earlier, type=type_name(value))
        data = serialise(prepared, fmt)
        digest = self.platform.artifacts.put_bytes(data)
        return StoredValue(fmt, digest, fp, len(data), type_name(value))

    def _record(self, run_id: str, record: StepRecord, *, log_size: int | None = None) -> None:
        """Write the step row, its metrics and its artifacts in one transaction."""
        metrics = rr.make_metrics(record.metrics, 0, self.platform.clock.now_ms())
        with self.platform.store.write() as conn:
            records.insert_step(conn, run_id, record)
            rr.write_metrics(conn, run_id, metrics)
            for name, stored in record.outputs.items():
                rr.write_artifact(conn, run_id, f"pipeline/{record.step}/{name}",
                                  stored.digest, stored.size)
            if record.log_digest is not None and log_size is not None:
                rr.write_artifact(conn, run_id, f"pipeline/{record.step}.log",
                                  record.log_digest, log_size)


def run_pipeline(pipeline: Pipeline, params: Mapping[str, Any] | None = None, *,
                 platform: Platform | None = None, use_cache: bool = True,
                 executor: Executor | None = None) -> PipelineRun:
    """Run a pipeline on `platform`, or on one opened from the environment (STEADY_HOME...)."""
    if platform is not None:
        return Pipelines(platform, executor=executor).run(pipeline, params, use_cache=use_cache)
    from steadyml.core.settings import Settings

    with Platform(Settings.from_env()) as opened:
        return Pipelines(opened, executor=executor).run(pipeline, params, use_cache=use_cache)


def step_seed(seed: int, step: str) -> int:
    """Return the seed of one step's RNGs: fixed by the pipeline seed and the step's name."""
    return int(sha256_hex(f"{seed}:{step}")[:8], 16)


class _RunState:
    """The values and stored outputs of one run, read back from the store only when needed."""

    def __init__(self, platform: Platform, params: dict[str, Any],
                 params_json: dict[str, Any]) -> None:
        self.platform = platform
        self.params = params
        self.params_json = params_json
        self.values: dict[str, Any] = {}
        self.stored: dict[str, StoredValue] = {}

    def fingerprint(self, pipeline: Pipeline, name: str, default: Any) -> str:
        if name in pipeline.producers:
            return self.stored[name].fingerprint
        if name in self.params:
            return fingerprint_param(self.params_json[name])
        return "default:" + fingerprint_param(default)  # also part of the code version

    def value(self, pipeline: Pipeline, name: str) -> Any:
        if name not in pipeline.producers:
            return self.params[name]
        if name not in self.values:
            stored = self.stored[name]
            self.values[name] = decode(self.platform.artifacts.get_bytes(stored.digest),
                                       stored.format)
        return self.values[name]
