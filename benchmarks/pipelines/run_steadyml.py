"""One steadyml measurement: a pipeline run cold (every step executes) then fully cached.

Run by bench_pipelines.py in the project venv, one process per repeat:

    .venv/bin/python benchmarks/pipelines/run_steadyml.py noop OUT.json
    .venv/bin/python benchmarks/pipelines/run_steadyml.py realistic OUT.json --data PARQUET
    .venv/bin/python benchmarks/pipelines/run_steadyml.py noop OUT.json --profile
    .venv/bin/python benchmarks/pipelines/run_steadyml.py fresh OUT.json --data PARQUET

`fresh` is the realistic pipeline with its load step `cache=False` (as advised for a step
reading a file): its "cached" run executes load, and reuses split, train and evaluate.

In a process: load the pipeline file as the CLI does, warm up (a cold and a cached run in a
scratch STEADY_HOME, untimed: imports, the steps' code versions, SQLAlchemy's statement
cache), then time `Pipelines(platform).run(...)` twice in a fresh STEADY_HOME (SQLite +
local artifacts): cold, then fully cached. Time inside the step functions is each step
record's `duration_ms` (the executor's timer around the call). Probes (timers wrapped around
the runner's main calls, ~1 us each) break the machinery's time down; `--profile` runs
cProfile over the timed runs instead.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REFS = {"noop": f"{HERE / 'noop_pipeline.py'}:noop",
        "realistic": f"{HERE / 'realistic_pipeline.py'}:realistic",
        "fresh": f"{HERE / 'realistic_pipeline.py'}:realistic_fresh"}


class Probes:
    """Inclusive wall time and calls of a few runner functions, wrapped in place."""

    def __init__(self) -> None:
        self.totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        self.labels: list[tuple[str, int]] = []  # (label, depth) in display order

    def wrap(self, owner: Any, attr: str, label: str, depth: int = 0) -> None:
        original = getattr(owner, attr)
        totals = self.totals

        def probed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                entry = totals[label]
                entry[0] += time.perf_counter() - t0
                entry[1] += 1

        setattr(owner, attr, probed)
        self.labels.append((label, depth))

    def take(self) -> list[dict[str, Any]]:
        out = [{"probe": label, "depth": depth, "ms": round(self.totals[label][0] * 1000, 3),
                "calls": self.totals[label][1]} for label, depth in self.labels]
        self.totals.clear()
        return out


def install_probes() -> Probes:
    from steadyml.pipelines import executors, graphs, records, runner, steps, triggers, values
    from steadyml.store.artifacts import ArtifactStore
    from steadyml.tracking import datasets, tracker

    p = Probes()
    # depth 0 rows do not overlap each other; deeper rows are inside the row above them.
    p.wrap(graphs.Pipeline, "resolve_params", "resolve and check params")
    p.wrap(triggers.RunGuard, "__enter__", "run guard: take the target lock, record trigger")
    p.wrap(tracker.Tracker, "create_run", "create the tracked run")
    p.wrap(tracker, "capture_code", "capture code version (git)", 1)
    p.wrap(tracker, "capture_environment", "capture environment", 1)
    p.wrap(steps, "code_version", "hash step code (once per process)")
    p.wrap(runner.Pipelines, "_cached", "cache lookup (query + blobs exist)")
    p.wrap(ArtifactStore, "exists", "artifact exists checks", 1)
    p.wrap(runner._RunState, "value", "step inputs (in memory, or read back)")
    p.wrap(executors.LocalExecutor, "execute", "execute (step function + capture, seeding)")
    p.wrap(runner, "identify", "identify outputs (format, content fingerprint)")
    p.wrap(values, "_as_arrow", "DataFrame -> Arrow", 1)
    p.wrap(datasets, "normalise", "normalise Arrow types", 1)
    p.wrap(datasets, "fingerprint", "content fingerprint (sha256 of columns)", 1)
    p.wrap(records, "find_output", "the same table stored before? (query)")
    p.wrap(runner, "serialise", "encode outputs")
    p.wrap(values, "_parquet", "Parquet encode (snappy)", 1)
    p.wrap(ArtifactStore, "put_bytes", "artifact writes (outputs + logs; sha256 + file)")
    p.wrap(runner.Pipelines, "_record", "record step (one SQL transaction)")
    p.wrap(tracker.Tracker, "finish_run", "finish the tracked run")
    p.wrap(triggers.RunGuard, "__exit__", "run guard: stop heartbeat, release lock")
    p.wrap(runner.Pipelines, "get", "read the run back (result)")
    return p


def one_run(pipelines: Any, pipeline: Any, params: dict[str, Any], source: str,
            probes: Probes | None) -> dict[str, Any]:
    t0 = time.perf_counter()
    result = pipelines.run(pipeline, params, source=source)
    wall = time.perf_counter() - t0
    inside_ms = sum(s.duration_ms for s in result.steps)
    steps = [{"step": s.step, "status": s.status.value, "duration_ms": round(s.duration_ms, 3),
              "outputs": {k: {"format": v.format.value, "size": v.size}
                          for k, v in s.outputs.items()}} for s in result.steps]
    out = {"wall_ms": round(wall * 1000, 3), "inside_ms": round(inside_ms, 3),
           "overhead_ms": round(wall * 1000 - inside_ms, 3),
           "overhead_per_step_ms": round((wall * 1000 - inside_ms) / len(result.steps), 3),
           "executed": sum(s.status.value == "succeeded" for s in result.steps),
           "cached": sum(s.status.value == "cached" for s in result.steps),
           "steps": steps, "metrics": {k: v for s in result.steps
                                       for k, v in (s.metrics or {}).items()}}
    if probes is not None:
        out["probes"] = probes.take()
    return out


def profiled(fn: Callable[[], dict[str, Any]], top: int) -> dict[str, Any]:
    prof = cProfile.Profile()
    out = prof.runcall(fn)
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, name), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        short = file.split("site-packages/")[-1].split("/src/")[-1]
        rows.append({"function": f"{short}:{line}({name})", "calls": ncalls,
                     "self_ms": round(tottime * 1000, 3), "cum_ms": round(cumtime * 1000, 3)})
    out["profile_by_self"] = sorted(rows, key=lambda r: -r["self_ms"])[:top]
    out["profile_by_cum"] = sorted(rows, key=lambda r: -r["cum_ms"])[:top * 2]
    text = io.StringIO()
    pstats.Stats(prof, stream=text).sort_stats("cumulative").print_stats(40)
    out["profile_text"] = text.getvalue()
    return out


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pipeline", choices=sorted(REFS))
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", help="the training set (realistic)")
    ap.add_argument("--warmup-rows", type=int, default=20_000,
                    help="rows of the realistic warm-up run (0: no warm-up)")
    ap.add_argument("--profile", action="store_true", help="cProfile the timed runs")
    ap.add_argument("--no-probes", action="store_true")
    args = ap.parse_args()

    t_import = time.perf_counter()
    from steadyml.core.settings import Settings
    from steadyml.pipelines import Pipelines, load_pipeline
    from steadyml.platform import Platform

    pipeline, source = load_pipeline(REFS[args.pipeline])
    import_s = time.perf_counter() - t_import
    params: dict[str, Any] = {}
    warm: dict[str, Any] = {}
    if args.pipeline in ("realistic", "fresh"):
        params = {"path": str(Path(args.data).absolute())}
        warm = {**params, "rows": args.warmup_rows}

    t_warm = time.perf_counter()
    if args.pipeline == "noop" or args.warmup_rows:
        with tempfile.TemporaryDirectory(prefix="bench-pl-warm-") as home, \
                Platform(Settings(home=Path(home))) as platform:
            for _ in range(2):
                Pipelines(platform).run(pipeline, warm or params, source=source)
    warmup_s = time.perf_counter() - t_warm

    probes = None if (args.no_probes or args.profile) else install_probes()
    result: dict[str, Any] = {"pipeline": args.pipeline, "steps": len(pipeline.steps),
                              "import_and_load_s": round(import_s, 3),
                              "warmup_s": round(warmup_s, 3), "params": params,
                              "probes_installed": probes is not None,
                              "profiled": args.profile}
    with tempfile.TemporaryDirectory(prefix="bench-pl-") as home:
        with Platform(Settings(home=Path(home))) as platform:
            pipelines = Pipelines(platform)
            for phase in ("cold", "cached"):
                def run() -> dict[str, Any]:
                    return one_run(pipelines, pipeline, params, source, probes)

                result[phase] = profiled(run, 25) if args.profile else run()
        result["artifact_bytes"] = dir_bytes(Path(home) / "artifacts")
        result["db_bytes"] = (Path(home) / "steady.db").stat().st_size
    args.out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: result[k] for k in ("pipeline", "warmup_s")}
                     | {p: {k: result[p][k] for k in ("wall_ms", "inside_ms",
                                                       "overhead_per_step_ms")}
                        for p in ("cold", "cached")}))


if __name__ == "__main__":
    main()
