"""Windows of the prediction log: per-arm health, inputs for drift, predictions with outcomes.

Every query runs in DuckDB over the log's Parquet segments, filtered on the deployment's Hive
partition and the time window, so only that deployment's recent files are read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from steadyml.monitoring import Reference, classification_metrics, regression_metrics
from steadyml.monitoring.policies import OnlineMetric
from steadyml.store.predictions import PredictionsNotFoundError, open_log

if TYPE_CHECKING:
    import duckdb

    from steadyml.platform import Platform


@dataclass(frozen=True)
class ArmStats:
    """One arm's health over a window: requests, failures, latency, cost."""

    arm: str
    model: str
    model_version: int
    requests: int
    failed: int
    p99_ms: float | None
    p50_ms: float | None
    cpu_ms: float | None  # mean CPU time per prediction

    @property
    def error_rate(self) -> float:
        return self.failed / self.requests if self.requests else 0.0

    def cost_per_1k(self, price_per_core_hour: float) -> float | None:
        if self.cpu_ms is None:
            return None
        return self.cpu_ms / 1000 / 3600 * price_per_core_hour * 1000

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": self.error_rate}


class LogReader:
    """Query the prediction log under `root` (re-listing its files on every query)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _connect(self) -> tuple[duckdb.DuckDBPyConnection, set[str]] | None:
        import duckdb

        con = duckdb.connect()
        try:
            open_log(self.root, connection=con)
        except (PredictionsNotFoundError, duckdb.IOException):  # no log, or no segment yet
            con.close()
            return None
        columns = {r[0] for r in con.execute("DESCRIBE predictions").fetchall()}
        return con, columns

    def arm_stats(self, deployment: str, since_ms: int, until_ms: int, *,
                  revision: int | None = None) -> dict[str, ArmStats]:
        """Return each arm's health over [since_ms, until_ms)."""
        opened = self._connect()
        if opened is None:
            return {}
        con, columns = opened
        cpu = "avg(cpu_ms) FILTER (WHERE status = 'ok')" if "cpu_ms" in columns else "NULL"
        where, params = _window(deployment, since_ms, until_ms, revision)
        try:
            rows = con.execute(f"""
                SELECT arm, any_value(model), max(model_version), count(DISTINCT request_id),
                       count(DISTINCT request_id) FILTER (WHERE status <> 'ok'),
                       quantile_cont(latency_ms, 0.99) FILTER (WHERE status = 'ok'),
                       quantile_cont(latency_ms, 0.5) FILTER (WHERE status = 'ok'), {cpu}
                FROM predictions WHERE {where} GROUP BY arm""", params).fetchall()
        finally:
            con.close()
        return {r[0]: ArmStats(r[0], r[1], int(r[2]), int(r[3]), int(r[4]), _num(r[5]),
                               _num(r[6]), _num(r[7])) for r in rows}

    def inputs(self, deployment: str, since_ms: int, until_ms: int, *, arm: str | None = None,
               features: Sequence[str] = (), revision: int | None = None,
               with_keys: bool = False) -> pa.Table:
        """Return the window's successful rows: one column per feature, and `prediction`.

        `with_keys` adds request_id, row and ts first, and leaves out shadow rows (a mirrored
        request would otherwise appear twice).
        """
        opened = self._connect()
        if opened is None:
            return pa.table({})
        con, columns = opened
        where, params = _window(deployment, since_ms, until_ms, revision)
        where += " AND status = 'ok'"
        if arm is not None:
            where += " AND arm = ?"
            params.append(arm)
        wanted = [f for f in features if f"in_{f}" in columns] if features else \
            sorted(c[3:] for c in columns if c.startswith("in_"))
        select = [f'"in_{f}" AS "{f}"' for f in wanted]
        if with_keys:
            where += " AND arm <> 'shadow'"
            select = ["request_id", '"row"', "ts", *select]
        out = _prediction_column(columns)
        if out is not None:
            select.append(f'{out} AS prediction')
        if not select:
            con.close()
            return pa.table({})
        try:
            return con.sql(f"SELECT {', '.join(select)} FROM predictions WHERE {where}",
                           params=params).to_arrow_table()
        finally:
            con.close()

    def with_outcomes(self, deployment: str, since_ms: int, until_ms: int,
                      outcomes: pa.Table, *, revision: int | None = None) -> pa.Table:
        """Return predictions (row 0 of each request) joined with their outcomes."""
        opened = self._connect() if outcomes.num_rows else None
        if opened is None:
            return pa.table({})
        con, columns = opened
        con.register("outcomes_t", outcomes)
        where, params = _window(deployment, since_ms, until_ms, revision, "p")
        outs = [c for c in ("out", "out_text", "out_0", "out_1") if c in columns]
        try:
            return con.sql(f"""
                SELECT p.arm, p.model_version, {', '.join('p.' + c for c in outs)},
                       o.value_num, o.value_text
                FROM predictions p JOIN outcomes_t o ON p.request_id = o.request_id
                WHERE {where} AND p.status = 'ok' AND p."row" = 0
                """, params=params).to_arrow_table()
        finally:
            con.close()

    def unmatched(self, outcomes: pa.Table) -> int:
        """Count outcomes whose request id the prediction log does not hold."""
        opened = self._connect()
        if opened is None:
            return outcomes.num_rows
        con, _ = opened
        con.register("outcomes_t", outcomes)
        try:
            return int(con.execute("""SELECT count(*) FROM outcomes_t o WHERE NOT EXISTS
                (SELECT 1 FROM predictions p WHERE p.request_id = o.request_id)""").fetchone()[0])
        finally:
            con.close()


def online_metrics(joined: pa.Table, metric: OnlineMetric | None = None,
                   business: Any = None) -> dict[str, dict[str, Any]]:
    """Return online metrics per arm from `LogReader.with_outcomes` rows."""
    from steadyml.monitoring import business_metric

    out: dict[str, dict[str, Any]] = {}
    if joined.num_rows == 0:
        return out
    arms = np.asarray(joined.column("arm").to_numpy(zero_copy_only=False))
    regression = metric in (OnlineMetric.MAE, OnlineMetric.RMSE)
    for arm in np.unique(arms):
        part = joined.filter(pa.compute.equal(joined.column("arm"), arm))
        truth, pred, score = _labels(part)
        if regression:
            values = regression_metrics(truth, pred)
        else:
            values = classification_metrics(truth, pred, score)
        if business is not None:
            values["business"] = business_metric(business, pred, truth)
        values["model_version"] = int(part.column("model_version")[0].as_py())
        out[str(arm)] = values
    return out


def _labels(part: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    names = part.column_names
    text = part.column("value_text").to_numpy(zero_copy_only=False)
    num = part.column("value_num").to_numpy(zero_copy_only=False)
    score = None
    if "out_1" in names:  # class probabilities: the positive class's, and the arg-max label
        p0 = part.column("out_0").to_numpy(zero_copy_only=False)
        score = part.column("out_1").to_numpy(zero_copy_only=False)
        pred = (score > p0).astype(np.float64)
    elif "out_text" in names and part.column("out_text").null_count < part.num_rows:
        pred = np.asarray(part.column("out_text").to_numpy(zero_copy_only=False))
    else:
        pred = part.column("out").to_numpy(zero_copy_only=False)
    truth = text if pred.dtype == object else num
    return np.asarray(truth), np.asarray(pred), score


def training_reference(platform: Platform, model: str, version: int) -> Reference | None:
    """Return the reference of a model version's training dataset profile, if it has one."""
    from steadyml.tracking import datasets as ds

    mv = platform.registry.get(f"{model}:{version}")
    training = [d for d in mv.datasets if d.get("context", "training") == "training"] or \
        mv.datasets
    if not training:
        return None
    with platform.store.read() as conn:
        dataset = ds.get_dataset(conn, int(training[0]["id"]))
    features = {spec["name"] for spec in (mv.signature or {}).get("inputs", [])}
    profile = dataset.profile
    if features:
        profile = {**profile, "columns": {k: v for k, v in profile["columns"].items()
                                          if k in features}}
    return Reference.from_profile(
        profile, description=f"training dataset {dataset.name} ({dataset.fingerprint[:19]}…, "
                             f"{dataset.num_rows} rows)")


def _window(deployment: str, since_ms: int, until_ms: int, revision: int | None,
            table: str = "") -> tuple[str, list[Any]]:
    p = f"{table}." if table else ""
    where = (f"{p}deployment = ? AND {p}ts >= to_timestamp(? / 1000.0) "
             f"AND {p}ts < to_timestamp(? / 1000.0)")
    params: list[Any] = [deployment, since_ms, until_ms]
    if revision is not None:
        where += f" AND {p}revision = ?"
        params.append(revision)
    return where, params


def _prediction_column(columns: set[str]) -> str | None:
    for name in ("out", "out_1", "out_text"):
        if name in columns:
            return f'"{name}"'
    return None


def _num(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else float(value)
