"""Pipeline runs and step records in the metadata store.

Functions here take a connection inside the caller's transaction and never commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from steadyml.core.fingerprints import canonical_json
from steadyml.pipelines.errors import PipelineRunNotFoundError
from steadyml.pipelines.values import StoredValue
from steadyml.store.tables import pipeline_runs, pipeline_steps, runs


class StepStatus(StrEnum):
    SUCCEEDED = "succeeded"
    CACHED = "cached"
    FAILED = "failed"


@dataclass
class StepRecord:
    """What one step of a run did: its inputs' fingerprints, code, outputs, status and logs."""

    position: int
    step: str
    status: StepStatus
    cache_key: str
    code_version: str
    inputs: dict[str, str]
    outputs: dict[str, StoredValue]
    metrics: dict[str, float]
    started_ms: int
    duration_ms: float
    cached_from: str | None = None
    log_digest: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"position": self.position, "step": self.step, "status": self.status.value,
                "cache_key": self.cache_key, "code_version": self.code_version,
                "inputs": self.inputs,
                "outputs": {k: v.to_dict() for k, v in self.outputs.items()},
                "metrics": self.metrics, "started_ms": self.started_ms,
                "duration_ms": self.duration_ms, "cached_from": self.cached_from,
                "log_digest": self.log_digest, "error": self.error}


@dataclass
class PipelineRun:
    """A pipeline run: the tracked run's status and times, params, seed, source, and steps."""

    run_id: str
    pipeline: str
    status: str
    params: dict[str, Any]
    seed: int
    source: str | None
    rerun_of: str | None
    started_ms: int
    ended_ms: int | None
    steps: list[StepRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "pipeline": self.pipeline, "status": self.status,
                "params": self.params, "seed": self.seed, "source": self.source,
                "rerun_of": self.rerun_of, "started_ms": self.started_ms,
                "ended_ms": self.ended_ms, "steps": [s.to_dict() for s in self.steps]}


def insert_run(conn: Connection, *, run_id: str, pipeline: str, source: str | None,
               params: dict[str, Any], seed: int, rerun_of: str | None,
               started_ms: int) -> None:
    conn.execute(pipeline_runs.insert().values(
        run_id=run_id, pipeline=pipeline, source=source, params=canonical_json(params),
        seed=seed, rerun_of=rerun_of, started_ms=started_ms))


def insert_step(conn: Connection, run_id: str, record: StepRecord) -> None:
    conn.execute(pipeline_steps.insert().values(
        run_id=run_id, position=record.position, step=record.step, status=record.status.value,
        cache_key=record.cache_key, code_version=record.code_version,
        inputs=canonical_json(record.inputs),
        outputs=canonical_json({k: v.to_dict() for k, v in record.outputs.items()}),
        metrics=canonical_json(record.metrics), cached_from=record.cached_from,
        started_ms=record.started_ms, duration_ms=record.duration_ms,
        log_digest=record.log_digest, error=record.error))


def find_cached(conn: Connection, cache_key: str) -> tuple[str, StepRecord] | None:
    """Return (executing run, record) of the newest reusable step with this cache key."""
    row = conn.execute(
        sa.select(pipeline_steps)
        .where(pipeline_steps.c.cache_key == cache_key,
               pipeline_steps.c.status.in_([StepStatus.SUCCEEDED.value,
                                            StepStatus.CACHED.value]))
        .order_by(pipeline_steps.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    record = _step(row)
    return record.cached_from or row.run_id, record


def find_output(conn: Connection, pipeline: str, step: str, fingerprint: str,
                fmt: str, *, recent: int = 20) -> StoredValue | None:
    """Return an output of the step's `recent` latest records with this content and format."""
    rows = conn.execute(
        sa.select(pipeline_steps.c.outputs)
        .select_from(pipeline_steps.join(pipeline_runs))
        .where(pipeline_runs.c.pipeline == pipeline, pipeline_steps.c.step == step,
               pipeline_steps.c.status == StepStatus.SUCCEEDED.value)
        .order_by(pipeline_steps.c.id.desc()).limit(recent))
    for row in rows:
        for data in json.loads(row.outputs).values():
            if data["fingerprint"] == fingerprint and data["format"] == fmt:
                return StoredValue.from_dict(data)
    return None


_RUN_COLUMNS = (pipeline_runs, runs.c.status, runs.c.end_ms)


def get_run(conn: Connection, run_id: str) -> PipelineRun:
    """Return a pipeline run with its steps; a unique prefix of the id is enough."""
    query = sa.select(*_RUN_COLUMNS).select_from(pipeline_runs.join(runs))
    row = conn.execute(query.where(pipeline_runs.c.run_id == run_id)).first()
    if row is None and 4 <= len(run_id) < 32 and run_id.isalnum():
        found = conn.execute(query.where(pipeline_runs.c.run_id.like(f"{run_id}%"))
                             .limit(2)).all()
        row = found[0] if len(found) == 1 else None
    if row is None:
        raise PipelineRunNotFoundError(run_id)
    info = _info(row)
    steps = conn.execute(sa.select(pipeline_steps)
                         .where(pipeline_steps.c.run_id == info.run_id)
                         .order_by(pipeline_steps.c.position))
    info.steps = [_step(s) for s in steps]
    return info


def list_runs(conn: Connection, *, pipeline: str | None = None,
              limit: int = 50) -> list[PipelineRun]:
    """Return pipeline runs, newest first, with their steps."""
    query = (sa.select(*_RUN_COLUMNS).select_from(pipeline_runs.join(runs))
             .order_by(pipeline_runs.c.started_ms.desc(), pipeline_runs.c.run_id).limit(limit))
    if pipeline is not None:
        query = query.where(pipeline_runs.c.pipeline == pipeline)
    infos = [_info(r) for r in conn.execute(query)]
    by_id = {i.run_id: i for i in infos}
    if by_id:
        steps = conn.execute(sa.select(pipeline_steps)
                             .where(pipeline_steps.c.run_id.in_(list(by_id)))
                             .order_by(pipeline_steps.c.run_id, pipeline_steps.c.position))
        for s in steps:
            by_id[s.run_id].steps.append(_step(s))
    return infos


def _info(row: Any) -> PipelineRun:
    return PipelineRun(run_id=row.run_id, pipeline=row.pipeline, status=row.status,
                           params=json.loads(row.params), seed=int(row.seed), source=row.source,
                           rerun_of=row.rerun_of, started_ms=row.started_ms,
                           ended_ms=row.end_ms)


def _step(row: Any) -> StepRecord:
    return StepRecord(
        position=row.position, step=row.step, status=StepStatus(row.status),
        cache_key=row.cache_key, code_version=row.code_version, inputs=json.loads(row.inputs),
        outputs={k: StoredValue.from_dict(v) for k, v in json.loads(row.outputs).items()},
        metrics=json.loads(row.metrics), started_ms=row.started_ms,
        duration_ms=row.duration_ms, cached_from=row.cached_from, log_digest=row.log_digest,
        error=row.error)
