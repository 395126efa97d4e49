#!/usr/bin/env python
"""Controller benchmark: from the first bad canary prediction to a completed rollback.

Goal (issue 4): under 10 s at 200 requests/s, with the policy's minimum samples.

In a temporary STEADY_HOME: a good model (LogisticRegression on scikit-learn's breast cancer
data, 30 features) as stable, and three bad releases of it (controller/candidates.py): one that
raises on every request, one that fails ~20 % of requests (rows whose first feature is above
its 80th percentile), one 50 ms slower per call. `steady server` runs as a real subprocess on
127.0.0.1 (a free port, 1 worker, its controller in-process). Per episode, on a fresh
deployment: deploy the stable model, apply the policy (POLICY below), open-loop load at
`--rate` (controller/load.py), after `--warmup-s` deploy the candidate as a canary at
`--canary` %, poll the admin API at 20 Hz until a revision without the candidate is served,
keep the load on for `--tail-s`, then match the prediction log to the client's record by
request id (controller/analysis.py: t0, t1 and the parts between).

Scenarios:
  raising            raises on every request; deployment config as shipped (circuit breaker on)
  raising-no-breaker the same with the breaker off (breaker_min_requests=10**9): the controller
                     alone
  flaky              ~20 % of its requests fail (under the breaker's 50 %): the controller acts
  slow               +50 ms per call: caught by the canary's max_latency_ratio
  flaky-flush-0.25   diagnostic: `flaky` on controller/variant_server.py, which is `steady
                     server` with the prediction log flushed every 0.25 s instead of 2 s

  .venv/bin/python benchmarks/bench_controller.py                   # everything, 5 repetitions
  .venv/bin/python benchmarks/bench_controller.py --scenarios flaky --repeat 1 \
      --out benchmarks/.work/controller/quick.json                   # a quick trial
  .venv/bin/python benchmarks/bench_controller.py --report-only      # rewrite controller.md

Holds /tmp/bench.lock (as the other benchmarks here) for the whole run; --no-lock skips it.
Runs on a copy of src/steadyml taken at the start (others edit src/ meanwhile).
Writes --out (JSON) and the Markdown beside it. Server logs go to benchmarks/.work/controller/.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "controller")]
from analysis import timeline, wait_for_log  # noqa: E402
from load import run_episode  # noqa: E402
from report import render  # noqa: E402

from bench_tracking import LOCK_FILE, Lock, git_info, machine_info  # noqa: E402

WORK = HERE / ".work" / "controller"
DEFAULT_OUT = HERE / "results" / "controller.json"
STEADY = Path(sys.executable).parent / "steady"
DEPLOYMENT_DEFAULT_FLUSH_S = 2.0  # PredictionLog's default flush_interval_s, as `steady server`
CONTROLLER_TICK_S = 0.5  # Controller's default tick_s, as `steady server`
SERVER_POLL_S = 0.2  # the server's store poll (create_app's default)

POLICY = """\
deployment: {deployment}
evaluate_every: {evaluate_every}
window: 5m
min_samples: {min_samples}
slo: {{error_rate: 0.02}}
canary: {{steps: [{canary}, 50, 100], min_samples: 200, min_duration: 60s,
          max_error_rate_increase: 0.02, max_latency_ratio: 1.5}}
actions: {{promote: true, rollback: true, alert: false}}
"""


@dataclass(frozen=True)
class Scenario:
    name: str
    candidate: str  # key of the registered bad model
    what: str
    breaker: bool = True
    flush_interval_s: float | None = None  # None: `steady server` as shipped
    policy: tuple[int, str, float] | None = None  # (min_samples, evaluate_every, canary %)


SCENARIOS = {s.name: s for s in [
    Scenario("raising", "raising", "raises on every request; circuit breaker on (as shipped)"),
    Scenario("raising-no-breaker", "raising", "raises on every request; breaker off: "
             "the controller alone", breaker=False),
    Scenario("flaky", "flaky", "~20 % of its requests fail (under the breaker's 50 %)"),
    Scenario("slow", "slow", "right answers, +50 ms per call (max_latency_ratio 1.5)"),
    Scenario("flaky-flush-0.25", "flaky", "diagnostic: `flaky`, prediction log flushed every "
             "0.25 s (controller/variant_server.py)", flush_interval_s=0.25),
    Scenario("flaky-policy-defaults", "flaky", "`flaky` under the policy schema's defaults: "
             "min_samples 100, evaluate_every 5s, canary first step 5 %",
             policy=(100, "5s", 5.0)),
]}
DEFAULT_SCENARIOS = [n for n in SCENARIOS if n != "flaky-policy-defaults"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- models --------------------------------------------------------------------------------

def register_models(platform: Any) -> tuple[dict[str, str], list[bytes]]:
    """Register the stable model and the bad releases; return their refs and request bodies."""
    import candidates
    import cloudpickle
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    import steadyml

    cloudpickle.register_pickle_by_value(candidates)  # the server loads them without our path
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    good = LogisticRegression(max_iter=5000).fit(X, y)
    refs: dict[str, str] = {}
    with steadyml.start_run("bench-controller", platform=platform) as run:
        refs["stable"] = run.register_model("cancer", good, input_example=X).ref
        signature = steadyml.Signature.from_dict(platform.registry.get(refs["stable"]).signature)
        limit = float(X.iloc[:, 0].quantile(0.8))
        for key, bad in (("raising", candidates.Raising(good)),
                         ("flaky", candidates.Flaky(good, limit)),
                         ("slow", candidates.Slow(good, 0.05))):
            refs[key] = run.register_model("cancer", bad, input_example=X.head(3),
                                           signature=signature).ref
    rows = X.to_numpy()[np.random.default_rng(0).permutation(len(X))]
    bodies = [json.dumps({"inputs": [{"name": "input-0", "shape": [1, rows.shape[1]],
                                      "datatype": "FP64", "data": row.tolist()}]}).encode()
              for row in rows]
    return refs, bodies


def snapshot_source(tmp: Path) -> None:
    """Run this process and the servers on a copy of src/steadyml taken now.

    Others edit src/ while this runs; without the copy, episodes minutes apart could measure
    different code. PYTHONPATH comes before the editable install's path entry.
    """
    dst = tmp / "src"
    shutil.copytree(HERE.parent / "src" / "steadyml", dst / "steadyml",
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(dst))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(dst), *filter(None, [os.environ.get("PYTHONPATH")])])


# --- the server ----------------------------------------------------------------------------

class Server:
    """`steady server` (or the diagnostic variant) in its own session on a free port."""

    def __init__(self, home: Path, flush_interval_s: float | None, logfile: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        if flush_interval_s is None:
            self.cmd = [str(STEADY), "server", "--port", str(self.port)]
        else:
            self.cmd = [sys.executable, str(HERE / "controller" / "variant_server.py"),
                        str(self.port), "--flush-interval-s", str(flush_interval_s)]
        self.env = {**os.environ, "STEADY_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        self.logfile = logfile
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with open(self.logfile, "ab") as out:
            self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see "
                                   f"{self.logfile}")
            try:
                if httpx.get(f"{self.url}/v2/health/live", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not answer within 60 s; see {self.logfile}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def cpu_s(self) -> float:
        """CPU seconds the server process has used so far (user + system, all threads)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_serving(self, deployment: str, revision: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with_status = httpx.get(f"{self.url}/api/v1/deployments/{deployment}", timeout=5)
            if with_status.status_code == 200 and \
                    with_status.json().get("serving_revision") == revision:
                return
            time.sleep(0.05)
        raise TimeoutError(f"{deployment} revision {revision} not served after {timeout_s} s")


def _die_with_parent() -> None:
    """In the server's process: get SIGTERM when this benchmark dies, even by SIGKILL (Linux
    PR_SET_PDEATHSIG), so that no server outlives an interrupted run."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


# --- one episode ---------------------------------------------------------------------------

def episode(platform: Any, server: Server, scenario: Scenario, rep: int, refs: dict[str, str],
            bodies: list[bytes], args: argparse.Namespace) -> dict[str, Any]:
    from steadyml.deployments.revisions import DeploymentConfig
    from steadyml.monitoring import parse_policy

    name = f"{scenario.name}-{rep}"
    min_samples, evaluate_every, share = scenario.policy or (
        args.min_samples, args.evaluate_every, args.canary)
    config = None if scenario.breaker else DeploymentConfig(breaker_min_requests=10**9)
    stable = platform.deployments.deploy(name, refs["stable"], config=config)
    text = POLICY.format(deployment=name, evaluate_every=evaluate_every,
                         min_samples=min_samples, canary=_num(share))
    platform.policies.apply(parse_policy(text, source="bench"), source=text)
    server.wait_serving(name, stable.revision)

    def deploy_canary() -> int:
        return platform.deployments.deploy(name, refs[scenario.candidate],
                                           canary=share).revision

    quiet = wait_for_quiet(args.quiet_cores, args.quiet_wait_s)
    busy0, client0, server0, wall0 = _busy_s(), time.process_time(), server.cpu_s(), \
        time.monotonic()
    ep = asyncio.run(run_episode(server.url, name, bodies, rate=args.rate,
                                 warmup_s=args.warmup_s, deploy_canary=deploy_canary,
                                 tail_s=args.tail_s, give_up_s=args.give_up_s))
    wall = time.monotonic() - wall0
    busy = (_busy_s() - busy0) / wall
    cores = {"client": round((time.process_time() - client0) / wall, 2),
             "server": round((server.cpu_s() - server0) / wall, 2)}
    platform.policies.remove(name)  # the controller now evaluates the next episode's only
    wait_for_log(Path(platform.settings.resolved_logs), name, ep.requests[-1].request_id)
    created_ms, evidence = None, None
    if ep.rollback_revision is not None:
        revision = next(r for r in platform.deployments.history(name)
                        if r.revision == ep.rollback_revision)
        created_ms = revision.created_ms
        entry = next(e for e in platform.audit_entries(subject=f"deployment:{name}")
                     if (e.after or {}).get("revision") == ep.rollback_revision)
        evidence = entry.evidence
    out = timeline(ep, Path(platform.settings.resolved_logs), min_samples=min_samples,
                   evidence=evidence, rollback_created_ms=created_ms)
    out["machine_busy_cores"] = round(busy, 2)
    out["cores"] = {**cores, "others": round(max(busy - cores["client"] - cores["server"], 0), 2)}
    out["quiet_wait"] = quiet
    out["episode"] = ep.to_dict()
    return out


def _busy_s() -> float:
    """Machine-wide busy CPU seconds (all cores), to show what other tenants did meanwhile."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(threshold_cores: float, max_wait_s: float) -> dict[str, float]:
    """Wait (up to max_wait_s) until the machine is below threshold_cores busy over 1 s.

    Other tenants share this 2-core machine and not all their work takes the lock; an episode
    started while they are busy measures them too.
    """
    start = time.monotonic()
    while True:
        b0, t0 = _busy_s(), time.monotonic()
        time.sleep(1.0)
        busy = (_busy_s() - b0) / (time.monotonic() - t0)
        waited = time.monotonic() - start
        if busy < threshold_cores or waited >= max_wait_s:
            return {"waited_s": round(waited, 1), "busy_cores_before": round(busy, 2)}


def _num(x: float) -> str:
    return f"{x:g}"


# --- summary -------------------------------------------------------------------------------

def summarize(episodes: list[dict[str, Any]]) -> dict[str, Any]:
    done = [e for e in episodes if e.get("t1_minus_t0_s") is not None]
    t = [e["t1_minus_t0_s"] for e in done]
    out: dict[str, Any] = {"episodes": len(episodes), "rolled_back": len(done),
                           "reasons": sorted({e["reason"] for e in done})}
    if t:
        out.update(median_s=round(statistics.median(t), 3), min_s=min(t), max_s=max(t))
        keys = list(done[0]["parts_s"])
        out["parts_median_s"] = {k: _median([e["parts_s"].get(k) for e in done]) for k in keys}
        out["served_median_s"] = _median([e["from_t0_s"].get("served") for e in done])
        out["last_candidate_median_s"] = _median(
            [e["from_t0_s"].get("last_candidate_sent") for e in done])
    for key in ("client_failed", "candidate_failed", "candidate_requests", "episode_requests"):
        out[f"{key}_total"] = sum(e.get(key, 0) for e in episodes)
    out["offered_rate_min"] = min((e["offered_rate"] for e in episodes if e["offered_rate"]),
                                  default=None)
    out["send_lag_p99_ms_max"] = max((e["send_lag_p99_ms"] for e in episodes
                                      if e["send_lag_p99_ms"] is not None), default=None)
    out["machine_busy_cores_median"] = _median([e["machine_busy_cores"] for e in episodes])
    return out


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


# --- main ----------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default=",".join(DEFAULT_SCENARIOS),
                    help=f"any of {', '.join(SCENARIOS)}")
    ap.add_argument("--merge", action="store_true",
                    help="add these scenarios to the existing --out instead of replacing it")
    ap.add_argument("--repeat", type=int, default=5, help="episodes per scenario")
    ap.add_argument("--rate", type=float, default=200.0, help="requests/s, open loop")
    ap.add_argument("--canary", type=float, default=10.0, help="the canary's first step, %%")
    ap.add_argument("--min-samples", type=int, default=50, help="the policy's min_samples")
    ap.add_argument("--evaluate-every", default="1s", help="the policy's evaluate_every")
    ap.add_argument("--warmup-s", type=float, default=3.0, help="stable-only load first")
    ap.add_argument("--tail-s", type=float, default=1.0, help="load after the rollback")
    ap.add_argument("--give-up-s", type=float, default=60.0, help="per episode")
    ap.add_argument("--quiet-cores", type=float, default=0.5,
                    help="before each episode, wait until the machine is less busy than this")
    ap.add_argument("--quiet-wait-s", type=float, default=30.0, help="...for at most this")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--no-lock", action="store_true", help=f"do not take {LOCK_FILE}")
    ap.add_argument("--report-only", action="store_true")
    args = ap.parse_args()
    md = args.out.with_suffix(".md")
    if args.report_only:
        md.write_text(render(json.loads(args.out.read_text())))
        log(f"wrote {md}")
        return
    chosen = [SCENARIOS[s] for s in args.scenarios.split(",")]
    WORK.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    result: dict[str, Any] = {
        "benchmark": "controller", "goal_s": 10.0,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine_info(), "git": git_info(),
        "settings": {"rate": args.rate, "canary_percent": args.canary,
                     "min_samples": args.min_samples, "evaluate_every": args.evaluate_every,
                     "warmup_s": args.warmup_s, "tail_s": args.tail_s, "repeat": args.repeat,
                     "flush_interval_s": DEPLOYMENT_DEFAULT_FLUSH_S,
                     "controller_tick_s": CONTROLLER_TICK_S, "server_poll_s": SERVER_POLL_S,
                     "admin_poll_hz": 20, "breaker": "window 50, min 20 requests, 50 % failed",
                     "policy": POLICY.format(deployment="<per episode>",
                                             evaluate_every=args.evaluate_every,
                                             min_samples=args.min_samples,
                                             canary=_num(args.canary))},
        "scenarios": {}}
    with Lock(not args.no_lock) as lock, tempfile.TemporaryDirectory(prefix="bench-ctl-") as tmp:
        result["lock"] = None if args.no_lock else LOCK_FILE
        result["lock_wait_s"] = round(lock.waited_s, 1)
        snapshot_source(Path(tmp))
        from steadyml import Platform, Settings

        home = Path(tmp) / "home"
        platform = Platform(Settings(home=home, actor="bench"))
        try:
            refs, bodies = register_models(platform)
            for flush in dict.fromkeys(s.flush_interval_s for s in chosen):
                logfile = WORK / f"server-{stamp}-{flush or 'default'}.log"
                with Server(home, flush, logfile) as server:
                    for scenario in (s for s in chosen if s.flush_interval_s == flush):
                        episodes = []
                        for rep in range(1, args.repeat + 1):
                            e = episode(platform, server, scenario, rep, refs, bodies, args)
                            log(f"{scenario.name} #{rep}: t1-t0 {e.get('t1_minus_t0_s')} s "
                                f"({e['reason'] or 'no rollback'}), parts {e.get('parts_s')}, "
                                f"client failures {e['client_failed']}")
                            episodes.append(e)
                        result["scenarios"][scenario.name] = {
                            "what": scenario.what, "candidate": refs[scenario.candidate],
                            "breaker": scenario.breaker,
                            "flush_interval_s": flush or DEPLOYMENT_DEFAULT_FLUSH_S,
                            "policy": dict(zip(("min_samples", "evaluate_every",
                                                "canary_percent"),
                                               scenario.policy or (args.min_samples,
                                                                   args.evaluate_every,
                                                                   args.canary), strict=True)),
                            "started": stamp,
                            "server": "steady server" if flush is None else
                            f"controller/variant_server.py --flush-interval-s {flush:g}",
                            "summary": summarize(episodes), "episodes": episodes}
        finally:
            platform.close()
    result["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if args.merge and args.out.exists():
        before = json.loads(args.out.read_text())
        result = {**before, "scenarios": {**before["scenarios"], **result["scenarios"]},
                  "merged": [*before.get("merged", []),
                             {k: result[k] for k in ("started", "finished", "command", "git",
                                                     "lock_wait_s")}]}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    md.write_text(render(result))
    log(f"wrote {args.out} and {md}")


if __name__ == "__main__":
    main()
