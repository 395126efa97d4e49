"""Experiments and runs: params, metrics (history and latest), tags, artifacts, search.

Functions here take a connection inside the caller's transaction and never commit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from steadyml.core.errors import (
    ExperimentNotFoundError,
    InvalidInputError,
    RunNotFoundError,
    RunStateError,
)
from steadyml.core.ids import check_key, check_name
from steadyml.store.engine import execute_fast, execute_many, fetch_rows
from steadyml.store.tables import (
    environments,
    experiments,
    latest_metrics,
    metrics,
    params,
    run_artifacts,
    runs,
    tags,
)
from steadyml.tracking.environment import CodeVersion, Environment
from steadyml.tracking.filters import compile_search, parse_filter, parse_order_by

MAX_PARAM_CHARS = 6000
MAX_SEARCH_RESULTS = 50_000


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


@dataclass(frozen=True)
class Metric:
    key: str
    value: float
    step: int
    timestamp_ms: int


@dataclass(slots=True)
class Run:
    id: str
    experiment: str
    name: str
    status: RunStatus
    start_ms: int
    end_ms: int | None
    actor: str
    source: str | None
    code: CodeVersion
    environment_hash: str | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = str(self.status)
        out["metrics"] = {k: _json_float(v) for k, v in self.metrics.items()}
        return out


def ensure_experiment(conn: Connection, name: str, now_ms: int) -> int:
    """Return the id of experiment `name`, creating it if needed (safe under concurrency)."""
    check_name(name, "experiment")
    found = conn.execute(sa.select(experiments.c.id).where(experiments.c.name == name)).scalar()
    if found is not None:
        return int(found)
    conn.execute(_insert(conn, experiments).values(name=name, created_ms=now_ms)
                 .on_conflict_do_nothing(index_elements=["name"]))
    return int(conn.execute(
        sa.select(experiments.c.id).where(experiments.c.name == name)).scalar_one())


def ensure_environment(conn: Connection, env: Environment, now_ms: int) -> None:
    """Record an environment once; later runs refer to it by hash."""
    import json

    conn.execute(_insert(conn, environments).values(
        hash=env.hash, python_version=env.python_version, platform=env.platform,
        packages=json.dumps(list(env.packages)), created_ms=now_ms,
    ).on_conflict_do_nothing(index_elements=["hash"]))


def insert_run(conn: Connection, *, run_id: str, experiment_id: int, name: str, actor: str,
               now_ms: int, source: str | None, code: CodeVersion,
               environment_hash: str | None) -> None:
    execute_fast(conn, _RUN_INSERT, {
        "id": run_id, "experiment_id": experiment_id, "name": name,
        "status": RunStatus.RUNNING.value, "start_ms": now_ms, "actor": actor,
        "source": source, "git_commit": code.commit, "git_branch": code.branch,
        "git_dirty": code.dirty, "git_diff_hash": code.diff_hash, "git_repo": code.repo,
        "environment_hash": environment_hash})


def require_running(conn: Connection, run_id: str) -> None:
    """Raise unless the run exists and is RUNNING."""
    status = execute_fast(conn, _RUN_STATUS, {"run_id": run_id}).scalar()
    if status is None:
        raise RunNotFoundError(run_id)
    if status != RunStatus.RUNNING:
        raise RunStateError(f"Run {run_id} is {status}; only a RUNNING run accepts new data. "
                            "Start a new run instead.")


def set_status(conn: Connection, run_id: str, status: RunStatus, now_ms: int) -> RunStatus:
    """Finish a run; return its previous status."""
    finished = execute_fast(conn, _RUN_FINISH, {"run_id": run_id, "status": status.value,
                                                "end_ms": now_ms})
    if finished.rowcount == 1:  # the usual case: one statement
        return RunStatus.RUNNING
    previous = conn.execute(sa.select(runs.c.status).where(runs.c.id == run_id)).scalar()
    if previous is None:
        raise RunNotFoundError(run_id)
    conn.execute(runs.update().where(runs.c.id == run_id).values(status=status, end_ms=now_ms))
    return RunStatus(previous)


def write_params(conn: Connection, run_id: str, values: Mapping[str, object]) -> None:
    """Record params; a param is write-once (logging the same value again is fine)."""
    if not values:
        return
    rows = {check_key(k, "param"): _param_text(k, v) for k, v in values.items()}
    inserted = execute_many(conn, _PARAMS_INSERT[conn.dialect.name], ("run_id", "key", "value"),
                            [(run_id, k, v) for k, v in rows.items()])
    if inserted is not None and inserted.rowcount == len(rows):  # all new: nothing to compare
        return
    existing = dict(conn.execute(sa.select(params.c.key, params.c.value).where(
        params.c.run_id == run_id, params.c.key.in_(list(rows)))).all())
    changed = sorted(k for k, v in rows.items() if existing.get(k, v) != v)
    if changed:  # raising rolls the whole transaction back, this batch's inserts included
        raise RunStateError(f"Params {changed} of run {run_id} are already set to other values; "
                            "params are write-once. Log a tag or a new run instead.")


def write_tags(conn: Connection, run_id: str, values: Mapping[str, object]) -> None:
    """Set tags (a later value replaces an earlier one)."""
    if not values:
        return
    rows = [{"run_id": run_id, "key": check_key(k, "tag"), "value": str(v)}
            for k, v in values.items()]
    stmt = _insert(conn, tags)
    conn.execute(stmt.on_conflict_do_update(index_elements=["run_id", "key"],
                                            set_={"value": stmt.excluded.value}), rows)


MetricRow = tuple[str, float, int, int]  # key, value, step, timestamp_ms
_METRIC_COLUMNS = ("run_id", "key", "value", "step", "timestamp_ms")


def write_metrics(conn: Connection, run_id: str, batch: Sequence[MetricRow]) -> None:
    """Append metric history and advance the latest value of each key, in one go."""
    if not batch:
        return
    rows = [(run_id, key, None if value != value else value, step, ts)  # NaN is stored NULL
            for key, value, step, ts in batch]
    latest: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        best = latest.get(row[1])
        if best is None or (row[3], row[4]) >= (best[3], best[4]):
            latest[row[1]] = row
    execute_many(conn, _METRICS_INSERT, _METRIC_COLUMNS, rows)
    execute_many(conn, _LATEST_UPSERT[conn.dialect.name], _METRIC_COLUMNS,
                 list(latest.values()))


def _latest_upsert(insert: Any) -> Any:
    stmt = insert(latest_metrics)
    newer = sa.or_(stmt.excluded.step > latest_metrics.c.step,
                   sa.and_(stmt.excluded.step == latest_metrics.c.step,
                           stmt.excluded.timestamp_ms >= latest_metrics.c.timestamp_ms))
    return stmt.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={"value": stmt.excluded.value, "step": stmt.excluded.step,
              "timestamp_ms": stmt.excluded.timestamp_ms},
        where=newer)


# Built once: execute_fast / execute_many cache each one's compiled SQL per dialect.
_RUN_INSERT = runs.insert()
_RUN_STATUS = sa.select(runs.c.status).where(runs.c.id == sa.bindparam("run_id"))
_RUN_FINISH = (runs.update()
               .where(runs.c.id == sa.bindparam("run_id"), runs.c.status == "RUNNING")
               .values(status=sa.bindparam("status"), end_ms=sa.bindparam("end_ms")))
_PARAMS_INSERT = {"sqlite": sqlite.insert(params).on_conflict_do_nothing(),
                  "postgresql": postgresql.insert(params).on_conflict_do_nothing()}
_METRICS_INSERT = metrics.insert()
_LATEST_UPSERT = {"sqlite": _latest_upsert(sqlite.insert),
                  "postgresql": _latest_upsert(postgresql.insert)}


def make_metrics(values: Mapping[str, float] | Iterable[tuple[str, float, int, int]],
                 step: int, now_ms: int) -> list[MetricRow]:
    """Validate metric input (a mapping, or (key, value, step, timestamp_ms) tuples)."""
    items = ([(k, v, step, now_ms) for k, v in values.items()]
             if isinstance(values, Mapping) else list(values))
    out = []
    for key, value, m_step, ts in items:
        check_key(key, "metric")
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"Metric {key!r} must be a number, got {value!r}.") from exc
        out.append((key, number, int(m_step), int(ts)))
    return out


def write_artifact(conn: Connection, run_id: str, path: str, digest: str, size: int) -> None:
    stmt = _insert(conn, run_artifacts)
    conn.execute(stmt.values(run_id=run_id, path=path, digest=digest, size=size)
                 .on_conflict_do_update(index_elements=["run_id", "path"],
                                        set_={"digest": stmt.excluded.digest,
                                              "size": stmt.excluded.size}))


def get_run(conn: Connection, run_id: str) -> Run:
    found = _load_runs(conn, sa.select(*_RUN_COLUMNS).select_from(_RUNS_JOIN)
                       .where(runs.c.id == run_id))
    if not found:
        raise RunNotFoundError(run_id)
    return found[0]


def metric_history(conn: Connection, run_id: str, key: str) -> list[Metric]:
    rows = conn.execute(sa.select(metrics.c.key, metrics.c.value, metrics.c.step,
                                  metrics.c.timestamp_ms)
                        .where(metrics.c.run_id == run_id, metrics.c.key == key)
                        .order_by(metrics.c.step, metrics.c.timestamp_ms, metrics.c.id))
    return [Metric(r.key, _py_float(r.value), r.step, r.timestamp_ms) for r in rows]


def list_artifacts(conn: Connection, run_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(run_artifacts.c.path, run_artifacts.c.digest,
                                  run_artifacts.c.size)
                        .where(run_artifacts.c.run_id == run_id).order_by(run_artifacts.c.path))
    return [dict(r._mapping) for r in rows]


def get_environment(conn: Connection, env_hash: str) -> dict[str, Any] | None:
    import json

    row = conn.execute(sa.select(environments).where(environments.c.hash == env_hash)).first()
    if row is None:
        return None
    return {"hash": row.hash, "python_version": row.python_version, "platform": row.platform,
            "packages": json.loads(row.packages)}


def search_runs(conn: Connection, *, experiment: str | None = None, filter: str | None = None,
                order_by: Sequence[str] | None = None, limit: int = 1000,
                offset: int = 0) -> list[Run]:
    """Return runs matching `filter`, ordered, with their params, latest metrics and tags."""
    if not 0 < limit <= MAX_SEARCH_RESULTS:
        raise InvalidInputError(f"limit must be between 1 and {MAX_SEARCH_RESULTS}, got {limit}.")
    where, order_terms, joins = compile_search(parse_filter(filter), parse_order_by(order_by))
    source: sa.FromClause = _RUNS_JOIN
    for table, on in joins:
        source = source.outerjoin(table, on)
    query = sa.select(*_RUN_COLUMNS).select_from(source)
    if experiment is not None:
        exp_id = conn.execute(sa.select(experiments.c.id)
                              .where(experiments.c.name == experiment)).scalar()
        if exp_id is None:
            raise ExperimentNotFoundError(experiment)
        query = query.where(runs.c.experiment_id == exp_id)
    query = query.where(*where).order_by(*order_terms).limit(limit).offset(offset)
    return _load_runs(conn, query)


def list_experiments(conn: Connection) -> list[dict[str, Any]]:
    count = sa.func.count(runs.c.id)
    rows = conn.execute(sa.select(experiments.c.name, experiments.c.created_ms,
                                  count.label("runs"))
                        .select_from(experiments.outerjoin(runs))
                        .group_by(experiments.c.id).order_by(experiments.c.name))
    return [dict(r._mapping) for r in rows]


_RUNS_JOIN = runs.join(experiments, runs.c.experiment_id == experiments.c.id)
_RUN_COLUMNS = (*runs.c, experiments.c.name.label("experiment_name"))
_RUN_INDEX = {column.name: i for i, column in enumerate(_RUN_COLUMNS)}


def _load_runs(conn: Connection, query: sa.Select[Any]) -> list[Run]:
    rows = fetch_rows(conn, query)
    if not rows:
        return []
    c = _RUN_INDEX
    ids = [r[c["id"]] for r in rows]
    by_id: dict[str, dict[str, dict[str, Any]]] = {i: {"p": {}, "m": {}, "t": {}} for i in ids}
    for chunk in _chunks(ids, 5000):
        for run_id, key, value in _values_of(conn, params, chunk):
            by_id[run_id]["p"][key] = value
        for run_id, key, value in _values_of(conn, latest_metrics, chunk):
            by_id[run_id]["m"][key] = _py_float(value)
        for run_id, key, value in _values_of(conn, tags, chunk):
            by_id[run_id]["t"][key] = value
    out = []
    for r in rows:
        values = by_id[r[c["id"]]]
        dirty = r[c["git_dirty"]]
        out.append(Run(
            id=r[c["id"]], experiment=r[c["experiment_name"]], name=r[c["name"]],
            status=RunStatus(r[c["status"]]), start_ms=r[c["start_ms"]],
            end_ms=r[c["end_ms"]], actor=r[c["actor"]], source=r[c["source"]],
            code=CodeVersion(repo=r[c["git_repo"]], commit=r[c["git_commit"]],
                             branch=r[c["git_branch"]],
                             dirty=None if dirty is None else bool(dirty),
                             diff_hash=r[c["git_diff_hash"]]),
            environment_hash=r[c["environment_hash"]], params=values["p"],
            metrics=values["m"], tags=values["t"]))
    return out


def _values_of(conn: Connection, table: sa.Table, run_ids: list[str]) -> list[Any]:
    """Return (run_id, key, value) of a keyed table for many runs, as plain driver rows."""
    if conn.dialect.name == "postgresql":
        sql = f'SELECT run_id, "key", value FROM {table.name} WHERE run_id = ANY(%s)'
        return fetch_rows(conn, sql, (run_ids,))
    marks = ",".join("?" * len(run_ids))
    sql = f'SELECT run_id, "key", value FROM {table.name} WHERE run_id IN ({marks})'
    return fetch_rows(conn, sql, tuple(run_ids))


def _insert(conn: Connection, table: sa.Table) -> Any:
    """Return the dialect's INSERT, which has on_conflict_do_nothing / do_update."""
    return (postgresql.insert(table) if conn.dialect.name == "postgresql"
            else sqlite.insert(table))


def _param_text(key: str, value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > MAX_PARAM_CHARS:
        raise InvalidInputError(f"Param {key!r} is {len(text)} characters long; the limit is "
                                f"{MAX_PARAM_CHARS}. Log long values as an artifact instead.")
    return text


def _py_float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _json_float(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
