"""The MLflow side of the tracking benchmark: one phase per process, real `mlflow` client.

Runs in benchmarks/.work/mlflow-venv (made by bench_tracking.py), tracking URI
`sqlite:///<data>/mlflow.db`, no server: the client's own SqlAlchemyStore, as a user gets with
`mlflow.set_tracking_uri("sqlite:///mlflow.db")`. Not meant to be run by hand; see
bench_tracking.py.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from pathlib import Path

import _common as c

t_import = time.perf_counter()
import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric  # noqa: E402

IMPORT_S = time.perf_counter() - t_import


def _setup(data: Path, experiment: str, create: bool) -> tuple[MlflowClient, str]:
    data.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(f"sqlite:///{(data / 'mlflow.db').absolute()}")
    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        if not create:
            raise SystemExit(f"experiment {experiment!r} missing in {data}")
        exp_id = client.create_experiment(
            experiment, artifact_location=(data / "artifacts").absolute().as_uri())
    else:
        exp_id = exp.experiment_id
    return client, exp_id


def _store_pragmas() -> dict[str, object]:
    """What the MLflow store's own connections run with (synchronous is per connection)."""
    from mlflow.tracking._tracking_service.utils import _get_store
    store = _get_store()
    with store.engine.connect() as conn:
        return {
            "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
            "synchronous": conn.exec_driver_sql("PRAGMA synchronous").scalar(),
            "store": type(store).__name__,
        }


def batched_logging(a) -> dict[str, object]:
    client, exp_id = _setup(a.data, c.BATCH_EXPERIMENT, create=True)
    run = client.create_run(exp_id, run_name="batch")
    run_id = run.info.run_id
    batches = []
    for b in range(a.batches):
        ts = int(time.time() * 1000)
        batches.append([Metric(k, v, ts, b) for k, v in c.batch_values(b, a.batch_size)])
    lat = []
    t0 = time.perf_counter()
    for metrics in batches:
        t = time.perf_counter()
        client.log_batch(run_id, metrics=metrics)
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    client.set_terminated(run_id)
    history = client.get_metric_history(run_id, "k0000")
    n = a.batches * a.batch_size
    return {
        "api": "MlflowClient().log_batch(run_id, metrics=[Metric(key, value, timestamp, step)] "
               f"* {a.batch_size})",
        "metrics": n, "batches": a.batches, "batch_size": a.batch_size,
        "wall_s": round(wall, 3),
        "metrics_per_s": round(n / wall, 1),
        "batches_per_s": round(a.batches / wall, 2),
        "per_batch": c.latency_summary(lat),
        "check_history_len_k0000": len(history),
        "pragmas": _store_pragmas(),
    }


def run_creation(a) -> dict[str, object]:
    client, exp_id = _setup(a.data, c.EXPERIMENT, create=True)
    mlflow.set_experiment(experiment_id=exp_id)
    rows = c.run_rows(a.runs)
    lat = []
    t0 = time.perf_counter()
    for name, params, metrics in rows:
        t = time.perf_counter()
        with mlflow.start_run(run_name=name):
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    con = sqlite3.connect(str(a.data / "mlflow.db"))
    n_runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    con.close()
    last = client.get_run(mlflow.last_active_run().info.run_id)
    return {
        "api": "with mlflow.start_run(run_name=...): mlflow.log_params({5}); "
               "mlflow.log_metrics({5})",
        "runs": a.runs,
        "wall_s": round(wall, 3),
        "runs_per_s": round(a.runs / wall, 2),
        "per_run": c.latency_summary(lat),
        "check_runs_in_db": n_runs,
        "system_tags_per_run": sorted(k for k in last.data.tags if k.startswith("mlflow.")),
        "pragmas": _store_pragmas(),
    }


def search(a) -> dict[str, object]:
    client, exp_id = _setup(a.data, c.EXPERIMENT, create=False)

    def call():
        return client.search_runs([exp_id], filter_string=c.SEARCH_FILTER,
                                  order_by=list(c.SEARCH_ORDER_BY), max_results=c.SEARCH_LIMIT)

    first_s, runs = c.timed(call)
    times = []
    for _ in range(a.repeat):
        s, runs = c.timed(call)
        times.append(s)
    names = [r.info.run_name for r in runs]
    return {
        "api": f"MlflowClient().search_runs([exp_id], filter_string={c.SEARCH_FILTER!r}, "
               f"order_by={list(c.SEARCH_ORDER_BY)!r}, max_results={c.SEARCH_LIMIT})",
        "median_ms": round(statistics.median(times) * 1000, 2),
        "all_ms": [round(s * 1000, 2) for s in times],
        "first_ms": round(first_s * 1000, 2),
        "count": len(runs),
        "more_pages": bool(runs.token),
        "names_digest": c.names_digest(names),
        "first_names": names[:3],
        "top_m1": [r.data.metrics["m1"] for r in runs[:3]],
        "names": names,
        "db": c.sqlite_pragmas(a.data / "mlflow.db"),
    }


def main() -> None:
    a = c.side_args(__doc__)
    result = {"side": "mlflow", "phase": a.phase, "mlflow_version": mlflow.__version__,
              "import_s": round(IMPORT_S, 3)}
    try:
        import sqlalchemy
        result["sqlalchemy_version"] = sqlalchemy.__version__
    except ImportError:  # pragma: no cover
        pass
    result.update(globals()[a.phase](a))
    result["tracking_uri"] = mlflow.get_tracking_uri().replace(str(a.data.absolute()), "<data>")
    result["env"] = {k: os.environ.get(k) for k in ("MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK")}
    c.write_result(a.result, result)


if __name__ == "__main__":
    main()
