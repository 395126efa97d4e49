#!/usr/bin/env python3
"""Profile the steadyml side of the tracking benchmark (cProfile, plus the SQL it sends).

    .venv/bin/python benchmarks/profile_tracking.py run_creation --runs 1000
    .venv/bin/python benchmarks/profile_tracking.py batched_logging --batches 100
    .venv/bin/python benchmarks/profile_tracking.py search --runs 5000

Same calls as _steadyml_side.py, in a scratch home under benchmarks/.work/profile/, with the
repository as working directory (as in the benchmark). Prints the wall time, the top functions
by own time and by cumulative time, the time spent in child processes (e.g. git), and each
distinct SQL statement with its count and total execution time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import shutil
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import sqlalchemy as sa  # noqa: E402

import _common as c  # noqa: E402
import steadyml  # noqa: E402
from steadyml import Settings  # noqa: E402


class SqlTimer:
    """Counts and times each distinct statement through SQLAlchemy's cursor events."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.stats: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
        self.commits = [0, 0.0]
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)
        sa.event.listen(engine, "commit", self._before_commit)
        self._t = 0.0
        self._tc = 0.0

    def _before(self, conn, cursor, statement, params, context, executemany):
        self._t = time.perf_counter()

    def _after(self, conn, cursor, statement, params, context, executemany):
        s = self.stats[("executemany " if executemany else "") + " ".join(statement.split())]
        s[0] += 1
        s[1] += time.perf_counter() - self._t

    def _before_commit(self, conn):
        self.commits[0] += 1

    def report(self, top: int = 25) -> str:
        rows = sorted(self.stats.items(), key=lambda kv: -kv[1][1])[:top]
        out = ["   count   total ms  statement"]
        for sql, (n, t) in rows:
            out.append(f"{n:8d} {t * 1000:10.1f}  {sql[:160]}")
        out.append(f"(commits seen: {self.commits[0]}; commit time is in the cProfile rows "
                   "for sqlite3.Connection.commit / SQLAlchemy begin-commit)")
        return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("phase", choices=["batched_logging", "run_creation", "search"])
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--batches", type=int, default=100)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--no-sql", action="store_true", help="do not time statements")
    a = ap.parse_args()

    home = HERE / ".work" / "profile" / a.phase
    if a.phase != "search":
        shutil.rmtree(home, ignore_errors=True)
    os.chdir(HERE.parent)
    fill = a.phase == "search" and not (home / "steady.db").exists()
    platform = steadyml.configure(Settings(home=home))
    if fill:
        print(f"filling {a.runs} runs first (not profiled) ...", file=sys.stderr)
        for name, params, metrics in c.run_rows(a.runs):
            with steadyml.start_run(c.EXPERIMENT, name=name) as run:
                run.log_params(params)
                run.log_metrics(metrics)

    if a.phase == "batched_logging":
        batches = []
        for b in range(a.batches):
            ts = int(time.time() * 1000)
            batches.append([(k, v, b, ts) for k, v in c.batch_values(b, 1000)])
        run = steadyml.start_run(c.BATCH_EXPERIMENT, name="batch")

        def work() -> list[float]:
            lat = []
            for metrics in batches:
                t = time.perf_counter()
                run.log_batch(metrics=metrics)
                lat.append(time.perf_counter() - t)
            return lat
    elif a.phase == "run_creation":
        rows = c.run_rows(a.runs)

        def work() -> list[float]:
            lat = []
            for name, params, metrics in rows:
                t = time.perf_counter()
                with steadyml.start_run(c.EXPERIMENT, name=name) as r:
                    r.log_params(params)
                    r.log_metrics(metrics)
                lat.append(time.perf_counter() - t)
            return lat
    else:
        def call():
            return steadyml.search_runs(experiment=c.EXPERIMENT, filter=c.SEARCH_FILTER,
                                        order_by=list(c.SEARCH_ORDER_BY), limit=c.SEARCH_LIMIT)
        call()

        def work() -> list[float]:
            lat = []
            for _ in range(20):
                t = time.perf_counter()
                call()
                lat.append(time.perf_counter() - t)
            return lat

    # Unprofiled pass first for the search (repeatable); for the write phases the timings
    # below are under cProfile, which inflates Python-heavy code more than SQLite time.
    if a.phase == "search":
        plain = work()
        print(f"unprofiled: median {statistics.median(plain) * 1000:.2f} ms per call")
    sql = None if a.no_sql else SqlTimer(platform.store.engine)
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    lat = work()
    prof.disable()
    wall = time.perf_counter() - t0
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)

    print(f"{a.phase}: {len(lat)} timed units in {wall:.2f} s under cProfile; "
          f"per unit {c.latency_summary(lat)}")
    print(f"CPU time of child processes (git etc.) during the phase: {child_cpu:.2f} s")
    for key in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(a.top)
        text = buf.getvalue()
        print(f"\n==== top {a.top} by {key} ====")
        print(text[text.find("   ncalls"):])
    if sql is not None:
        print("==== SQL statements by total time ====")
        print(sql.report())


if __name__ == "__main__":
    main()
