#!/usr/bin/env python
"""Drift benchmark: steadyml's `compute_drift` against Evidently, NannyML, alibi-detect and two
numpy/scipy baselines, side by side, in one run (the setup of shared/anchors, Part 1).

Data (benchmarks/drift/gen_data.py, fixed seeds, cached under benchmarks/.data/): 20 numeric +
5 categorical columns, reference and current sets of 100k and 1M rows each; ground truth
num_00, num_04, num_08, num_12, num_16 (mean shifts of 0.15..1.0 reference std), cat_1, cat_3.

Every measurement is its own process under `/usr/bin/time -v` (peak RSS = its "Maximum
resident set size"), holding /tmp/bench.lock (`fcntl.flock`, as `flock /tmp/bench.lock`),
with a timeout. The runner (benchmarks/drift/run_<tool>.py) loads both Parquet files with
pandas (not timed) and writes its in-process `compute_s` and flags as JSON. The baselines and
steadyml run in the project venv and are repeated (`--repeat`, default 3, median reported);
each peer runs once in its own venv under benchmarks/.venvs/<tool> (made here with
`python3 -m venv` + pip unless `--skip-install`; see benchmarks/drift/venvs.py for the pins).

  .venv/bin/python benchmarks/bench_drift.py                       # everything, both sizes
  .venv/bin/python benchmarks/bench_drift.py --sizes 100000 --tools steadyml,baseline_vec \
      --out benchmarks/.data/quick.json                             # a quick trial
  .venv/bin/python benchmarks/bench_drift.py --report-only         # rewrite drift.md

tools: steadyml (pandas DataFrames in, like the peers), steadyml_arrow (Arrow tables in) and
steadyml_warm (the second call in one process; both diagnostic rows), baseline_vec,
baseline_loop, alibi, nannyml, evidently.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
DRIFT_DIR = BENCH_DIR / "drift"
sys.path.insert(0, str(DRIFT_DIR))

import gen_data  # noqa: E402
import venvs  # noqa: E402

LOCK = "/tmp/bench.lock"
QUIET_CORES = 0.3
BUSY_CORES = 0.5  # a run during which the rest of the machine used more than this is repeated
DEFAULT_OUT = BENCH_DIR / "results" / "drift.json"
RUNS_DIR = BENCH_DIR / ".data" / "runs"

# name -> (environment: "main" or a venv of venvs.SPECS, runner script, extra args, repeated)
TOOLS: dict[str, tuple[str, str, list[str], bool]] = {
    "steadyml": ("main", "run_steadyml.py", ["--variant", "pandas"], True),
    "steadyml_arrow": ("main", "run_steadyml.py", ["--variant", "arrow"], True),
    "steadyml_warm": ("main", "run_steadyml.py", ["--variant", "warm"], True),
    "baseline_vec": ("main", "run_baseline.py", ["--variant", "vec"], True),
    "baseline_loop": ("main", "run_baseline.py", ["--variant", "loop"], True),
    "alibi": ("alibi", "run_alibi.py", [], False),
    "nannyml": ("nannyml", "run_nannyml.py", [], False),
    "evidently": ("evidently", "run_evidently.py", [], False),
}
# No network calls from the tools' usage telemetry (NannyML tries segment.io on every run).
QUIET_ENV = {"NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1",
             "SCARF_NO_ANALYTICS": "true", "PYTHONHASHSEED": "0"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def main_python() -> Path:
    venv_python = REPO / ".venv" / "bin" / "python"
    return venv_python if venv_python.exists() else Path(sys.executable)


def python_for(env: str) -> Path:
    return main_python() if env == "main" else venvs.python_of(env)


# --- machine --------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 2**20, 1)
    os_name = platform.platform()
    with contextlib.suppress(OSError), open("/etc/os-release") as f:
        for line in f:
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    code = "import platform; print(platform.python_version())"
    py = subprocess.run([str(main_python()), "-c", code], capture_output=True,
                        text=True).stdout.strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gib": mem_gib, "os": os_name,
            "python": py or platform.python_version()}


def loadavg() -> list[float]:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return []


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_busy_s() -> float:
    """Machine-wide busy CPU seconds so far (all cores; everything but idle and iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK


def wait_for_quiet(max_wait_s: float, threshold_cores: float) -> dict[str, float]:
    """Wait (up to max_wait_s) until other tenants use less than threshold_cores, in 1 s windows.

    Other agents share the machine and not all of their work takes the lock; a run started while
    they are busy gets only part of the 2 cores.
    """
    start = time.monotonic()
    busy = float("inf")
    while True:
        b0, t0 = cpu_busy_s(), time.monotonic()
        time.sleep(1.0)
        busy = (cpu_busy_s() - b0) / (time.monotonic() - t0)
        waited = time.monotonic() - start
        if busy < threshold_cores or waited >= max_wait_s:
            return {"quiet_wait_s": round(waited, 1), "busy_cores_before": round(busy, 2)}


def git_commit() -> str | None:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return proc.stdout.strip() or None


@contextlib.contextmanager
def bench_lock(enabled: bool):
    if not enabled:
        yield 0.0
        return
    start = time.monotonic()
    with open(LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield round(time.monotonic() - start, 1)
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --- one measurement ------------------------------------------------------------------------

def parse_time_v(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        out["peak_rss_gib"] = round(int(m.group(1)) / 2**20, 3)
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if m:
        secs = 0.0
        for part in m.group(1).split(":"):
            secs = secs * 60 + float(part)
        out["time_wall_s"] = round(secs, 2)
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    system = re.search(r"System time \(seconds\): ([\d.]+)", text)
    if user and system:
        out["cpu_s"] = round(float(user.group(1)) + float(system.group(1)), 2)
    m = re.search(r"Exit status: (\d+)", text)
    if m:
        out["exit_status"] = int(m.group(1))
    return out


def measure(tool: str, n: int, rep: int, timeout: int, use_lock: bool,
            quiet_wait_s: float) -> dict[str, Any]:
    env_name, script, extra, _ = TOOLS[tool]
    data_dir = gen_data.paths(n)[0].parent
    run_dir = RUNS_DIR / f"{n}"
    run_dir.mkdir(parents=True, exist_ok=True)
    out_json = run_dir / f"{tool}-{rep}.json"
    out_json.unlink(missing_ok=True)
    cmd = ["/usr/bin/time", "-v", str(python_for(env_name)), str(DRIFT_DIR / script),
           str(data_dir), str(out_json), *extra]
    env = {**os.environ, **QUIET_ENV}
    rec: dict[str, Any] = {"tool": tool, "rows": n, "repeat": rep}
    with bench_lock(use_lock) as waited:
        rec["lock_wait_s"] = waited
        if quiet_wait_s > 0:
            rec.update(wait_for_quiet(quiet_wait_s, QUIET_CORES))
        rec["loadavg_before"] = loadavg()
        busy0 = cpu_busy_s()
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                                  timeout=timeout)
            rc, stderr = proc.returncode, proc.stderr
        except subprocess.TimeoutExpired as exc:
            rc = "timeout"
            stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr or ""
        wall = time.perf_counter() - t0
        busy = cpu_busy_s() - busy0
        rec["process_wall_s"] = round(wall, 2)
        rec["loadavg_after"] = loadavg()
    (run_dir / f"{tool}-{rep}.log").write_text(stderr)
    rec.update(parse_time_v(stderr))
    if "cpu_s" in rec and wall > 0:
        # CPU the rest of the machine used while this process ran, in cores (0 = quiet).
        rec["others_cores"] = round(max(busy - rec["cpu_s"], 0.0) / wall, 2)
    rec["returncode"] = rc
    if rc == 0 and out_json.exists():
        rec["result"] = json.loads(out_json.read_text())
    else:
        tail = [line for line in stderr.splitlines() if line.strip()]
        cut = next((i for i, line in enumerate(tail) if "Command being timed" in line), len(tail))
        rec["error"] = "\n".join(tail[:cut][-12:])
    return rec


# --- aggregation and the report ----------------------------------------------------------------

def median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 4) if values else None


def summarize(runs: list[dict[str, Any]], truth: list[str]) -> dict[str, Any]:
    ok = [r for r in runs if "result" in r]
    row: dict[str, Any] = {"tool": runs[0]["tool"], "rows": runs[0]["rows"], "runs": len(runs),
                           "ok_runs": len(ok)}
    if not ok:
        row["error"] = runs[-1].get("error", "failed")
        row["process_wall_s"] = median([r.get("process_wall_s") for r in runs])
        row["peak_rss_gib"] = median([r.get("peak_rss_gib") for r in runs])
        return row
    res = [r["result"] for r in ok]
    first = res[0]
    row.update({
        "version": first["version"],
        "compute_s": median([x["compute_s"] for x in res]),
        "compute_s_all": [x["compute_s"] for x in res],
        "load_s": median([x["load_s"] for x in res]),
        "process_wall_s": median([r["process_wall_s"] for r in ok]),
        "peak_rss_gib": median([r.get("peak_rss_gib") for r in ok]),
        "others_cores": max((r["others_cores"] for r in ok if "others_cores" in r),
                            default=None),
        "flagged": first["flagged"],
        "flags_stable": all(x["flagged"] == first["flagged"] for x in res),
        "exact_match": first["flagged"] == sorted(truth),
        "alt_flags": first.get("alt_flags", {}),
    })
    for key in ("reference_s", "compare_s", "run_s", "encode_s", "batch_predict_s",
                "first_compute_s", "first_reference_s", "first_compare_s"):
        if key in first:
            row[key] = median([x[key] for x in res])
    if "batch_is_drift" in first:
        row["batch_is_drift"] = first["batch_is_drift"]
    if "lazy_imports" in first:
        row["lazy_imports"] = first["lazy_imports"]
    return row


def fmt_s(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.1f}"


def fmt_cores(row: dict[str, Any]) -> str:
    x = row.get("others_cores")
    return "–" if x is None else f"{x:.2f}"


def fmt_ratio(a: float | None, b: float | None) -> str:
    if not a or not b:
        return "–"
    r = a / b
    return f"{r:.3f}x" if r < 0.1 else f"{r:.2f}x"


def steadyml_features(report: dict[str, Any], truth: list[str]) -> list[str]:
    lines = ["| feature | truth | kind | method | KS / chi2 | p (raw) | p adjusted | "
             "effect (W/std or JS) | PSI | drifted | reason |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]

    def g(x: Any) -> str:
        if x is None:
            return "–"
        if isinstance(x, float):
            return f"{x:.3g}"
        return str(x)

    for f in report.get("features", []):
        numeric = f.get("kind") == "numeric"
        stat = f.get("ks") if numeric else f.get("chi2")
        p_raw = f.get("ks_pvalue") if numeric else f.get("chi2_pvalue")
        effect = f.get("wasserstein_norm") if numeric else f.get("js")
        lines.append(
            f"| {f.get('name')} | {'drift' if f.get('name') in truth else ''} | {f.get('kind')} "
            f"| {g(f.get('method'))} | {g(stat)} | {g(p_raw)} | {g(f.get('p_adjusted'))} "
            f"| {g(effect)} | {g(f.get('psi'))} | {'**yes**' if f.get('drifted') else 'no'} "
            f"| {str(f.get('reason', '')).replace('|', '/')} |")
    return lines


def render_md(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    truth = doc["ground_truth"]
    out = [
        "# Drift: steadyml vs Evidently, NannyML, alibi-detect and numpy/scipy baselines",
        "",
        f"Measured {doc['date']} on {m['nproc']} vCPU ({m['cpu']}), {m['mem_gib']} GiB RAM, "
        f"{m['os']}, Python {m['python']}; steadyml at commit {doc.get('git_commit')} "
        f"(working tree as it was). Command: `{doc['command'].strip()}`. Figures: "
        f"`{doc.get('json_name', 'drift.json')}`."
        + "".join(f" Re-measured {', '.join(u['tools'])} at {', '.join(map(str, u['sizes']))} "
                  f"rows later ({u['started']}, commit {u['git_commit']}): `{u['command']}`."
                  for u in doc.get("updates", [])),
        "",
        "compute s = in-process time of the drift computation only (median of "
        f"{doc['repeat']} run(s) for steadyml and the baselines, one run for the peers), without "
        "interpreter start-up, imports and the Parquet load; process wall s and peak RSS are the "
        "whole process (`/usr/bin/time -v`). steadyml / tool = steadyml's compute s divided by "
        "the tool's (below 1 = steadyml faster). others' CPU = the most CPU (in cores, of "
        f"{m['nproc']}) the rest of the machine used during any of the tool's runs: other agents "
        "share it, and not all their work takes the lock; a run during which it was above "
        f"{BUSY_CORES} was discarded and repeated (up to {doc.get('busy_retries', 2)} times; "
        "discarded runs stay in the JSON). "
        + ("Every run held /tmp/bench.lock." if doc.get("lock", True)
           else "Runs did NOT hold /tmp/bench.lock (--no-lock)."),
        "",
        f"Ground truth: {', '.join(truth)} (mean shift in reference std: "
        f"{doc['shift_in_reference_std']}; cat_1 order reversed, cat_3 half the top label's mass "
        "to the 10 rarest). exact = flagged set equals the ground truth.",
        "",
        "steadyml gets the same pandas DataFrames as the peers. Diagnostic rows: steadyml_arrow "
        "= Arrow tables in (read with pyarrow); steadyml_warm = the second of two identical calls "
        "in one process (imports and first-use costs already paid; the peers' figures are all "
        "first calls, with their imports outside compute s).",
    ]
    for n in doc["sizes"]:
        order = list(TOOLS)
        rows = sorted((r for r in doc["summary"] if r["rows"] == n),
                      key=lambda r: order.index(r["tool"]) if r["tool"] in order else 99)
        st = next((r for r in rows if r["tool"] == "steadyml" and r.get("compute_s")), None)
        out += ["", f"## {n:,} + {n:,} rows", "",
                "| tool | version | compute s | process wall s | peak RSS GiB | steadyml / tool "
                "| flagged | exact | others' CPU |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in rows:
            label = r["tool"] + (f" (median of {r['ok_runs']})" if r.get("ok_runs", 0) > 1 else "")
            if "error" in r:
                err = r["error"].splitlines()[-1] if r["error"] else "failed"
                out.append(f"| {label} | – | – | {fmt_s(r.get('process_wall_s'))} | "
                           f"{r.get('peak_rss_gib') or '–'} | – | FAILED: {err} | – | – |")
                continue
            compute = fmt_s(r["compute_s"])
            if "reference_s" in r:
                compute += f" ({fmt_s(r['reference_s'])} ref + {fmt_s(r['compare_s'])} compare)"
            ratio = fmt_ratio(st and st["compute_s"], r["compute_s"])
            flags = ", ".join(r["flagged"]) + ("" if r["flags_stable"] else " (varied)")
            out.append(f"| {label} | {r['version']} | {compute} | {fmt_s(r['process_wall_s'])} "
                       f"| {r['peak_rss_gib']:.2f} | {ratio} | {flags} | "
                       f"{'yes' if r['exact_match'] else 'no'} | {fmt_cores(r)} |")
        alt = [r for r in rows if r.get("alt_flags")]
        if alt:
            out += ["", "Alternative flag rules reported by the runners:", ""]
            for r in alt:
                parts = [f"{k} = {', '.join(v)}" + (" (exact)" if v == truth else "")
                         for k, v in r["alt_flags"].items()]
                if "batch_is_drift" in r:
                    parts.insert(0, f"batch_is_drift = {r['batch_is_drift']}")
                out.append(f"- {r['tool']}: " + "; ".join(parts))
        extras = []
        for r in rows:
            bits = [f"{k} {fmt_s(r[k])} s" for k in ("run_s", "encode_s", "batch_predict_s",
                                                      "load_s") if r.get(k) is not None]
            if "compute_s_all" in r and len(r["compute_s_all"]) > 1:
                bits.append("runs " + ", ".join(fmt_s(x) for x in r["compute_s_all"]))
            if r.get("first_compute_s") is not None:
                bits.append(f"the untimed first call before it {fmt_s(r['first_compute_s'])} s "
                            f"({fmt_s(r['first_reference_s'])} ref + "
                            f"{fmt_s(r['first_compare_s'])} compare)")
            if r.get("lazy_imports"):
                bits.append("first imported during the timed call: "
                            + ", ".join(r["lazy_imports"]))
            if bits:
                extras.append(f"- {r['tool']}: " + "; ".join(bits))
        if extras:
            out += ["", "Details (not in compute s unless stated: `run_s` is Evidently's "
                    "`report.run()` alone, part of its compute s; `load_s` is the Parquet load; "
                    "steadyml's compute s is its first call in the process, like every peer's, "
                    "and includes what it imports lazily on first use):",
                    "", *extras]
        report = doc.get("steadyml_reports", {}).get(str(n))
        if report:
            out += ["", f"steadyml per-feature statistics at {n:,} (rule: "
                    f"`{json.dumps(report.get('rule', {}), sort_keys=True)}`):", "",
                    *steadyml_features(report, truth)]
    out += ["", "## Package versions (each tool in its own venv)", "",
            "| venv | versions |", "|---|---|"]
    for name, vers in doc["versions"].items():
        text = ", ".join(f"{k} {v}" for k, v in vers.items() if v)
        out.append(f"| {name} | {text} |")
    out += ["", "Pins (benchmarks/drift/venvs.py): " + "; ".join(
        f"{k}: `{' '.join(v)}`" for k, v in doc["pins"].items()) + "."]
    if doc.get("notes"):
        out += ["", "## Notes", "", *[f"- {x}" for x in doc["notes"]]]
    return "\n".join(out) + "\n"


# --- driver ---------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--repeat", type=int, default=3, help="runs of steadyml and the baselines")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per process")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--skip-install", action="store_true", help="use the peer venvs as they are")
    ap.add_argument("--report-only", action="store_true", help="rebuild the .md from the .json")
    ap.add_argument("--no-lock", action="store_true")
    ap.add_argument("--quiet-wait", type=float, default=60.0,
                    help=f"before each run, wait up to this many seconds for the rest of the "
                         f"machine to use < {QUIET_CORES} cores (0: don't)")
    ap.add_argument("--busy-retries", type=int, default=2,
                    help=f"repeat a run (up to this many times) when the rest of the machine "
                         f"used > {BUSY_CORES} cores during it")
    ap.add_argument("--update", action="store_true",
                    help="re-measure only --sizes x --tools and keep the rest of --out")
    args = ap.parse_args()
    md_path = args.out.with_suffix(".md")

    if args.report_only:
        doc = json.loads(args.out.read_text())
        md_path.write_text(render_md(doc))
        log(f"wrote {md_path}")
        return

    sizes = [int(s) for s in args.sizes.split(",") if s]
    tools = [t for t in args.tools.split(",") if t]
    unknown = set(tools) - set(TOOLS)
    if unknown:
        ap.error(f"unknown tools {sorted(unknown)}; known: {', '.join(TOOLS)}")

    for n in sizes:
        gen_data.ensure(n, log=log)
    envs = sorted({TOOLS[t][0] for t in tools} - {"main"})
    for env in envs:
        if args.skip_install:
            if not venvs.python_of(env).exists():
                sys.exit(f"{venvs.python_of(env)} missing: run without --skip-install")
        else:
            venvs.ensure(env, log=log)
    versions = {"main (baselines, steadyml)": venvs.versions(main_python(), venvs.REPORTED["main"])}
    for env in envs:
        versions[env] = venvs.versions(venvs.python_of(env), venvs.REPORTED[env])

    meta = json.loads(gen_data.paths(sizes[0])[2].read_text())
    truth = meta["ground_truth"]
    command = " ".join(["python benchmarks/bench_drift.py", *sys.argv[1:]])
    if args.update and args.out.exists():
        doc = json.loads(args.out.read_text())
        redo = {(n, t) for n in sizes for t in tools}
        doc["runs"] = [r for r in doc["runs"] if (r["rows"], r["tool"]) not in redo]
        doc["summary"] = [r for r in doc["summary"] if (r["rows"], r["tool"]) not in redo]
        doc["sizes"] = sorted(set(doc["sizes"]) | set(sizes))
        doc["tools"] = [t for t in TOOLS if t in set(doc["tools"]) | set(tools)]
        doc["versions"].update(versions)
        doc["pins"].update({k: v for k, v in venvs.SPECS.items() if k in envs})
        doc.setdefault("updates", []).append({
            "command": command, "started": dt.datetime.now().isoformat(timespec="seconds"),
            "git_commit": git_commit(), "sizes": sizes, "tools": tools})
    else:
        doc = new_doc(args, command, sizes, tools, envs, versions, meta)

    def save() -> None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        md_path.write_text(render_md(doc))

    for n in sizes:
        for tool in tools:
            reps = args.repeat if TOOLS[tool][3] else 1
            runs = []
            attempt = 0
            for rep in range(reps):
                for retry in range(args.busy_retries + 1):
                    log(f"{tool} @ {n:,}+{n:,} run {rep + 1}/{reps}"
                        + (f" (retry {retry}: the machine was busy)" if retry else ""))
                    rec = measure(tool, n, attempt, args.timeout, not args.no_lock,
                                  args.quiet_wait)
                    attempt += 1
                    result = rec.get("result", {})
                    report = result.pop("report", None)
                    doc["runs"].append(rec)
                    if "error" in rec:
                        log(f"  FAILED ({rec['returncode']}): {rec['error'].splitlines()[-1:]}")
                    else:
                        log(f"  compute {result['compute_s']:.3f} s, wall "
                            f"{rec['process_wall_s']} s, RSS {rec.get('peak_rss_gib')} GiB, "
                            f"others {rec.get('others_cores')} cores, flagged {result['flagged']}")
                    busy = (rec.get("others_cores") or 0.0) > BUSY_CORES
                    if busy and "error" not in rec and retry < args.busy_retries:
                        rec["discarded"] = f"the rest of the machine used > {BUSY_CORES} cores"
                        save()
                        continue
                    if report is not None and tool == "steadyml":
                        doc["steadyml_reports"][str(n)] = report
                    runs.append(rec)
                    save()
                    break
            doc["summary"].append(summarize(runs, truth))
            save()
    doc["finished"] = dt.datetime.now().isoformat(timespec="seconds")
    save()
    log(f"wrote {args.out} and {md_path}")


def new_doc(args: argparse.Namespace, command: str, sizes: list[int], tools: list[str],
            envs: list[str], versions: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "date": dt.date.today().isoformat(),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "command": command,
        "machine": machine(),
        "git_commit": git_commit(),
        "sizes": sizes,
        "tools": tools,
        "repeat": args.repeat,
        "lock": not args.no_lock,
        "busy_retries": args.busy_retries,
        "json_name": args.out.name,
        "ground_truth": meta["ground_truth"],
        "shift_in_reference_std": meta["shift_in_reference_std"],
        "versions": versions,
        "pins": {k: v for k, v in venvs.SPECS.items() if k in envs},
        "runs": [],
        "summary": [],
        "steadyml_reports": {},
    }


if __name__ == "__main__":
    main()
