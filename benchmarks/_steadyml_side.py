"""The steadyml side of the tracking benchmark: one phase per process, the public SDK.

Runs with the interpreter that runs bench_tracking.py (the project's venv), embedded SQLite store
at `<data>/steady/steady.db` (steadyml's default layout under a home directory). Not meant to be
run by hand; see bench_tracking.py.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from pathlib import Path
from typing import Any

import _common as c

t_import = time.perf_counter()
import steadyml  # noqa: E402
from steadyml import Settings  # noqa: E402

IMPORT_S = time.perf_counter() - t_import


def _setup(data: Path) -> Any:
    data.mkdir(parents=True, exist_ok=True)
    return steadyml.configure(Settings(home=(data / "steady").absolute()))


def _db(data: Path) -> Path:
    return data / "steady" / "steady.db"


def _store_pragmas(platform: Any) -> dict[str, Any]:
    """What steadyml's own connections run with (synchronous is per connection)."""
    engine = None
    for path in ("store.engine", "tracker.store.engine", "metadata.engine", "engine"):
        obj = platform
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        engine = obj
        break
    if engine is None:
        return {"note": "engine not reachable from the platform object"}
    with engine.connect() as conn:
        out = {"journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
               "synchronous": conn.exec_driver_sql("PRAGMA synchronous").scalar()}
        conn.rollback()
    return out


def batched_logging(a) -> dict[str, Any]:
    platform = _setup(a.data)
    batches = []
    for b in range(a.batches):
        ts = int(time.time() * 1000)
        batches.append([(k, v, b, ts) for k, v in c.batch_values(b, a.batch_size)])
    lat = []
    with steadyml.start_run(c.BATCH_EXPERIMENT, name="batch") as run:
        t0 = time.perf_counter()
        for metrics in batches:
            t = time.perf_counter()
            run.log_batch(metrics=metrics)
            lat.append(time.perf_counter() - t)
        wall = time.perf_counter() - t0
        run_id = run.id
    # Secondary figure, not compared: the same batches through the dict form, log_metrics.
    dict_batches = [{k: v for k, v, _, _ in batch} for batch in batches]
    lat2 = []
    with steadyml.start_run(c.BATCH_EXPERIMENT, name="batch-dict") as run:
        t0 = time.perf_counter()
        for b, metrics in enumerate(dict_batches):
            t = time.perf_counter()
            run.log_metrics(metrics, step=b)
            lat2.append(time.perf_counter() - t)
        wall2 = time.perf_counter() - t0
    con = sqlite3.connect(str(_db(a.data)))
    history = con.execute("SELECT count(*) FROM metrics WHERE run_id = ? AND key = 'k0000'",
                          (run_id,)).fetchone()[0]
    con.close()
    n = a.batches * a.batch_size
    return {
        "api": f"run.log_batch(metrics=[(key, value, step, timestamp_ms)] * {a.batch_size})",
        "metrics": n, "batches": a.batches, "batch_size": a.batch_size,
        "wall_s": round(wall, 3),
        "metrics_per_s": round(n / wall, 1),
        "batches_per_s": round(a.batches / wall, 2),
        "per_batch": c.latency_summary(lat),
        "log_metrics_dict": {"api": "run.log_metrics({1000 keys}, step=i)",
                             "wall_s": round(wall2, 3),
                             "metrics_per_s": round(n / wall2, 1),
                             "per_batch": c.latency_summary(lat2)},
        "check_history_len_k0000": history,
        "pragmas": _store_pragmas(platform),
    }


def run_creation(a) -> dict[str, Any]:
    platform = _setup(a.data)
    rows = c.run_rows(a.runs)
    lat = []
    t0 = time.perf_counter()
    for name, params, metrics in rows:
        t = time.perf_counter()
        with steadyml.start_run(c.EXPERIMENT, name=name) as run:
            run.log_params(params)
            run.log_metrics(metrics)
        lat.append(time.perf_counter() - t)
    wall = time.perf_counter() - t0
    con = sqlite3.connect(str(_db(a.data)))
    n_runs = con.execute("SELECT count(*) FROM runs").fetchone()[0]
    con.close()
    last = steadyml.get_run(run.id)
    return {
        "api": "with steadyml.start_run('bench', name=...) as run: run.log_params({5}); "
               "run.log_metrics({5})",
        "runs": a.runs,
        "wall_s": round(wall, 3),
        "runs_per_s": round(a.runs / wall, 2),
        "per_run": c.latency_summary(lat),
        "check_runs_in_db": n_runs,
        "captured": {"git_commit": getattr(getattr(last, "code", None), "commit", None),
                     "git_dirty": getattr(getattr(last, "code", None), "dirty", None),
                     "environment_hash": getattr(last, "environment_hash", None),
                     "source": getattr(last, "source", None)},
        "pragmas": _store_pragmas(platform),
    }


def search(a) -> dict[str, Any]:
    _setup(a.data)

    def call():
        return steadyml.search_runs(experiment=c.EXPERIMENT, filter=c.SEARCH_FILTER,
                                    order_by=list(c.SEARCH_ORDER_BY), limit=c.SEARCH_LIMIT)

    first_s, runs = c.timed(call)
    times = []
    for _ in range(a.repeat):
        s, runs = c.timed(call)
        times.append(s)
    names = [r.name for r in runs]
    return {
        "api": f"steadyml.search_runs(experiment='bench', filter={c.SEARCH_FILTER!r}, "
               f"order_by={list(c.SEARCH_ORDER_BY)!r}, limit={c.SEARCH_LIMIT})",
        "median_ms": round(statistics.median(times) * 1000, 2),
        "all_ms": [round(s * 1000, 2) for s in times],
        "first_ms": round(first_s * 1000, 2),
        "count": len(runs),
        "names_digest": c.names_digest(names),
        "first_names": names[:3],
        "top_m1": [r.metrics["m1"] for r in runs[:3]],
        "names": names,
        "db": c.sqlite_pragmas(_db(a.data)),
    }


def main() -> None:
    a = c.side_args(__doc__)
    result: dict[str, Any] = {"side": "steadyml", "phase": a.phase,
                              "steadyml_version": getattr(steadyml, "__version__", None),
                              "import_s": round(IMPORT_S, 3)}
    try:
        import sqlalchemy
        result["sqlalchemy_version"] = sqlalchemy.__version__
    except ImportError:  # pragma: no cover
        pass
    result.update(globals()[a.phase](a))
    result["env"] = {k: v for k, v in os.environ.items() if k.startswith("STEADY_")}
    c.write_result(a.result, result)


if __name__ == "__main__":
    main()
