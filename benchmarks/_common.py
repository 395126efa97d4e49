"""Shared by both sides of the tracking benchmark: the data, the statistics and the protocol.

Standard library only: it is imported by the steadyml side (project venv) and by the MLflow side
(its own venv). Both sides log exactly the same values, generated here from a fixed seed, so the
search phase can check that they return the same runs in the same order.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXPERIMENT = "bench"
BATCH_EXPERIMENT = "bench-batch"
SEED = 20261122
CATEGORIES = ("rf", "gbm", "lr", "svm")
# p0 is drawn from this: "rf" half the time, so ~1,250 of 5,000 runs match the filter and the
# 1,000-result limit matters (as in the reference measurement: 1,247 of 5,000 matched).
P0_DRAW = ("rf", "gbm", "rf", "lr", "rf", "svm")
PARAM_KEYS = tuple(f"p{j}" for j in range(5))
METRIC_KEYS = tuple(f"m{j}" for j in range(5))
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = 'rf'"
SEARCH_ORDER_BY = ("metrics.m1 DESC",)
SEARCH_LIMIT = 1000


# -- the data ---------------------------------------------------------------------------------

def run_name(i: int) -> str:
    return f"run-{i:05d}"


def run_rows(n: int, seed: int = SEED) -> list[tuple[str, dict[str, str], dict[str, float]]]:
    """(run name, 5 params, 5 metrics) for each of `n` runs, the same on both sides."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        params = {
            "p0": rng.choice(P0_DRAW),
            "p1": str(rng.randint(1, 500)),             # e.g. n_estimators
            "p2": f"{rng.uniform(1e-4, 1e-1):.6g}",     # e.g. learning rate
            "p3": str(rng.choice([True, False])),
            "p4": rng.choice(("gini", "entropy", "log_loss")),
        }
        metrics = {k: rng.random() for k in METRIC_KEYS}
        rows.append((run_name(i), params, metrics))
    return rows


def expected_search(n: int, seed: int = SEED) -> list[str]:
    """The run names the search must return, in order (computed in Python from the same data)."""
    hits = [(m["m1"], name) for name, p, m in run_rows(n, seed)
            if m["m0"] > 0.5 and p["p0"] == "rf"]
    hits.sort(key=lambda t: -t[0])
    return [name for _, name in hits[:SEARCH_LIMIT]]


def batch_values(batch: int, width: int, seed: int = SEED) -> list[tuple[str, float]]:
    """The 1,000 (key, value) pairs of one logging batch."""
    rng = random.Random(seed * 1_000_003 + batch)
    return [(f"k{j:04d}", rng.random()) for j in range(width)]


# -- statistics --------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), as numpy's default."""
    s = sorted(values)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def latency_summary(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "max_ms": round(max(ms), 3),
    }


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def names_digest(names: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]


# -- the protocol between the driver and a side ------------------------------------------------

def side_args(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("phase", choices=["batched_logging", "run_creation", "search"])
    ap.add_argument("--data", required=True, type=Path, help="scratch directory of this side")
    ap.add_argument("--result", required=True, type=Path, help="where to write the JSON figures")
    ap.add_argument("--runs", type=int, default=5000)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    return ap.parse_args()


def write_result(path: Path, result: dict[str, Any]) -> None:
    result.setdefault("side_python", platform.python_version())
    result.setdefault("side_sqlite", sqlite3.sqlite_version)
    result.setdefault("pid", os.getpid())
    path.write_text(json.dumps(result, indent=2, sort_keys=True))
    print(json.dumps(result, sort_keys=True), file=sys.stdout, flush=True)


def sqlite_pragmas(db_file: Path) -> dict[str, Any]:
    """journal_mode as stored in the database file (persistent for WAL)."""
    con = sqlite3.connect(str(db_file))
    try:
        return {"journal_mode": con.execute("PRAGMA journal_mode").fetchone()[0],
                "db_bytes": db_file.stat().st_size}
    finally:
        con.close()
