#!/usr/bin/env python
"""Serving benchmark: steadyml's server against its peers, side by side, in one run.

Same model (LogisticRegression(max_iter=1000, random_state=0) fitted on scikit-learn's bundled
load_breast_cancer, 30 features; one joblib file every peer loads), same machine, same load
generator (Debian's wrk 4.1.0: `wrk -t1 -c64 -d20s --timeout 10s --latency`), single-row POST
requests, each server in its own format. Configs, one after the other:

  steadyml        `steady --home H server` (uvicorn, 1 worker), V2 infer on a deployment
  steadyml-2w     the same with `--workers 2`
  noop / noop-2w  the ceiling: raw ASGI app returning a fixed V2 response under uvicorn with
                  steadyml's options (uvloop, httptools, access log off), 1 / 2 workers
  fastapi(-2w)    plain FastAPI `async def` endpoint calling model.predict, uvicorn 1 / 2 workers
  mlflow(-2w)     `mlflow models serve --env-manager local` (default 1 worker; `-w 2`)
  bentoml         `bentoml serve` of an @bentoml.service, np.ndarray in/out (1 worker default)
  bentoml-batched the same with batchable=True (max_batch_size=64, max_latency_ms=1000)
  litserve        LitServe LitAPI defaults (max_batch_size=1)
  litserve-batched  max_batch_size=64, batch_timeout=5 ms
  noop-starlette  context: the anchor's kind of ceiling (a Starlette route), 1 worker
  diagnostics     steadyml with one thing changed (serving/steady_variant.py): -gclog (times
                  every GC), -nolog, -gcfreeze, -greedy / -greedy-2w (deployment config
                  max_wait_ms=0), -greedy-gcfreeze

Per config (holding /tmp/bench.lock, like the other benchmarks here): start the server in its
own session, wait until it answers, check x0 -> class 0 and x13 -> class 1, a 5 s wrk warm-up,
`--repeat` timed runs (each after waiting up to 20 s for other tenants to fall below 0.25
cores), check again, stop the server (SIGTERM to its process tree, SIGKILL after 15 s). CPU of
the server's process tree, of wrk and of everything else is recorded per run.

Then two steadyml-only phases:
  rollback  under the same wrk load (64 connections, 20 s, every response's status and
            model_version recorded with a CLOCK_MONOTONIC timestamp by serving/rollback.lua):
            `steady deploy cancer-api cancer:2` at t=5 s, `steady rollback cancer-api` at
            t=12 s; failed requests and the time from `steady rollback` returning to the last
            response answered by version 2.
  profile   py-spy (record, 10 s, --threads) on the 1-worker server under the wrk load: an SVG
            flame graph and a raw (collapsed) profile summarised by serving/spy_top.py.

  .venv/bin/python benchmarks/bench_serving.py                       # everything
  .venv/bin/python benchmarks/bench_serving.py --configs steadyml,noop --repeat 1 \
      --phases bench --out benchmarks/.work/serving/quick.json        # a quick trial
  .venv/bin/python benchmarks/bench_serving.py --resume               # finish an interrupted run
  .venv/bin/python benchmarks/bench_serving.py --report-only          # rewrite serving.md

Peer venvs are made on first use under benchmarks/.work/serving/venvs (pinned versions below);
wrk is installed with apt-get when missing. Everything talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform as _platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SERVING = HERE / "serving"
WORK = HERE / ".work" / "serving"
VENVS = WORK / "venvs"
DEFAULT_OUT = HERE / "results" / "serving.json"
LOCK = "/tmp/bench.lock"
HOST = "127.0.0.1"
PY = Path(sys.executable)
STEADY = PY.parent / "steady"
CLK = os.sysconf("SC_CLK_TCK")
BASE_PORT = 19100

PINS = {
    "mlflow": ["mlflow==3.17.2", "scikit-learn==1.9.1"],
    "bentoml": ["bentoml==1.4.39", "scikit-learn==1.9.1"],
    "litserve": ["litserve==0.2.19", "scikit-learn==1.9.1"],
    "tools": ["py-spy==0.4.3"],
}
REPORTED = ["steadyml", "mlflow", "mlflow-skinny", "bentoml", "litserve", "scikit-learn",
            "numpy", "pandas", "fastapi", "starlette", "uvicorn", "uvloop", "httptools", "h11",
            "pydantic", "orjson", "py-spy"]

ALL_CONFIGS = ["steadyml", "noop", "fastapi", "mlflow", "bentoml", "litserve",
               "steadyml-2w", "noop-2w", "fastapi-2w", "mlflow-2w", "bentoml-batched",
               "litserve-batched", "noop-starlette",
               # diagnostics: steadyml with one thing changed (see serving/steady_variant.py)
               "steadyml-gclog", "steadyml-nolog", "steadyml-gcfreeze", "steadyml-greedy",
               "steadyml-greedy-gcfreeze", "steadyml-greedy-2w"]
DIAGNOSTIC = {"steadyml-gclog", "steadyml-nolog", "steadyml-gcfreeze", "steadyml-greedy",
              "steadyml-greedy-gcfreeze", "steadyml-greedy-2w", "noop-starlette"}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# --- setup ---------------------------------------------------------------------------------

def venv_python(name: str) -> Path:
    return VENVS / name / "bin" / "python"


def ensure_venvs(names: list[str]) -> None:
    base = shutil.which("python3.11") or sys.executable
    for name in names:
        pins = PINS[name]
        py = venv_python(name)
        if py.exists() and _pins_met(py, pins):
            continue
        log(f"making venv {name}: pip install {' '.join(pins)} (once; cached after)")
        if not py.exists():
            subprocess.run([base, "-m", "venv", str(VENVS / name)], check=True)
        with open(VENVS / f"{name}.pip.log", "w") as out:
            subprocess.run([str(py), "-m", "pip", "install", "-q", *pins], check=True,
                           stdout=out, stderr=subprocess.STDOUT, timeout=1800)


def _pins_met(py: Path, pins: list[str]) -> bool:
    code = ("import sys, importlib.metadata as m\n"
            "ok = all(m.version(n) == v for n, v in (p.split('==') for p in sys.argv[1:]))\n"
            "sys.exit(0 if ok else 1)")
    try:
        return subprocess.run([str(py), "-c", code, *pins], capture_output=True).returncode == 0
    except OSError:
        return False


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    log("installing wrk with apt-get")
    subprocess.run(["apt-get", "update"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)


def versions_of(py: Path) -> dict[str, str]:
    code = ("import json, importlib.metadata as m\nout = {}\n"
            f"for n in {REPORTED!r}:\n"
            "    try: out[n] = m.version(n)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    res = subprocess.run([str(py), "-c", code], capture_output=True, text=True)
    return json.loads(res.stdout) if res.returncode == 0 else {}


def snapshot_source(rundir: Path) -> Path:
    """Copy src/steadyml as it is now and put the copy first on every steadyml process's path.

    Others edit src/ while this runs; without the copy, configs run minutes apart could measure
    different code. PYTHONPATH comes before the editable install's path entry.
    """
    dst = rundir / "src"
    shutil.copytree(HERE.parent / "src" / "steadyml", dst / "steadyml",
                    ignore=shutil.ignore_patterns("__pycache__"))
    sys.path.insert(0, str(dst))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(dst), *filter(None, [os.environ.get("PYTHONPATH")])])
    return dst


def _git_state() -> dict[str, Any]:
    """The commit measured, and whether src/ had uncommitted edits (others edit it)."""
    def git(*argv: str) -> str:
        return subprocess.run(["git", *argv], cwd=HERE.parent, capture_output=True,
                              text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"),
            "src_uncommitted": git("status", "--short", "src/").splitlines()}


def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo
                if line.startswith("model name")), "?")
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    wrk = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "wrk"], capture_output=True,
                         text=True).stdout.strip()
    debian = Path("/etc/debian_version").read_text().strip() \
        if Path("/etc/debian_version").exists() else "?"
    return {"cpus": os.cpu_count(), "cpu_model": cpu, "mem_gib": round(mem / 2**20, 1),
            "kernel": _platform.release(), "debian": debian, "python": _platform.python_version(),
            "wrk": f"wrk {wrk} (Debian)"}


# --- data: model, bodies, steadyml home, MLflow model ------------------------------------

def prepare(data: Path) -> dict[str, Any]:
    """Fit the model once, write every peer's request bodies, the steadyml home and MLflow model."""
    import warnings

    import joblib
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    import steadyml
    from steadyml import Platform, Settings
    from steadyml.deployments.revisions import DeploymentConfig

    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    X, y = load_breast_cancer(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs does not fully converge at 1000 iterations
        model = LogisticRegression(max_iter=1000, random_state=0).fit(X, y)
        model2 = LogisticRegression(C=0.5, max_iter=1000, random_state=0).fit(X, y)
    for m in (model, model2):
        assert list(m.predict(X[[0, 13]])) == [0, 1]
    joblib.dump(model, data / "model.joblib")
    bodies = {}
    for i in (0, 13):
        row = X[i].tolist()
        forms = {"v2": {"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64",
                                    "data": row}]},
                 "mlflow": {"inputs": [row]}, "bentoml": {"input": [row]},
                 "row": {"input": row}}
        for form, obj in forms.items():
            path = data / f"{form}_x{i}.json"
            path.write_text(json.dumps(obj))
            bodies[f"{form}_x{i}"] = str(path)
    home = data / "steady-home"
    with Platform(Settings(home=home)) as p:
        for m in (model, model2):
            with steadyml.start_run("bench-serving", platform=p) as run:
                run.register_model("cancer", m, input_example=X[:5])
        p.deployments.deploy("cancer-api", "cancer:1")
    home_greedy = data / "steady-home-greedy"
    with Platform(Settings(home=home_greedy)) as p:
        with steadyml.start_run("bench-serving", platform=p) as run:
            run.register_model("cancer", model, input_example=X[:5])
        p.deployments.deploy("cancer-api", "cancer:1",
                             config=DeploymentConfig(max_wait_ms=0.0))
    subprocess.run([str(venv_python("mlflow")), str(SERVING / "make_mlflow_model.py"),
                    str(data / "model.joblib"), str(data / "mlflow_model")], check=True,
                   capture_output=True, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true",
                                             "DO_NOT_TRACK": "true"})
    return {"model": str(data / "model.joblib"), "home": str(home),
            "home_greedy": str(home_greedy),
            "mlflow_model": str(data / "mlflow_model"), "bodies": bodies,
            "train_accuracy": round(float(model.score(X, y)), 4),
            "body_bytes": {k: os.path.getsize(v) for k, v in bodies.items() if k.endswith("x0")},
            "predict_us_1_row": _predict_cost(model, X[:1]),
            "predict_us_64_rows": _predict_cost(model, np.repeat(X[:1], 64, axis=0))}


def prepared(data: Path) -> dict[str, Any]:
    """The paths prepare() wrote under `data` (for --resume)."""
    bodies = {f"{form}_x{i}": str(data / f"{form}_x{i}.json")
              for form in ("v2", "mlflow", "bentoml", "row") for i in (0, 13)}
    return {"model": str(data / "model.joblib"), "home": str(data / "steady-home"),
            "home_greedy": str(data / "steady-home-greedy"),
            "mlflow_model": str(data / "mlflow_model"), "bodies": bodies}


def _predict_cost(model: Any, rows: Any, n: int = 2000) -> float:
    model.predict(rows)
    start = time.perf_counter()
    for _ in range(n):
        model.predict(rows)
    return round((time.perf_counter() - start) / n * 1e6, 1)


# --- configs ---------------------------------------------------------------------------------

@dataclass
class Config:
    name: str
    peer: str
    label: str
    cmd: list[str]
    path: str
    body: str          # body form: v2 | mlflow | bentoml | row
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None
    verify: bool = True


def uvicorn_cmd(app: str, port: int, workers: int) -> list[str]:
    return [str(PY), "-m", "uvicorn", "--app-dir", str(SERVING), app, "--host", HOST,
            "--port", str(port), "--workers", str(workers), "--loop", "uvloop", "--http",
            "httptools", "--no-access-log", "--log-level", "warning"]


def make_configs(names: list[str], d: dict[str, Any]) -> list[Config]:
    model_env = {"SERVING_MODEL": d["model"]}
    out = []
    taken: set[int] = set()
    for name in names:
        port = free_port(taken)
        taken.add(port)
        workers = 2 if name.endswith("-2w") else 1
        base = name.removesuffix("-2w")
        if base in ("steadyml", "steadyml-greedy"):
            greedy = base == "steadyml-greedy"
            cmd = [str(STEADY), "--home", d["home_greedy" if greedy else "home"], "server",
                   "--port", str(port)]
            if workers > 1:
                cmd += ["--workers", str(workers)]
            c = Config(name, "steadyml", f"`steady server`{' --workers 2' if workers > 1 else ''}"
                       " (uvicorn, uvloop, httptools)" + (
                           "; deployment config max_wait_ms=0 (batch whatever is queued, no "
                           "2 ms window)" if greedy else ""),
                       cmd, "/v2/models/cancer-api/infer", "v2", workers)
        elif base in ("steadyml-gclog", "steadyml-nolog", "steadyml-gcfreeze",
                      "steadyml-greedy-gcfreeze"):
            flags = {"steadyml-gclog": [], "steadyml-nolog": ["--no-log"],
                     "steadyml-gcfreeze": ["--gc-freeze"],
                     "steadyml-greedy-gcfreeze": ["--gc-freeze"]}[base]
            flags += ["--gc-log", str(Path(d["rundir"]) / f"{name}.gc.json")]
            home = d["home_greedy" if "greedy" in base else "home"]
            what = {"steadyml-gclog": "unchanged, only timing each garbage collection",
                    "steadyml-nolog": "prediction log off (log_predictions=False)",
                    "steadyml-gcfreeze": "gc.collect() + gc.freeze() after startup",
                    "steadyml-greedy-gcfreeze": "max_wait_ms=0 and gc.freeze() after startup",
                    }[base]
            c = Config(name, "steadyml (diagnostic)", f"steadyml's app, {what}; "
                       "serving/steady_variant.py, uvicorn 1 worker",
                       [str(PY), str(SERVING / "steady_variant.py"), home, str(port), *flags],
                       "/v2/models/cancer-api/infer", "v2")
        elif base == "noop-starlette":
            c = Config(name, "ceiling (context)", "Starlette no-op route (the anchor's kind of "
                       "ceiling), uvicorn+uvloop+httptools, 1 worker",
                       uvicorn_cmd("noop_starlette:app", port, 1),
                       "/v2/models/cancer-api/infer", "v2", verify=False)
        elif base == "noop":
            c = Config(name, "ceiling", f"no-op raw ASGI, uvicorn+uvloop+httptools, {workers} "
                       f"worker{'s' * (workers > 1)}", uvicorn_cmd("noop_app:app", port, workers),
                       "/v2/models/cancer-api/infer", "v2", workers, verify=False)
        elif base == "fastapi":
            c = Config(name, "FastAPI", f"FastAPI `async def` + model.predict, uvicorn {workers} "
                       f"worker{'s' * (workers > 1)}", uvicorn_cmd("fastapi_app:app", port, workers),
                       "/predict", "row", workers, env=model_env)
        elif base == "mlflow":
            cmd = [str(VENVS / "mlflow/bin/mlflow"), "models", "serve", "-m", d["mlflow_model"],
                   "--env-manager", "local", "-h", HOST, "-p", str(port)]
            if workers > 1:
                cmd += ["-w", str(workers)]
            c = Config(name, "MLflow", "`mlflow models serve --env-manager local`"
                       f"{' -w 2' if workers > 1 else ' (1 worker, default)'}", cmd,
                       "/invocations", "mlflow", workers,
                       env={"PATH": f"{VENVS / 'mlflow/bin'}:{os.environ['PATH']}",
                            "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
        elif base in ("bentoml", "bentoml-batched"):
            svc = "BreastCancerBatched" if base.endswith("batched") else "BreastCancer"
            c = Config(name, "BentoML", f"`bentoml serve bentoml_service:{svc}` (1 worker)"
                       + (", batchable, max_batch_size=64, max_latency_ms=1000"
                          if base.endswith("batched") else ", np.ndarray in/out"),
                       [str(VENVS / "bentoml/bin/bentoml"), "serve", f"bentoml_service:{svc}",
                        "--host", HOST, "--port", str(port)], "/predict", "bentoml",
                       env={**model_env, "BENTOML_DO_NOT_TRACK": "true",
                            "BENTOML_HOME": str(WORK / "bentoml-home"),
                            "PATH": f"{VENVS / 'bentoml/bin'}:{os.environ['PATH']}"},
                       cwd=str(SERVING))
        elif base in ("litserve", "litserve-batched"):
            args = ["64", "0.005"] if base.endswith("batched") else []
            c = Config(name, "LitServe", "LitAPI, " + ("max_batch_size=64, batch_timeout=5 ms"
                                                        if args else "max_batch_size=1 (defaults)"),
                       [str(venv_python("litserve")), str(SERVING / "litserve_app.py"), str(port),
                        *args], "/predict", "row", env=model_env, cwd=str(WORK))
        else:
            raise SystemExit(f"unknown config {name!r}; choose from {', '.join(ALL_CONFIGS)}")
        c.port = port  # type: ignore[attr-defined]
        out.append(c)
    return out


# --- processes and CPU -------------------------------------------------------------------

def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (ppid, utime+stime jiffies) for every process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        table[int(entry)] = (int(rest[1]), int(rest[11]) + int(rest[12]))
    return table


def tree(root: int, table: dict[int, tuple[int, int]] | None = None) -> list[int]:
    table = table or _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            out.append(pid)
            todo.extend(children.get(pid, []))
    return out


def tree_jiffies(root: int) -> int:
    table = _proc_table()
    return sum(table[p][1] for p in tree(root, table))


def machine_jiffies() -> tuple[int, int]:
    """(busy, steal) jiffies summed over all CPUs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
    return user + nice + system + irq + softirq, steal


def wait_quiet(server_pid: int, limit_s: float = 60.0, threshold: float = 0.25) -> float:
    """Wait (up to limit_s) until other tenants use < threshold cores; return the last reading."""
    deadline = time.monotonic() + limit_s
    while True:
        b0, s0 = machine_jiffies()[0], tree_jiffies(server_pid)
        time.sleep(1.0)
        other = ((machine_jiffies()[0] - b0) - (tree_jiffies(server_pid) - s0)) / CLK
        if other < threshold or time.monotonic() >= deadline:
            return round(other, 3)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((HOST, port)) != 0


def free_port(taken: set[int]) -> int:
    """The first port from BASE_PORT on that nothing listens on (another run may hold some)."""
    port = BASE_PORT
    while port in taken or not port_free(port):
        port += 1
    return port


def post(url: str, body_path: str, timeout: float = 5.0) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=Path(body_path).read_bytes(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def prediction_of(body: bytes) -> Any:
    obj = json.loads(body)
    if isinstance(obj, dict) and "outputs" in obj:
        return obj["outputs"][0]["data"][0]
    if isinstance(obj, dict) and "predictions" in obj:
        return obj["predictions"][0]
    if isinstance(obj, dict) and "prediction" in obj:
        return obj["prediction"]
    if isinstance(obj, list):
        return obj[0]
    return obj


def verify(c: Config, url: str, bodies: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, want in ((0, 0), (13, 1)):
        status, body = post(url, bodies[f"{c.body}_x{i}"])
        got = prediction_of(body) if status == 200 else None
        out[f"x{i}"] = {"status": status, "prediction": got}
        if status != 200 or (c.verify and got != want):
            out["ok"] = False
            return out
    out["ok"] = True
    return out


class Server:
    """A server started in its own session; stopped with its whole process tree."""

    def __init__(self, c: Config, logfile: Path) -> None:
        self.c = c
        self.logfile = logfile
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, url: str, body: str, timeout_s: float = 180.0) -> float:
        port = self.c.port  # type: ignore[attr-defined]
        if not port_free(port):
            raise RuntimeError(f"port {port} is taken; is another server running there?")
        started = time.monotonic()
        self.out = open(self.logfile, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(self.c.cmd, cwd=self.c.cwd, env={**os.environ, **self.c.env},
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        while time.monotonic() - started < timeout_s:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.c.name} exited with {self.proc.returncode}; "
                                   f"see {self.logfile}")
            try:
                if post(url, body, timeout=2.0)[0] == 200:
                    return round(time.monotonic() - started, 2)
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.c.name} did not answer within {timeout_s} s; see {self.logfile}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stop(self) -> None:
        if self.proc is None:
            return
        pids = tree(self.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        for pid in pids:  # workers that left the session (BentoML's circus uses setsid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            self.proc.poll()
            if not [p for p in pids if _alive(p)]:
                break
            time.sleep(0.2)
        for pid in pids:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        self.out.close()
        self.proc = None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


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


# --- wrk ------------------------------------------------------------------------------------

def wrk(url: str, body: str, duration: int, connections: int, *, script: Path | None = None,
        extra_env: dict[str, str] | None = None, raw: Path | None = None) -> dict[str, Any]:
    script = script or SERVING / "post.lua"
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency",
           "-s", str(script), url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60,
                         env={**os.environ, "BODY_FILE": body, **(extra_env or {})})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if raw is not None:
        raw.write_text(f"$ BODY_FILE={body} {' '.join(cmd)}\n{res.stdout}{res.stderr}")
    line = next((x for x in res.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no RESULT line: {res.stdout} {res.stderr}")
    out = json.loads(line[len("RESULT "):])
    out["errors"] = sum(out[k] for k in ("err_connect", "err_read", "err_write", "err_status",
                                         "err_timeout"))
    out["wrk_cpu_s"] = round((after.ru_utime + after.ru_stime)
                             - (before.ru_utime + before.ru_stime), 2)
    return out


def timed_run(server: Server, url: str, body: str, duration: int, connections: int,
              raw: Path) -> dict[str, Any]:
    quiet = wait_quiet(server.pid)
    m0, s0, w0 = machine_jiffies(), tree_jiffies(server.pid), time.monotonic()
    result = wrk(url, body, duration, connections, raw=raw)
    m1, s1, w1 = machine_jiffies(), tree_jiffies(server.pid), time.monotonic()
    wall = w1 - w0
    server_cores = (s1 - s0) / CLK / wall
    wrk_cores = result["wrk_cpu_s"] / wall
    result.update({
        "other_cores_before": quiet,
        "server_cores": round(server_cores, 2), "wrk_cores": round(wrk_cores, 2),
        "other_cores": round(max(0.0, (m1[0] - m0[0]) / CLK / wall - server_cores - wrk_cores), 2),
        "steal_cores": round((m1[1] - m0[1]) / CLK / wall, 2),
        "server_cpu_us_per_request": round((s1 - s0) / CLK / max(result["requests"], 1) * 1e6,
                                           1)})
    return result


MEDIAN_KEYS = ["rps", "p50_ms", "p99_ms", "max_ms", "errors", "server_cores", "wrk_cores",
               "other_cores", "server_cpu_us_per_request"]


def bench_config(c: Config, d: dict[str, Any], args: argparse.Namespace,
                 rundir: Path) -> dict[str, Any]:
    url = f"http://{HOST}:{c.port}{c.path}"  # type: ignore[attr-defined]
    body = d["bodies"][f"{c.body}_x0"]
    rec: dict[str, Any] = {"name": c.name, "peer": c.peer, "label": c.label, "workers": c.workers,
                           "command": " ".join(c.cmd), "url": url, "body_file": body,
                           "env": {k: v for k, v in c.env.items() if k != "PATH"}}
    with bench_lock(not args.no_lock) as waited:
        rec["lock_wait_s"] = waited
        server = Server(c, rundir / f"{c.name}.server.log")
        try:
            rec["startup_s"] = server.start(url, body)
            rec["verify_before"] = verify(c, url, d["bodies"])
            wrk(url, body, args.warmup, args.connections, raw=rundir / f"{c.name}.warmup.txt")
            runs = []
            for i in range(args.repeat):
                r = timed_run(server, url, body, args.duration, args.connections,
                              rundir / f"{c.name}.run{i + 1}.txt")
                log(f"  {c.name} run {i + 1}: {r['rps']:.0f} req/s p50 {r['p50_ms']:.1f} ms "
                    f"p99 {r['p99_ms']:.1f} ms errors {r['errors']} server {r['server_cores']} "
                    f"wrk {r['wrk_cores']} other {r['other_cores']} cores")
                runs.append(r)
            rec["verify_after"] = verify(c, url, d["bodies"])
        finally:
            server.stop()
    gc_file = rundir / f"{c.name}.gc.json"
    if gc_file.exists():
        rec["gc"] = json.loads(gc_file.read_text())
        rec["gc"].pop("gen2_times", None)
    rec["runs"] = runs
    rec["median"] = {k: round(statistics.median(r[k] for r in runs), 3) for k in MEDIAN_KEYS}
    rec["total_errors"] = sum(r["errors"] for r in runs)
    return rec


# --- rollback under load --------------------------------------------------------------------

def steady_cli(home: str, *argv: str) -> dict[str, Any]:
    t0 = time.monotonic()
    res = subprocess.run([str(STEADY), "--home", home, *argv], capture_output=True, text=True,
                         timeout=120)
    t1 = time.monotonic()
    return {"argv": ["steady", "--home", "H", *argv], "start": t0, "returned": t1,
            "seconds": round(t1 - t0, 3), "rc": res.returncode,
            "output": (res.stdout + res.stderr).strip()[-500:]}


def rollback_phase(d: dict[str, Any], args: argparse.Namespace, rundir: Path) -> dict[str, Any]:
    from steadyml import Platform, Settings

    c = make_configs(["steadyml"], d)[0]
    url = f"http://{HOST}:{c.port}{c.path}"  # type: ignore[attr-defined]
    body = d["bodies"]["v2_x0"]
    record = rundir / "rollback.responses"
    for old in rundir.glob("rollback.responses.*"):
        old.unlink()
    wall_offset = time.time() - time.monotonic()
    out: dict[str, Any] = {"load": f"wrk -t1 -c{args.connections} -d{args.rollback_duration}s "
                                   "--timeout 10s --latency -s serving/rollback.lua",
                           "deploy_at_s": args.deploy_at, "rollback_at_s": args.rollback_at}
    with bench_lock(not args.no_lock), contextlib.ExitStack() as stack:
        server = Server(c, rundir / "rollback.server.log")
        stack.callback(server.stop)
        server.start(url, body)
        status, first = post(url, body)
        out["version_before"] = json.loads(first)["model_version"]
        wrk(url, body, args.warmup, args.connections, raw=rundir / "rollback.warmup.txt")
        wait_quiet(server.pid)
        cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.rollback_duration}s", "--timeout",
               "10s", "--latency", "-s", str(SERVING / "rollback.lua"), url]
        t0 = time.monotonic()
        load = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "BODY_FILE": body, "RECORD_FILE": str(record)})
        stack.callback(lambda: load.poll() is None and load.kill())
        time.sleep(max(0.0, t0 + args.deploy_at - time.monotonic()))
        deploy = steady_cli(d["home"], "deploy", "cancer-api", "cancer:2")
        time.sleep(max(0.0, t0 + args.rollback_at - time.monotonic()))
        rollback = steady_cli(d["home"], "rollback", "cancer-api")
        stdout, _ = load.communicate(timeout=args.rollback_duration + 60)
        (rundir / "rollback.wrk.txt").write_text(" ".join(cmd) + "\n" + stdout)
        status, last = post(url, body)
        out["version_after"] = json.loads(last)["model_version"]
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    summary = json.loads(line[len("RESULT "):])
    with Platform(Settings(home=Path(d["home"]))) as p:
        history = p.deployments.history("cancer-api")
    revisions = [{"revision": r.revision, "reason": str(r.reason.value), "stable": r.stable.ref
                  if hasattr(r.stable, "ref") else f"{r.stable.model}:{r.stable.version}",
                  "created_monotonic": r.created_ms / 1000 - wall_offset} for r in history]
    responses = []
    for part in sorted(rundir.glob("rollback.responses.*")):
        for line in part.read_text().splitlines():
            t_us, code, version = line.split()
            responses.append((int(t_us) / 1e6, int(code), version))
    responses.sort()
    out.update(analyse_rollback(responses, summary, t0, deploy, rollback, revisions))
    return out


def analyse_rollback(responses: list[tuple[float, int, str]], summary: dict[str, Any], t0: float,
                     deploy: dict[str, Any], rollback: dict[str, Any],
                     revisions: list[dict[str, Any]]) -> dict[str, Any]:
    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - t0, 4)

    socket_errors = sum(summary[k] for k in ("err_connect", "err_read", "err_write",
                                             "err_timeout"))
    non200 = sum(1 for _, code, _ in responses if code != 200)
    by_version: dict[str, int] = {}
    for _, _, v in responses:
        by_version[v] = by_version.get(v, 0) + 1
    d_ret, r_ret = deploy["returned"], rollback["returned"]

    def rev_time(reason: str, after: float) -> float | None:
        return next((r["created_monotonic"] for r in revisions
                     if r["reason"] == reason and r["created_monotonic"] >= after - 1), None)

    deploy_commit = rev_time("deploy", deploy["start"]) or deploy["start"]
    rb_commit = rev_time("rollback", rollback["start"]) or rollback["start"]
    first_v2 = next((t for t, c, v in responses if v == "2" and t >= deploy["start"]), None)
    last_v1_before_rb = max((t for t, c, v in responses if v == "1" and t < rollback["start"]),
                            default=None)
    last_v2 = max((t for t, c, v in responses if v == "2"), default=None)
    first_v1_after = next((t for t, c, v in responses if v == "1" and t >= rb_commit), None)
    # responses per 100 ms, and the longest silence (no response at all)
    end = responses[-1][0] if responses else t0
    bins = [0] * (int((end - t0) / 0.1) + 1)
    for t, _, _ in responses:
        if t >= t0:
            bins[int((t - t0) / 0.1)] += 1
    gaps = [(b[0] - a[0], a[0]) for a, b in zip(responses, responses[1:], strict=False)]
    max_gap = max(gaps, default=(0.0, t0))
    steady_bins = bins[10:-10] if len(bins) > 20 else bins

    return {
        "responses": len(responses), "requests_wrk": summary["requests"],
        "rps": summary["rps"], "p50_ms": summary["p50_ms"], "p99_ms": summary["p99_ms"],
        "max_ms": summary["max_ms"],
        "failed": non200 + socket_errors, "non_200": non200, "socket_errors": socket_errors,
        "wrk_errors": {k: summary[k] for k in ("err_connect", "err_read", "err_write",
                                               "err_status", "err_timeout")},
        "by_version": by_version,
        "deploy_cmd": {k: (rel(v) if k in ("start", "returned") else v)
                       for k, v in deploy.items()},
        "rollback_cmd": {k: (rel(v) if k in ("start", "returned") else v)
                         for k, v in rollback.items()},
        "deploy_committed_s": rel(deploy_commit), "rollback_committed_s": rel(rb_commit),
        "first_v2_s": rel(first_v2), "last_v1_before_rollback_s": rel(last_v1_before_rb),
        "last_v2_s": rel(last_v2), "first_v1_after_rollback_s": rel(first_v1_after),
        "deploy_return_to_first_v2_ms": _ms(first_v2, d_ret),
        "deploy_return_to_last_v1_ms": _ms(last_v1_before_rb, d_ret),
        "deploy_commit_to_first_v2_ms": _ms(first_v2, deploy_commit),
        "deploy_commit_to_last_v1_ms": _ms(last_v1_before_rb, deploy_commit),
        "deploy_both_versions_answering_ms": _ms(last_v1_before_rb, first_v2),
        "rollback_return_to_last_v2_ms": _ms(last_v2, r_ret),
        "rollback_return_to_first_v1_ms": _ms(first_v1_after, r_ret),
        "rollback_commit_to_last_v2_ms": _ms(last_v2, rb_commit),
        "rollback_commit_to_first_v1_ms": _ms(first_v1_after, rb_commit),
        "both_versions_answering_ms": _ms(last_v2, first_v1_after),
        "responses_per_100ms": {"median": statistics.median(steady_bins) if steady_bins else 0,
                                "min": min(steady_bins) if steady_bins else 0},
        "longest_silence_ms": round(max_gap[0] * 1000, 1),
        "longest_silence_at_s": rel(max_gap[1]),
        "revisions": [{**r, "created_s": rel(r.pop("created_monotonic"))} for r in revisions],
        "timeline_100ms": bins,
    }


def _ms(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round((a - b) * 1000, 1)


# --- profile ------------------------------------------------------------------------------

def profile_phase(d: dict[str, Any], args: argparse.Namespace, rundir: Path) -> dict[str, Any]:
    c = make_configs(["steadyml"], d)[0]
    url = f"http://{HOST}:{c.port}{c.path}"  # type: ignore[attr-defined]
    body = d["bodies"]["v2_x0"]
    spy = str(VENVS / "tools/bin/py-spy")
    svg, raw = rundir / "profile.svg", rundir / "profile.txt"
    duration = 2 * args.profile_seconds + 10
    out: dict[str, Any] = {}
    with bench_lock(not args.no_lock), contextlib.ExitStack() as stack:
        server = Server(c, rundir / "profile.server.log")
        stack.callback(server.stop)
        server.start(url, body)
        wrk(url, body, args.warmup, args.connections, raw=rundir / "profile.warmup.txt")
        wait_quiet(server.pid)
        cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{duration}s", "--timeout", "10s",
               "--latency", "-s", str(SERVING / "post.lua"), url]
        load = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "BODY_FILE": body})
        stack.callback(lambda: load.poll() is None and load.kill())
        time.sleep(3)
        spy_cmds = {
            "svg": [spy, "record", "-d", str(args.profile_seconds), "-r", "100", "--threads",
                    "--nonblocking", "-o", str(svg), "--pid", str(server.pid)],
            "raw": [spy, "record", "-d", str(args.profile_seconds), "-r", "100", "--threads",
                    "--native", "--format", "raw", "-o", str(raw), "--pid",
                    str(server.pid)],
        }
        for key, spy_cmd in spy_cmds.items():
            res = subprocess.run(spy_cmd, capture_output=True, text=True,
                                 timeout=args.profile_seconds + 60)
            out[f"py_spy_{key}"] = {"command": " ".join(spy_cmd).replace(str(VENVS), "VENVS"),
                                    "rc": res.returncode, "output": res.stderr.strip()[-300:]}
            if res.returncode != 0 and key == "raw":  # --native not possible: Python frames only
                spy_cmd = [a for a in spy_cmd if a != "--native"]
                res = subprocess.run(spy_cmd, capture_output=True, text=True,
                                     timeout=args.profile_seconds + 60)
                out["py_spy_raw"] = {"command": " ".join(spy_cmd).replace(str(VENVS), "VENVS"),
                                     "rc": res.returncode, "output": res.stderr.strip()[-300:]}
        stdout, _ = load.communicate(timeout=duration + 60)
        line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
        out["wrk_under_profiler"] = json.loads(line[len("RESULT "):])
    sys.path.insert(0, str(SERVING))
    import spy_top

    if raw.exists():
        out["summary"] = spy_top.summarise(spy_top.parse(str(raw)), 25)
    out["svg"] = str(svg)
    out["raw"] = str(raw)
    return out


def hotpath_phase(args: argparse.Namespace, rundir: Path, d: dict[str, Any]) -> dict[str, Any]:
    """In-process cost of each step of one V2 request (serving/hotpath_costs.py)."""
    res = subprocess.run([str(PY), str(SERVING / "hotpath_costs.py"), d["home"]],
                         capture_output=True, text=True, timeout=600)
    (rundir / "hotpath.txt").write_text(res.stdout + res.stderr)
    line = next((x for x in res.stdout.splitlines() if x.startswith("RESULT ")), None)
    return json.loads(line[len("RESULT "):]) if line else {"error": res.stderr[-2000:]}


# --- report ---------------------------------------------------------------------------------

def goals(results: dict[str, Any]) -> dict[str, Any]:
    by = {r["name"]: r["median"] for r in results["configs"]}
    out: dict[str, Any] = {}
    s1 = by.get("steadyml")
    if s1 is None:
        return out
    out["steadyml_rps"] = s1["rps"]
    out["steadyml_p99_ms"] = s1["p99_ms"]
    out["10k_rps_p99_under_50ms"] = s1["rps"] >= 10_000 and s1["p99_ms"] < 50
    if "steadyml-2w" in by:
        s2 = by["steadyml-2w"]
        out["10k_rps_p99_under_50ms_2_workers"] = s2["rps"] >= 10_000 and s2["p99_ms"] < 50
    if "mlflow" in by:
        out["x_mlflow"] = round(s1["rps"] / by["mlflow"]["rps"], 1)
        out["20x_mlflow"] = out["x_mlflow"] >= 20
    peers = {n: m["rps"] for n, m in by.items() if not n.startswith(("steadyml", "noop"))}
    out["peers_rps"] = peers
    if peers:
        best = max(peers, key=peers.get)
        out["best_peer"] = best
        out["ahead_of_every_peer"] = s1["rps"] > peers[best]
    if "noop" in by:
        out["of_noop_ceiling"] = round(s1["rps"] / by["noop"]["rps"], 3)
        out["0.7_of_ceiling"] = out["of_noop_ceiling"] >= 0.7
    if "noop-2w" in by and "steadyml-2w" in by:
        out["of_noop_ceiling_2_workers"] = round(by["steadyml-2w"]["rps"] / by["noop-2w"]["rps"], 3)
    rb = results.get("rollback")
    if rb:
        out["rollback_failed_requests"] = rb["failed"]
        out["rollback_zero_failures"] = rb["failed"] == 0
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = ["# Serving benchmark: steadyml vs peers (single-row sklearn inference over HTTP)", "",
             f"Run {results['started']} on {results['machine']['cpus']} cores "
             f"({results['machine']['cpu_model']}), {results['machine']['mem_gib']} GiB, "
             f"kernel {results['machine']['kernel']}, Python {results['machine']['python']}, "
             f"{results['machine']['wrk']}. Produced by `benchmarks/bench_serving.py`; raw "
             "figures in `serving.json`.", "",
             f"Load: `wrk -t1 -c{results['settings']['connections']} "
             f"-d{results['settings']['duration']}s --timeout 10s --latency -s "
             "serving/post.lua URL` after a "
             f"{results['settings']['warmup']} s warm-up; {results['settings']['repeat']} timed "
             "runs per config, median of each column taken separately. Load generator and "
             "server share the machine.", ""]
    configs = results.get("configs", [])
    if configs:
        by = {r["name"]: r for r in configs}
        s1 = by.get("steadyml", {}).get("median", {}).get("rps")
        s2 = by.get("steadyml-2w", {}).get("median", {}).get("rps")
        main = [r for r in configs if r["name"] not in DIAGNOSTIC]
        diag = [r for r in configs if r["name"] in DIAGNOSTIC]
        lines += ["| config | what | req/s (median) | runs | p50 ms | p99 ms | errors | "
                  "steadyml ÷ this (1 worker) | steadyml ÷ this (same workers) | "
                  "server cores | µs server CPU / req | wrk cores | other-tenant cores |",
                  "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in main:
            m = r["median"]
            same = s2 if r["workers"] > 1 else s1
            ratio1 = f"{s1 / m['rps']:.2f}×" if s1 else "–"
            ratio2 = f"{same / m['rps']:.2f}×" if same else "–"
            runs = ", ".join(f"{x['rps']:.0f}" for x in r["runs"])
            lines.append(
                f"| {r['name']} | {r['label']} | {m['rps']:,.0f} | {runs} | {m['p50_ms']:.1f} | "
                f"{m['p99_ms']:.1f} | {r['total_errors']} | {ratio1} | {ratio2} | "
                f"{m['server_cores']:.2f} | {m['server_cpu_us_per_request']:.0f} | "
                f"{m['wrk_cores']:.2f} | {m['other_cores']:.2f} |")
        if diag:
            lines += ["", "### Diagnostics (same run, same load): one thing changed at a time",
                      "", "Not peers and not product configurations (except max_wait_ms, a "
                      "deployment setting): they show where the time goes. `this ÷ steadyml` "
                      "compares 1-worker variants with `steadyml-gclog` (the unchanged app, "
                      "measured next to them; it compares itself with `steadyml`) and "
                      "2-worker ones with `steadyml-2w`. gen2 = the "
                      "cyclic garbage collector's full collections while the server ran "
                      "(warm-up and all timed runs), from gc.callbacks.", "",
                      "| config | what | req/s (median) | runs | p50 ms | p99 ms | errors | "
                      "this ÷ steadyml | server cores | µs server CPU / req | "
                      "gen2 collections: count, median ms, max ms | other-tenant cores |",
                      "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---|---:|"]
            ref1 = by.get("steadyml-gclog", {}).get("median", {}).get("rps") or s1
            for r in diag:
                m = r["median"]
                base = s2 if r["workers"] > 1 else (s1 if r["name"] == "steadyml-gclog" else ref1)
                g = r.get("gc", {}).get("gen2")
                gtxt = f"{g['collections']}, {g['median_ms']}, {g['max_ms']}" if g else "–"
                runs = ", ".join(f"{x['rps']:.0f}" for x in r["runs"])
                lines.append(
                    f"| {r['name']} | {r['label']} | {m['rps']:,.0f} | {runs} | "
                    f"{m['p50_ms']:.1f} | {m['p99_ms']:.1f} | {r['total_errors']} | "
                    f"{m['rps'] / base:.2f}× | {m['server_cores']:.2f} | "
                    f"{m['server_cpu_us_per_request']:.0f} | {gtxt} | {m['other_cores']:.2f} |"
                    if base else f"| {r['name']} | {r['label']} | {m['rps']:,.0f} | |")
        lines += ["", "errors = wrk's socket errors (connect/read/write/timeout) plus HTTP "
                  "statuses >= 400, summed over the timed runs. Every server was checked to "
                  "answer class 0 for X[0] and class 1 for X[13] before and after its runs "
                  "(the no-op returns a fixed body).", ""]
    g = results.get("goals") or {}
    if g:
        lines += ["## Goals", "", "| goal | result | met |", "|---|---|---|"]
        if "10k_rps_p99_under_50ms" in g:
            lines.append(f"| ≥ 10,000 req/s with p99 < 50 ms (1 worker) | {g['steadyml_rps']:,.0f} "
                         f"req/s, p99 {g['steadyml_p99_ms']:.1f} ms | "
                         f"{'yes' if g['10k_rps_p99_under_50ms'] else 'no'} |")
        if "10k_rps_p99_under_50ms_2_workers" in g:
            m = by["steadyml-2w"]["median"]
            lines.append(f"| same, `--workers 2` | {m['rps']:,.0f} req/s, p99 {m['p99_ms']:.1f} "
                         f"ms | {'yes' if g['10k_rps_p99_under_50ms_2_workers'] else 'no'} |")
        if "x_mlflow" in g:
            lines.append(f"| ≥ 20× `mlflow models serve` | {g['x_mlflow']}× | "
                         f"{'yes' if g['20x_mlflow'] else 'no'} |")
        if "best_peer" in g:
            lines.append(f"| ahead of every peer | best peer config: {g['best_peer']} | "
                         f"{'yes' if g['ahead_of_every_peer'] else 'no'} |")
        if "of_noop_ceiling" in g:
            extra = (f" (2 workers: {g['of_noop_ceiling_2_workers']:.2f})"
                     if "of_noop_ceiling_2_workers" in g else "")
            lines.append(f"| ≥ 0.7 of the no-op ceiling (same server, 1 worker) | "
                         f"{g['of_noop_ceiling']:.2f}{extra} | "
                         f"{'yes' if g['0.7_of_ceiling'] else 'no'} |")
        if "rollback_failed_requests" in g:
            lines.append(f"| rollback under load: 0 failed requests | "
                         f"{g['rollback_failed_requests']} failed | "
                         f"{'yes' if g['rollback_zero_failures'] else 'no'} |")
        lines.append("")
    rb = results.get("rollback")
    if rb:
        lines += ["## Rollback under load", "",
                  f"Load: `{rb['load']}` (every response's status and model_version recorded "
                  "with a CLOCK_MONOTONIC timestamp) against `steady server` (1 worker) serving "
                  f"cancer-api = cancer:1. At t = {rb['deploy_at_s']} s `steady deploy cancer-api "
                  f"cancer:2`, at t = {rb['rollback_at_s']} s `steady rollback cancer-api`. "
                  "Times below are seconds from the start of the load.", "",
                  "| figure | value |", "|---|---:|",
                  f"| requests answered | {rb['responses']:,} ({rb['rps']:,.0f} req/s; p50 "
                  f"{rb['p50_ms']:.1f} ms, p99 {rb['p99_ms']:.1f} ms, max {rb['max_ms']:.1f} ms) |",
                  f"| failed requests (non-200 + socket errors) | **{rb['failed']}** "
                  f"({rb['non_200']} non-200, {rb['socket_errors']} socket errors) |",
                  f"| answered by version | {', '.join(f'v{k}: {v:,}' for k, v in sorted(rb['by_version'].items()))} |",
                  f"| `steady deploy` ran | {rb['deploy_cmd']['start']:.3f} → "
                  f"{rb['deploy_cmd']['returned']:.3f} s (rc {rb['deploy_cmd']['rc']}) |",
                  f"| deploy revision committed (store timestamp) | {rb['deploy_committed_s']} s |",
                  f"| deploy committed → first v2 response / → last v1 response | "
                  f"{rb['deploy_commit_to_first_v2_ms']} ms / {rb['deploy_commit_to_last_v1_ms']} ms |",
                  f"| `steady deploy` returned → first v2 / → last v1 response | "
                  f"{rb['deploy_return_to_first_v2_ms']} ms / {rb['deploy_return_to_last_v1_ms']} ms |",
                  f"| `steady rollback` ran | {rb['rollback_cmd']['start']:.3f} → "
                  f"{rb['rollback_cmd']['returned']:.3f} s (rc {rb['rollback_cmd']['rc']}) |",
                  f"| rollback revision committed (store timestamp) | {rb['rollback_committed_s']} s |",
                  f"| **`steady rollback` returned → last response by the old version (v2)** | "
                  f"**{rb['rollback_return_to_last_v2_ms']} ms** |",
                  f"| rollback committed → last v2 response | {rb['rollback_commit_to_last_v2_ms']} ms |",
                  f"| rollback committed → first v1 response | {rb['rollback_commit_to_first_v1_ms']} ms |",
                  f"| both versions answering (first v1 → last v2) | {rb['both_versions_answering_ms']} ms |",
                  f"| responses per 100 ms (median / min over the run) | "
                  f"{rb['responses_per_100ms']['median']} / {rb['responses_per_100ms']['min']} |",
                  f"| longest time with no response at all | {rb['longest_silence_ms']} ms "
                  f"(at {rb['longest_silence_at_s']} s) |", ""]
    prof = results.get("profile")
    if prof and "summary" in prof:
        w = prof["wrk_under_profiler"]
        lines += ["## Profile of the hot path (py-spy)", "",
                  f"`{prof['py_spy_raw']['command']}` on the 1-worker `steady server` while wrk "
                  f"ran the same load ({w['rps']:,.0f} req/s with the profiler attached). Shares "
                  "are of the samples of each thread.", ""]
        idle = []
        for thread, t in prof["summary"]["threads"].items():
            top = t["self"][0] if t["self"] else ("", 0, 0.0)
            if "MainThread" not in thread and (t["share"] < 0.05 or (
                    top[0].startswith("0x") and top[2] > 0.85)):
                idle.append(f"{thread} ({t['share']:.0%} of samples, {top[2]:.0%} of them "
                            "in an unresolved libc wait)")
                continue
            lines += [f"### {thread} ({t['share']:.0%} of samples)", "",
                      "| part (inclusive) | share |", "|---|---:|"]
            lines += [f"| {k} | {s:.1%} |" for k, (_c, s) in t["parts"].items()]
            if t.get("leaf_kinds"):
                lines += ["", "| leaf kind (self, native frames) | share |", "|---|---:|"]
                lines += [f"| {k} | {s:.1%} |" for k, (_c, s) in t["leaf_kinds"].items()]
            lines += ["", "| top self (leaf) frames | share |", "|---|---:|"]
            lines += [f"| `{f}` | {s:.1%} |" for f, _c, s in t["self"][:15]]
            lines.append("")
        if idle:
            lines += ["Threads that were almost always waiting (thread pool workers, the "
                      "prediction-log writer): " + "; ".join(idle) + ".", ""]
    hp = results.get("hotpath")
    if hp and "steps" in hp:
        lines += ["## In-process cost of each step of one request", "",
                  "`serving/hotpath_costs.py`: each step of steadyml's V2 path timed alone, "
                  "in one process, no HTTP (µs per call, median of 5 rounds).", "",
                  "| step | µs |", "|---|---:|"]
        lines += [f"| {k} | {v} |" for k, v in hp["steps"].items()]
        for key, what in (("app_in_process", "whole ASGI app, 64 in-process clients, no HTTP"),
                          ("app_in_process_no_prediction_log", "same, prediction log off"),
                          ("noop_in_process", "the no-op ASGI app, same harness")):
            if key in hp:
                lines.append(f"| {what}: CPU per request (req/s) | {hp[key]['cpu_us_per_request']}"
                             f" ({hp[key]['rps']:,}) |")
        lines.append("")
    lines += ["## Versions", ""]
    for venv, vers in results.get("versions", {}).items():
        lines.append(f"- {venv}: " + ", ".join(f"{k} {v}" for k, v in sorted(vers.items())))
    lines += ["", "## Commands", ""]
    for r in configs:
        lines.append(f"- {r['name']}: `{_short(r['command'])}`")
    return "\n".join(lines) + "\n"


def _short(cmd: str) -> str:
    return cmd.replace(str(HERE.parent) + "/", "").replace(str(WORK), ".work/serving")


# --- main -----------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default=",".join(ALL_CONFIGS))
    ap.add_argument("--phases", default="bench,rollback,profile,hotpath")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--rollback-duration", type=int, default=20)
    ap.add_argument("--deploy-at", type=float, default=5.0)
    ap.add_argument("--rollback-at", type=float, default=12.0)
    ap.add_argument("--profile-seconds", type=int, default=10)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--no-lock", action="store_true")
    ap.add_argument("--resume", action="store_true",
                    help="continue the run recorded in --out (same data, same source copy): "
                         "run only the configs and phases it lacks")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the markdown (and goals) from --out without running anything")
    args = ap.parse_args()
    if args.report_only:
        results = json.loads(args.out.read_text())
        results["goals"] = goals(results)
        args.out.write_text(json.dumps(results, indent=1, default=str))
        args.out.with_suffix(".md").write_text(markdown(results))
        return
    names = [n for n in args.configs.split(",") if n]
    phases = set(args.phases.split(","))

    ensure_wrk()
    ensure_venvs(["mlflow", "bentoml", "litserve", "tools"])
    if args.resume:
        results = json.loads(args.out.read_text())
        rundir = Path(results["settings"]["rundir"])
        log(f"resuming {rundir}: it has {[c['name'] for c in results['configs']]}")
        dst = rundir / "src"
        sys.path.insert(0, str(dst))
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [str(dst), *filter(None, [os.environ.get("PYTHONPATH")])])
        d = prepared(rundir / "data")
        results.setdefault("resumed", []).append(time.strftime("%Y-%m-%d %H:%M:%S"))
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        rundir = WORK / f"run-{stamp}"
        rundir.mkdir(parents=True)
        log(f"logs and raw outputs: {rundir}")
        source = _git_state()
        snapshot_source(rundir)
        d = prepare(rundir / "data")
        log(f"model ready (train accuracy {d['train_accuracy']}); predict 1 row "
            f"{d['predict_us_1_row']} µs, 64 rows {d['predict_us_64_rows']} µs")
        results = {
            "started": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine_info(),
            "settings": {k: v for k, v in vars(args).items() if k != "out"}
            | {"out": str(args.out), "rundir": str(rundir)},
            "model": {"estimator": "LogisticRegression(max_iter=1000, random_state=0)",
                      "data": "sklearn.datasets.load_breast_cancer (30 features)",
                      "train_accuracy": d["train_accuracy"],
                      "predict_us_1_row": d["predict_us_1_row"],
                      "predict_us_64_rows": d["predict_us_64_rows"],
                      "request": "X[0] (class 0), one row", "body_bytes": d["body_bytes"]},
            "steadyml_source": source,
            "versions": {"project .venv (steadyml, FastAPI, no-op)": versions_of(PY),
                         **{f"venv-{n}": versions_of(venv_python(n)) for n in PINS}},
            "configs": [],
        }
    d["rundir"] = str(rundir)
    done = {c["name"] for c in results["configs"]}
    names = [n for n in names if n not in done]
    if args.resume:
        phases = {p for p in phases if p == "bench" or p not in results}

    def save() -> None:
        results["goals"] = goals(results)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1, default=str))
        args.out.with_suffix(".md").write_text(markdown(results))

    if "bench" in phases:
        for c in make_configs(names, d):
            log(f"{c.name}: {_short(' '.join(c.cmd))}")
            try:
                results["configs"].append(bench_config(c, d, args, rundir))
            except Exception as exc:  # one peer failing must not lose the others' figures
                log(f"  {c.name} FAILED: {exc}")
                results.setdefault("failed_configs", {})[c.name] = str(exc)
            save()
    if "rollback" in phases:
        log("rollback under load")
        results["rollback"] = rollback_phase(d, args, rundir)
        rb = results["rollback"]
        log(f"  failed {rb['failed']}, rollback returned -> last v2 "
            f"{rb['rollback_return_to_last_v2_ms']} ms, by version {rb['by_version']}")
        save()
    if "profile" in phases:
        log("profiling steadyml under load with py-spy")
        results["profile"] = profile_phase(d, args, rundir)
        save()
    if "hotpath" in phases:
        log("in-process hot-path costs")
        results["hotpath"] = hotpath_phase(args, rundir, d)
        save()
    save()
    log(f"wrote {args.out} and {args.out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
