#!/usr/bin/env python3
"""steadyml vs MLflow tracking benchmark, side by side in one run on this machine.

    python benchmarks/bench_tracking.py [--runs 5000] [--batches 100] [--repeat 5]
                                        [--out benchmarks/results/tracking.json]

Run it with the project's interpreter (`.venv/bin/python`): the steadyml side runs with the same
interpreter (`sys.executable`). The MLflow side runs the real `mlflow` client in its own venv,
benchmarks/.work/mlflow-venv, created on first use (`pip install mlflow==<--mlflow-version>`).

Like for like: steadyml's embedded SQLite store against MLflow's `sqlite:///` tracking URI (no
server on either side), one sequential client, each side's ordinary public API. Phases, each in
a fresh process per side, the two sides one after the other (never at once):

1. batched_logging: one run, --batches calls each logging 1,000 metrics.
2. run_creation: --runs runs with 5 params and 5 metrics each (the fluent / context-manager API).
3. search: filtered, ordered search over those runs, limit 1,000; one untimed call, then the
   median of --repeat calls. Both sides logged identical values (fixed seed), so both must
   return the same runs in the same order; the benchmark checks that.

Every phase process runs under an exclusive flock on /tmp/bench.lock (other benchmarks on this
shared machine take it too); --no-lock skips that. Writes the JSON figures to --out and a
markdown table next to it (same name, .md), and prints the table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / ".work"
MLFLOW_VENV = WORK / "mlflow-venv"
LOCK_FILE = "/tmp/bench.lock"
MLFLOW_PIN = "3.17.2"  # what `pip install mlflow` gave on 2026-11-22, as in the reference figures
PHASES = ("batched_logging", "run_creation", "search")
GOAL_RATIO = 10.0
GOAL_SEARCH_MS = 50.0

sys.path.insert(0, str(HERE))
import _common as c  # noqa: E402

MLFLOW_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def log(msg: str) -> None:
    print(f"[{dt.datetime.now().strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- the MLflow venv ---------------------------------------------------------------------------

def mlflow_python() -> Path:
    return MLFLOW_VENV / "bin" / "python"


def installed_mlflow() -> str | None:
    py = mlflow_python()
    if not py.exists():
        return None
    done = subprocess.run([str(py), "-c", "import importlib.metadata as m;"
                           "print(m.version('mlflow'))"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_mlflow_venv(version: str) -> str:
    have = installed_mlflow()
    if have == version:
        return have
    if not mlflow_python().exists():
        log(f"creating {MLFLOW_VENV}")
        WORK.mkdir(parents=True, exist_ok=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(MLFLOW_VENV)], check=True)
    log(f"pip install mlflow=={version} into {MLFLOW_VENV} (have: {have})")
    with open(WORK / "mlflow-pip.log", "w") as out:
        subprocess.run([str(mlflow_python()), "-m", "pip", "install", "--disable-pip-version-check",
                        f"mlflow=={version}"], check=True, stdout=out, stderr=subprocess.STDOUT,
                       env={**os.environ, **MLFLOW_ENV})
    have = installed_mlflow()
    if have != version:
        raise SystemExit(f"mlflow {version} did not install (have {have}); see {out.name}")
    return have


# -- machine facts -----------------------------------------------------------------------------

def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_info() -> dict[str, Any]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in _read("/proc/cpuinfo").splitlines()
                if ln.startswith("model name")), platform.processor())
    mem_kb = next((int(ln.split()[1]) for ln in _read("/proc/meminfo").splitlines()
                   if ln.startswith("MemTotal:")), 0)
    os_name = next((ln.split("=", 1)[1].strip('"') for ln in _read("/etc/os-release").splitlines()
                    if ln.startswith("PRETTY_NAME=")), platform.system())
    fs = "?"
    best = ""
    for ln in _read("/proc/mounts").splitlines():
        parts = ln.split()
        if len(parts) > 2 and str(WORK).startswith(parts[1]) and len(parts[1]) > len(best):
            best, fs = parts[1], parts[2]
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "os": os_name,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "scratch_filesystem": f"{fs} ({best})",
        "hostname": platform.node(),
    }


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str | None:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else None
    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", "src")
    return {"commit": commit or "none (no commit yet)",
            "src_dirty": bool(dirty) if dirty is not None else None}


def cpu_times() -> list[int]:
    first = _read("/proc/stat").splitlines()[0].split()
    return [int(x) for x in first[1:]]


def cpu_share(before: list[int], after: list[int]) -> dict[str, float]:
    """Machine-wide CPU time shares over a phase (other agents' work shows up as busy/steal)."""
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(d) or 1
    names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
    share = {n: round(100.0 * v / total, 1) for n, v in zip(names, d, strict=False)}
    return {k: share.get(k, 0.0) for k in ("user", "system", "idle", "iowait", "steal")}


# -- running one phase of one side -------------------------------------------------------------

class Lock:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.fd: int | None = None
        self.waited_s = 0.0

    def __enter__(self) -> Lock:
        if self.enabled:
            t = time.perf_counter()
            try:
                self.fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o666)
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            except OSError as exc:  # no lock to be had: run without it
                log(f"no lock on {LOCK_FILE} ({exc}); running unlocked")
                self.fd = None
            self.waited_s = time.perf_counter() - t
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def run_phase(side: str, phase: str, data: Path, args: argparse.Namespace,
              logs: Path) -> dict[str, Any]:
    if side == "steadyml":
        python, script = sys.executable, HERE / "_steadyml_side.py"
        env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    else:
        python, script = str(mlflow_python()), HERE / "_mlflow_side.py"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("MLFLOW_") and k != "VIRTUAL_ENV"}
        env.update(MLFLOW_ENV)
    result_file = logs / f"{side}-{phase}.json"
    result_file.unlink(missing_ok=True)
    cmd = [python, str(script), phase, "--data", str(data), "--result", str(result_file),
           "--runs", str(args.runs), "--batches", str(args.batches),
           "--batch-size", str(args.batch_size), "--repeat", str(args.repeat)]
    with Lock(not args.no_lock) as lock:
        load_before = os.getloadavg()
        cpu_before = cpu_times()
        t0 = time.perf_counter()
        # cwd = the repository: both clients capture the git state of where a user would run
        # (MLflow from the script's directory, steadyml from the working directory).
        with open(logs / f"{side}-{phase}.stdout", "w") as out, \
                open(logs / f"{side}-{phase}.stderr", "w") as err:
            done = subprocess.run(cmd, cwd=REPO, env=env, stdout=out, stderr=err)
        process_s = time.perf_counter() - t0
        cpu_after = cpu_times()
        load_after = os.getloadavg()
    if done.returncode != 0 or not result_file.exists():
        tail = (logs / f"{side}-{phase}.stderr").read_text()[-3000:]
        raise SystemExit(f"{side} {phase} failed (exit {done.returncode}):\n{tail}")
    result = json.loads(result_file.read_text())
    result["process_s"] = round(process_s, 2)
    result["lock_wait_s"] = round(lock.waited_s, 2)
    result["loadavg_1m_before_after"] = [round(load_before[0], 2), round(load_after[0], 2)]
    result["machine_cpu_pct"] = cpu_share(cpu_before, cpu_after)
    return result


# -- the report --------------------------------------------------------------------------------

def ratio(a: float, b: float) -> float | None:
    return round(a / b, 1) if a and b else None


def summarize(results: dict[str, dict[str, dict[str, Any]]], args: argparse.Namespace
              ) -> dict[str, Any]:
    out: dict[str, Any] = {}
    bl = results.get("batched_logging", {})
    if "steadyml" in bl and "mlflow" in bl:
        r = ratio(bl["steadyml"]["metrics_per_s"], bl["mlflow"]["metrics_per_s"])
        out["batched_logging"] = {"throughput_ratio": r, "goal": f">= {GOAL_RATIO:g}x",
                                  "met": r is not None and r >= GOAL_RATIO}
    rc = results.get("run_creation", {})
    if "steadyml" in rc and "mlflow" in rc:
        r = ratio(rc["steadyml"]["runs_per_s"], rc["mlflow"]["runs_per_s"])
        out["run_creation"] = {"throughput_ratio": r, "goal": f">= {GOAL_RATIO:g}x",
                               "met": r is not None and r >= GOAL_RATIO}
    se = results.get("search", {})
    if se:
        expected = c.expected_search(args.runs)
        matching = sum(1 for _, p, m in c.run_rows(args.runs)
                       if m["m0"] > 0.5 and p["p0"] == "rf")
        entry: dict[str, Any] = {"matching_runs": matching, "expected_count": len(expected),
                                 "expected_digest": c.names_digest(expected)}
        for side, res in se.items():
            names = res.pop("names")
            entry[f"{side}_same_as_expected"] = names == expected
        if "steadyml" in se and "mlflow" in se:
            entry["speedup"] = ratio(se["mlflow"]["median_ms"], se["steadyml"]["median_ms"])
        if "steadyml" in se:
            entry["goal"] = f"< {GOAL_SEARCH_MS:g} ms over {args.runs} runs"
            entry["met"] = se["steadyml"]["median_ms"] < GOAL_SEARCH_MS
        out["search"] = entry
    return out


def fmt_int(x: float) -> str:
    return f"{x:,.0f}"


def markdown(report: dict[str, Any]) -> str:
    m, v, res, s = report["machine"], report["versions"], report["phases"], report["summary"]
    cfg = report["config"]
    date = report["date"][:10]
    mlf = f"MLflow {v.get('mlflow', '?')} (`sqlite:///`)"
    lines = [
        f"Tracking, steadyml vs MLflow, measured {date} on {m['cpus']} vCPU ({m['cpu']}), "
        f"{m['memory_gib']:g} GiB RAM, {m['os']}, Python {m['python']}, scratch on "
        f"{m['scratch_filesystem'].split()[0]}; one sequential client, no server on either side.",
        "",
        f"| measurement | steadyml (embedded SQLite) | {mlf} | steadyml vs MLflow | goal |",
        "|---|---|---|---|---|",
    ]

    def ok(key: str) -> str:
        met = s.get(key, {}).get("met")
        return "" if met is None else (" (met)" if met else " (**missed**)")

    bl = res.get("batched_logging", {})
    if bl:
        cells = []
        for side in ("steadyml", "mlflow"):
            r = bl.get(side)
            cells.append("–" if r is None else
                         f"{fmt_int(r['metrics_per_s'])} metrics/s (per batch p50 "
                         f"{r['per_batch']['p50_ms']:.1f} ms, p95 {r['per_batch']['p95_ms']:.1f} ms)")
        rr = s.get("batched_logging", {}).get("throughput_ratio")
        lines.append(f"| batched metric logging, {cfg['batches']} × {cfg['batch_size']:,} metrics "
                     f"| {cells[0]} | {cells[1]} | {rr if rr is not None else '–'}× "
                     f"| ≥ {GOAL_RATIO:g}×{ok('batched_logging')} |")
    rc = res.get("run_creation", {})
    if rc:
        cells = []
        for side in ("steadyml", "mlflow"):
            r = rc.get(side)
            cells.append("–" if r is None else
                         f"{r['runs_per_s']:,.1f} runs/s (per run p50 {r['per_run']['p50_ms']:.2f} ms, "
                         f"p95 {r['per_run']['p95_ms']:.2f} ms; wall {r['wall_s']:,.1f} s)")
        rr = s.get("run_creation", {}).get("throughput_ratio")
        lines.append(f"| {cfg['runs']:,} runs × (5 params + 5 metrics) | {cells[0]} | {cells[1]} "
                     f"| {rr if rr is not None else '–'}× | ≥ {GOAL_RATIO:g}×{ok('run_creation')} |")
    se = res.get("search", {})
    if se:
        cells = []
        for side in ("steadyml", "mlflow"):
            r = se.get(side)
            cells.append("–" if r is None else
                         f"median {r['median_ms']:.1f} ms, {r['count']:,} runs returned "
                         f"(first call {r['first_ms']:.1f} ms)")
        sp = s.get("search", {}).get("speedup")
        lines.append(f"| search over {cfg['runs']:,} runs: `{c.SEARCH_FILTER}`, order by "
                     f"`{', '.join(c.SEARCH_ORDER_BY)}`, limit {c.SEARCH_LIMIT:,} "
                     f"| {cells[0]} | {cells[1]} | {sp if sp is not None else '–'}× faster "
                     f"| < {GOAL_SEARCH_MS:g} ms{ok('search')} |")
    lines += [
        "",
        f"steadyml {v.get('steadyml', '?')} at commit {report['git']['commit']}"
        f"{' (src/ had uncommitted changes)' if report['git'].get('src_dirty') else ''}; "
        f"mlflow {v.get('mlflow', '?')}, SQLAlchemy {v.get('sqlalchemy_mlflow_venv', '?')} "
        f"(MLflow venv) / {v.get('sqlalchemy_steadyml', '?')} (steadyml), SQLite "
        f"{v.get('sqlite', '?')}. Command: `{report['command']}`. "
        f"Figures: `{report['results_file']}`.",
    ]
    if "search" in s:
        se_s = s["search"]
        same = [side for side in ("steadyml", "mlflow") if se_s.get(f"{side}_same_as_expected")]
        lines.append(f"Search check: {se_s['matching_runs']:,} of {cfg['runs']:,} runs match the "
                     f"filter; the first {se_s['expected_count']:,} in order were returned "
                     f"identically by {' and '.join(same) if same else 'neither side'}.")
    rc = res.get("run_creation", {})
    if "steadyml" in rc and "mlflow" in rc:
        cap = rc["steadyml"].get("captured", {})
        lines.append(
            "Recorded automatically per run: MLflow tags "
            f"{', '.join(t.removeprefix('mlflow.') for t in rc['mlflow'].get('system_tags_per_run', []))}"
            f"; steadyml git commit {'yes' if cap.get('git_commit') else 'no'} (dirty "
            f"{cap.get('git_dirty')}), environment {'yes' if cap.get('environment_hash') else 'no'}"
            ", source. SQLite: MLflow journal_mode="
            f"{rc['mlflow']['pragmas'].get('journal_mode')}, synchronous="
            f"{rc['mlflow']['pragmas'].get('synchronous')}; steadyml journal_mode="
            f"{rc['steadyml']['pragmas'].get('journal_mode')}, synchronous="
            f"{rc['steadyml']['pragmas'].get('synchronous')} (2 = FULL, 1 = NORMAL).")
    if report.get("git_at_end"):
        lines.append(f"(The repository changed during the run: at the end "
                     f"{report['git_at_end']['commit']}.)")
    return "\n".join(lines) + "\n"


NOTES = [
    "No server on either side: MLflow's client writes through its own SqlAlchemyStore to "
    "sqlite:///<data>/mlflow.db, steadyml through its embedded store to <data>/steady/steady.db.",
    "Durability settings are each side's defaults and differ: MLflow's SQLite uses the rollback "
    "journal (journal_mode=delete) with synchronous=FULL; steadyml uses WAL with "
    "synchronous=NORMAL (a commit survives a process crash; a power loss can drop the last "
    "commits but never corrupts). See each phase's 'pragmas'.",
    "Run creation uses each side's fluent API as a user writes it: mlflow.start_run records "
    "source/user/git tags (its git lookup is cached per process); steadyml.start_run captures "
    "the code version (git) and the Python environment. Each timed run includes start, 5 params, "
    "5 metrics and end (FINISHED).",
    "Batched logging: the metric objects / tuples are built before timing; the timed call is "
    "MlflowClient.log_batch vs run.log_batch with (key, value, step, timestamp) for 1,000 keys.",
    "Search: both sides hold identical data (fixed seed) and must return the same 1,000 runs in "
    "the same order; median of --repeat calls after one untimed call in a fresh process.",
    "Each side and phase ran in a fresh process, sides one after the other, under flock "
    "/tmp/bench.lock; machine_cpu_pct shows what the whole (shared) machine did meanwhile.",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5000, help="runs in the run-creation phase")
    ap.add_argument("--batches", type=int, default=100, help="log_batch calls of 1,000 metrics")
    ap.add_argument("--batch-size", type=int, default=1000, help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=5, help="timed search calls (median)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "tracking.json")
    ap.add_argument("--sides", default="steadyml,mlflow", help="comma list (default both)")
    ap.add_argument("--phases", default=",".join(PHASES),
                    help="comma list; search needs run_creation in the same invocation")
    ap.add_argument("--mlflow-version", default=MLFLOW_PIN)
    ap.add_argument("--no-lock", action="store_true", help=f"do not take {LOCK_FILE}")
    ap.add_argument("--keep-data", action="store_true", help="keep the scratch databases")
    args = ap.parse_args()
    sides = [x for x in args.sides.split(",") if x]
    phases = [p for p in PHASES if p in args.phases.split(",")]
    if "search" in phases and "run_creation" not in phases:
        ap.error("search runs over the runs that run_creation made: give both")

    versions: dict[str, Any] = {}
    if "mlflow" in sides:
        versions["mlflow"] = ensure_mlflow_venv(args.mlflow_version)
    if "steadyml" in sides:
        done = subprocess.run([sys.executable, "-c", "import importlib.metadata as m, sqlite3;"
                               "print(m.version('steadyml'))"], capture_output=True, text=True)
        versions["steadyml"] = done.stdout.strip() or "?"

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    scratch = WORK / f"tracking-{stamp}"
    logs = scratch / "logs"
    logs.mkdir(parents=True)
    log(f"scratch {scratch}")
    started = dt.datetime.now(dt.UTC)
    git_at_start = git_info()
    cpu0 = cpu_times()
    results: dict[str, dict[str, Any]] = {}
    for phase in phases:
        results[phase] = {}
        for side in sides:
            data = scratch / side / ("batch" if phase == "batched_logging" else "runs")
            log(f"{side}: {phase} ...")
            r = run_phase(side, phase, data, args, logs)
            results[phase][side] = r
            brief = {k: r[k] for k in ("metrics_per_s", "runs_per_s", "median_ms", "count",
                                       "wall_s") if k in r}
            log(f"{side}: {phase} done in {r['process_s']} s: {brief}")
    finished = dt.datetime.now(dt.UTC)

    for phase in results.values():
        for side, r in phase.items():
            if "sqlalchemy_version" in r:
                key = "sqlalchemy_mlflow_venv" if side == "mlflow" else "sqlalchemy_steadyml"
                versions[key] = r["sqlalchemy_version"]
            versions.setdefault("sqlite", r.get("side_sqlite"))
            versions.setdefault("python_" + side, r.get("side_python"))

    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    try:
        shown_out = str(out.resolve().relative_to(REPO))
    except ValueError:
        shown_out = str(out)
    report = {
        "benchmark": "tracking: steadyml embedded SQLite vs MLflow sqlite:///",
        "date": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "command": " ".join(["python benchmarks/bench_tracking.py", *sys.argv[1:]]),
        "results_file": shown_out,
        "machine": machine_info(),
        "machine_cpu_pct_whole_benchmark": cpu_share(cpu0, cpu_times()),
        "git": git_at_start,
        "versions": versions,
        "config": {"runs": args.runs, "batches": args.batches, "batch_size": args.batch_size,
                   "repeat": args.repeat, "seed": c.SEED, "filter": c.SEARCH_FILTER,
                   "order_by": list(c.SEARCH_ORDER_BY), "limit": c.SEARCH_LIMIT,
                   "lock": None if args.no_lock else LOCK_FILE, "sides": sides,
                   "phases": phases},
        "phases": results,
        "notes": NOTES,
    }
    git_at_end = git_info()
    if git_at_end != git_at_start:
        report["git_at_end"] = git_at_end  # someone committed or edited src/ meanwhile
    report["summary"] = summarize(results, args)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    md = markdown(report)
    out.with_suffix(".md").write_text(md)
    print(md)
    log(f"wrote {out} and {out.with_suffix('.md')}")
    if not args.keep_data:
        shutil.rmtree(scratch / "steadyml", ignore_errors=True)
        shutil.rmtree(scratch / "mlflow", ignore_errors=True)


if __name__ == "__main__":
    main()
