#!/usr/bin/env python
"""Pipeline benchmark: the overhead of steadyml's pipeline machinery (issue 5, Performance).

Measures, in a temp STEADY_HOME (SQLite + local artifacts):
  - noop: a chain of 10 no-op steps, cold (every step executes) and fully cached (the same run
    again), with `Pipelines(platform).run(...)`; overhead per step = (pipeline wall time - time
    inside the step functions) / 10;
  - realistic: load a 1M-row x 20-feature training set, split, train a
    HistGradientBoostingClassifier (max_iter=50), evaluate AUC; cold and fully cached;
  - fresh: the realistic pipeline with its load step `cache=False` (its rerun loads again);
  - encode: what storing one 1M-row DataFrame output costs, by stage, and other Parquet options;
  - cli: the same two pipelines end to end, `steady pipeline run FILE:PIPE` as a subprocess
    (the wall time a user sees: interpreter start, imports, loading the file);
  - profile: cProfile of a cold and a cached noop run;
  - prefect, dagster: the 10-step no-op chain in each, in its own venv (benchmarks/.venvs).

Each measurement is its own process, holding /tmp/bench.lock, started once the rest of the
machine is quiet (as bench_drift.py); the CPU others used while it ran is recorded and a run
during which they used > 0.5 cores is repeated (up to --busy-retries).

  .venv/bin/python benchmarks/bench_pipelines.py                    # everything (~10 min when quiet)
  .venv/bin/python benchmarks/bench_pipelines.py --parts noop,profile --repeat 3 \
      --out benchmarks/.data/pipelines/quick.json                    # a quick trial
  .venv/bin/python benchmarks/bench_pipelines.py --report-only      # rewrite pipelines.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
PIPELINES_DIR = BENCH_DIR / "pipelines"
sys.path.insert(0, str(PIPELINES_DIR))
sys.path.insert(0, str(BENCH_DIR))

import peer_venvs  # noqa: E402
import report  # noqa: E402
import training_set  # noqa: E402

import bench_drift as host  # noqa: E402  (machine, lock, quiet-wait helpers)

DEFAULT_OUT = BENCH_DIR / "results" / "pipelines.json"
RUNS_DIR = BENCH_DIR / ".data" / "pipelines" / "runs"
PARTS = ("noop", "realistic", "fresh", "encode", "cli", "profile", "prefect", "dagster")
QUIET_CORES = 0.3
BUSY_CORES = 0.5
QUIET_ENV = {"DO_NOT_TRACK": "1", "DAGSTER_DISABLE_TELEMETRY": "1",
             "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONHASHSEED": "0"}
log = host.log


def steady_cli() -> Path:
    return host.main_python().parent / "steady"


def child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(label: str, cmd: list[str], *, env: dict[str, str] | None = None, timeout: int,
            use_lock: bool, quiet_wait_s: float, result_file: Path | None = None,
            retries: int = 0) -> dict[str, Any]:
    """Run `cmd` under the lock on a quiet machine; repeat it when others were busy."""
    for attempt in range(retries + 1):
        rec = _measure_once(label, cmd, env=env, timeout=timeout, use_lock=use_lock,
                            quiet_wait_s=quiet_wait_s, result_file=result_file)
        rec["attempt"] = attempt
        busy = (rec.get("others_cores") or 0.0) > BUSY_CORES
        if not busy or "error" in rec or attempt == retries:
            return rec
        log(f"  {label}: others used {rec['others_cores']} cores, measuring again")
    raise AssertionError("unreachable")


def _measure_once(label: str, cmd: list[str], *, env: dict[str, str] | None, timeout: int,
                  use_lock: bool, quiet_wait_s: float,
                  result_file: Path | None) -> dict[str, Any]:
    rec: dict[str, Any] = {"label": label}
    if result_file is not None:
        result_file.unlink(missing_ok=True)
    full_env = {**os.environ, **QUIET_ENV, **(env or {})}
    with host.bench_lock(use_lock) as waited:
        rec["lock_wait_s"] = waited
        if quiet_wait_s > 0:
            rec.update(host.wait_for_quiet(quiet_wait_s, QUIET_CORES))
        rec["loadavg_before"] = host.loadavg()
        busy0, cpu0 = host.cpu_busy_s(), child_cpu_s()
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=REPO, env=full_env, capture_output=True, text=True,
                                  timeout=timeout)
            rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired:
            rc, stdout, stderr = "timeout", "", ""
        wall = time.perf_counter() - t0
        busy, cpu = host.cpu_busy_s() - busy0, child_cpu_s() - cpu0
    rec.update({"process_wall_s": round(wall, 3), "process_cpu_s": round(cpu, 3),
                "others_cores": round(max(busy - cpu, 0.0) / wall, 2) if wall > 0 else None,
                "loadavg_after": host.loadavg(), "returncode": rc})
    if rc != 0:
        rec["error"] = "\n".join((stderr or stdout or "").strip().splitlines()[-15:])
    elif result_file is not None:
        rec["result"] = json.loads(result_file.read_text())
    else:
        rec["stdout_head"] = "\n".join(stdout.splitlines()[:3])
    return rec


def run_steadyml(pipeline: str, args: argparse.Namespace, data: Path | None,
                 doc: dict[str, Any], save) -> None:
    part = doc["parts"].setdefault(pipeline, {"runs": []})
    reps = {"noop": args.repeat, "realistic": args.realistic_repeat,
            "fresh": args.fresh_repeat}[pipeline]
    for rep in range(reps):
        out = RUNS_DIR / f"steadyml-{pipeline}-{rep}.json"
        cmd = [str(host.main_python()), str(PIPELINES_DIR / "run_steadyml.py"), pipeline,
               str(out)]
        if data is not None:
            cmd += ["--data", str(data)]
        log(f"steadyml {pipeline} {rep + 1}/{reps}")
        rec = measure(f"steadyml-{pipeline}", cmd, timeout=args.timeout,
                      use_lock=not args.no_lock, quiet_wait_s=args.quiet_wait,
                      result_file=out, retries=args.busy_retries)
        part["runs"].append(rec)
        show(rec)
        save()


def run_profile(args: argparse.Namespace, doc: dict[str, Any], save) -> None:
    out = RUNS_DIR / "steadyml-noop-profile.json"
    cmd = [str(host.main_python()), str(PIPELINES_DIR / "run_steadyml.py"), "noop", str(out),
           "--profile"]
    log("steadyml noop under cProfile")
    rec = measure("steadyml-noop-profile", cmd, timeout=args.timeout,
                  use_lock=not args.no_lock, quiet_wait_s=args.quiet_wait, result_file=out)
    doc["parts"]["profile"] = {"runs": [rec]}
    show(rec)
    save()


def run_encode(args: argparse.Namespace, data: Path, doc: dict[str, Any], save) -> None:
    out = RUNS_DIR / "encode.json"
    cmd = [str(host.main_python()), str(PIPELINES_DIR / "run_encode.py"), str(data), str(out),
           "3"]
    log("encoding one 1M-row output, by stage and with other Parquet options")
    rec = measure("encode", cmd, timeout=args.timeout, use_lock=not args.no_lock,
                  quiet_wait_s=args.quiet_wait, result_file=out, retries=args.busy_retries)
    doc["parts"]["encode"] = {"runs": [rec]}
    log(f"  process {rec['process_wall_s']} s, others {rec['others_cores']} cores")
    save()


def run_cli(args: argparse.Namespace, data: Path, doc: dict[str, Any], save) -> None:
    part = doc["parts"].setdefault("cli", {"runs": []})
    refs = {"noop": (f"{PIPELINES_DIR / 'noop_pipeline.py'}:noop", [], args.repeat),
            "realistic": (f"{PIPELINES_DIR / 'realistic_pipeline.py'}:realistic",
                          ["-p", f"path={data}"], args.cli_realistic_repeat)}
    for pipeline, (ref, extra, reps) in refs.items():
        if pipeline not in args.cli_pipelines:
            continue
        for rep in range(reps):
            home = Path(tempfile.mkdtemp(prefix="bench-pl-cli-"))
            try:
                for phase in ("cold", "cached"):
                    log(f"cli {pipeline} {phase} {rep + 1}/{reps}")
                    cmd = [str(steady_cli()), "pipeline", "run", ref, *extra]
                    # a busy re-measure of the cold run would be a cached one: no retries
                    rec = measure(f"cli-{pipeline}-{phase}", cmd,
                                  env={"STEADY_HOME": str(home)}, timeout=args.timeout,
                                  use_lock=not args.no_lock, quiet_wait_s=args.quiet_wait,
                                  retries=0 if phase == "cold" else args.busy_retries)
                    rec.update({"pipeline": pipeline, "phase": phase, "repeat": rep})
                    part["runs"].append(rec)
                    show(rec)
                    save()
                if pipeline == "noop":
                    # the floor of any command that opens the platform: list the runs
                    rec = measure("cli-floor", [str(steady_cli()), "pipeline", "list"],
                                  env={"STEADY_HOME": str(home)}, timeout=args.timeout,
                                  use_lock=not args.no_lock, quiet_wait_s=args.quiet_wait,
                                  retries=args.busy_retries)
                    rec.update({"pipeline": "floor", "phase": "pipeline list", "repeat": rep})
                    part["runs"].append(rec)
                    show(rec)
                    save()
            finally:
                shutil.rmtree(home, ignore_errors=True)


def run_peer(tool: str, args: argparse.Namespace, doc: dict[str, Any], save) -> None:
    out = RUNS_DIR / f"{tool}.json"
    try:
        python = (peer_venvs.python_of(tool) if args.skip_install
                  else peer_venvs.ensure(tool, log=log))
    except (subprocess.CalledProcessError, RuntimeError, OSError) as exc:
        doc["parts"][tool] = {"runs": [], "unavailable": f"venv: {exc}"}
        log(f"{tool}: cannot install ({exc})")
        save()
        return
    doc["versions"][tool] = peer_venvs.versions(python, peer_venvs.REPORTED[tool])
    log(f"{tool} noop x{args.repeat}")
    rec = measure(tool, [str(python), str(PIPELINES_DIR / f"run_{tool}.py"), str(out),
                         str(args.repeat)], timeout=args.timeout, use_lock=not args.no_lock,
                  quiet_wait_s=args.quiet_wait, result_file=out, retries=args.busy_retries)
    doc["parts"][tool] = {"runs": [rec]}
    show(rec)
    save()


def show(rec: dict[str, Any]) -> None:
    if "error" in rec:
        log(f"  FAILED ({rec['returncode']}): {rec['error'].splitlines()[-1:]}")
        return
    res = rec.get("result") or {}
    bits = [f"process {rec['process_wall_s']} s", f"others {rec['others_cores']} cores"]
    for phase in ("cold", "cached"):
        if phase in res:
            bits.append(f"{phase} {res[phase]['wall_ms']:.1f} ms "
                        f"({res[phase]['overhead_per_step_ms']:.2f} ms/step)")
    log("  " + ", ".join(bits))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default=",".join(PARTS), help=f"of {', '.join(PARTS)}")
    ap.add_argument("--repeat", type=int, default=5, help="noop repeats (steadyml, CLI, peers)")
    ap.add_argument("--realistic-repeat", type=int, default=3)
    ap.add_argument("--fresh-repeat", type=int, default=1)
    ap.add_argument("--cli-realistic-repeat", type=int, default=2)
    ap.add_argument("--cli-pipelines", default="noop,realistic")
    ap.add_argument("--rows", type=int, default=training_set.ROWS)
    ap.add_argument("--timeout", type=int, default=900, help="seconds per process")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--skip-install", action="store_true", help="use the peer venvs as they are")
    ap.add_argument("--report-only", action="store_true", help="rebuild the .md from the .json")
    ap.add_argument("--update", action="store_true",
                    help="measure only --parts and keep the other parts of --out")
    ap.add_argument("--no-lock", action="store_true")
    ap.add_argument("--quiet-wait", type=float, default=30.0,
                    help=f"before each process, wait up to this long for the rest of the "
                         f"machine to use < {QUIET_CORES} cores (0: don't)")
    ap.add_argument("--busy-retries", type=int, default=1,
                    help=f"measure again when the rest of the machine used > {BUSY_CORES} cores")
    args = ap.parse_args()
    md_path = args.out.with_suffix(".md")
    if args.report_only:
        md_path.write_text(report.render(json.loads(args.out.read_text())))
        log(f"wrote {md_path}")
        return
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        ap.error(f"unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}")
    args.cli_pipelines = args.cli_pipelines.split(",")
    RUNS_DIR.mkdir(parents=True, exist_ok=True)
    data = None
    if {"realistic", "fresh", "encode", "cli"} & set(parts):
        data = training_set.ensure(args.rows, log=log)

    doc: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python benchmarks/bench_pipelines.py", *sys.argv[1:]]),
        "machine": host.machine(), "git_commit": host.git_commit(),
        "settings": {"repeat": args.repeat, "realistic_repeat": args.realistic_repeat,
                     "cli_realistic_repeat": args.cli_realistic_repeat, "rows": args.rows,
                     "features": training_set.FEATURES, "data_seed": training_set.SEED,
                     "lock": not args.no_lock, "quiet_wait_s": args.quiet_wait,
                     "quiet_cores": QUIET_CORES, "busy_cores": BUSY_CORES,
                     "busy_retries": args.busy_retries, "parts": parts},
        "versions": {"main": peer_venvs.versions(
            host.main_python(), ["steadyml", "sqlalchemy", "pyarrow", "pandas", "numpy",
                                 "scikit-learn"])},
        "pins": {k: v for k, v in peer_venvs.SPECS.items() if k in parts},
        "parts": {},
    }
    if args.update and args.out.exists():
        earlier = json.loads(args.out.read_text())
        earlier.setdefault("updates", []).append(
            {k: doc[k] for k in ("started", "command", "git_commit", "settings")})
        for part in parts:
            earlier["parts"].pop(part, None)
        earlier["versions"].update(doc["versions"])
        earlier["pins"].update(doc["pins"])
        doc = earlier
    if data is not None:
        doc["data"] = json.loads(data.with_suffix(".json").read_text())

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        try:
            md_path.write_text(report.render(doc))
        except Exception as exc:  # the figures are in the JSON: rebuild with --report-only
            log(f"cannot render {md_path}: {type(exc).__name__}: {exc}")

    for part in parts:
        if part in ("noop", "realistic", "fresh"):
            run_steadyml(part, args, None if part == "noop" else data, doc, save)
        elif part == "encode":
            run_encode(args, data, doc, save)
        elif part == "cli":
            run_cli(args, data, doc, save)
        elif part == "profile":
            run_profile(args, doc, save)
        else:
            run_peer(part, args, doc, save)
    doc["updated" if args.update else "finished"] = dt.datetime.now().isoformat(
        timespec="seconds")
    save()
    log(f"wrote {args.out} and {md_path}")


if __name__ == "__main__":
    main()
