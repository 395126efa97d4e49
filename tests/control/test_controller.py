"""The controller on a real server: steps a good canary, rolls back a bad one, alerts, retrains."""

from __future__ import annotations

import http.server
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import steadyml
from steadyml import Platform, Settings
from steadyml.control import Controller
from steadyml.monitoring import parse_policy
from steadyml.serving.server import BackgroundServer, create_app
from steadyml.store.predictions import PredictionLog

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "serving"))
from serving_fixtures import wait_for  # noqa: E402


class Flaky:
    """Right answers, but fails on the rows whose first feature is in its top 20 %."""

    def __init__(self, model: Any, limit: float) -> None:
        self.model, self.limit = model, limit

    def predict(self, X: Any) -> np.ndarray:
        values = np.asarray(X, dtype=float)
        if (values[:, 0] > self.limit).any():
            raise RuntimeError("flaky")
        return self.model.predict(X)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    X, _ = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X


@pytest.fixture
def served(tmp_path: Path, data: pd.DataFrame) -> Iterator[dict[str, Any]]:
    y = load_breast_cancer().target
    platform = Platform(Settings(home=tmp_path / "home", actor="tester"))
    for c in (0.05, 1.0):
        model = LogisticRegression(C=c, max_iter=5000).fit(data, y)
        with steadyml.start_run("e", platform=platform) as run:
            run.log_dataset(data, name="cancer-train")
            run.register_model("cancer", model, input_example=data)
    with steadyml.start_run("e", platform=platform) as run:
        run.log_dataset(data, name="cancer-train")
        run.register_model("cancer", Flaky(model, float(data.iloc[:, 0].quantile(0.8))),
                           input_example=data.head(3),
                           signature=steadyml.Signature.from_dict(
                               platform.registry.get("cancer:1").signature))
    platform.deployments.deploy("cancer-api", "cancer:1")
    log = PredictionLog(str(tmp_path / "logs"), flush_interval_s=0.1)
    app = create_app(platform, poll_interval_s=0.05, prediction_log=log)
    controller = Controller(platform, log_root=str(tmp_path / "logs"))
    try:
        with BackgroundServer(app) as url, httpx.Client(base_url=url, timeout=10) as client:
            yield {"client": client, "platform": platform, "data": data, "log": log,
                   "controller": controller}
    finally:
        platform.close()


def send(served: dict[str, Any], n: int, *, shift: float = 0.0, seed: int = 0) -> None:
    data = served["data"]
    rng = np.random.default_rng(seed)
    rows = data.to_numpy()[rng.integers(0, len(data), n)]
    rows = rows * (1 + shift)
    for row in rows:
        body = {"inputs": [{"name": "input-0", "shape": [1, rows.shape[1]], "datatype": "FP64",
                            "data": row.tolist()}]}
        assert served["client"].post("/v2/models/cancer-api/infer", json=body).status_code == 200
    served["log"].flush(timeout_s=30)


def apply(served: dict[str, Any], text: str) -> None:
    served["platform"].policies.apply(parse_policy(text), source=text)


def apply_retrain_policy(served: dict[str, Any], script: str) -> None:
    """Drift judged on every pass against training; retrain by running `script` in Python."""
    apply(served, f"""
deployment: cancer-api
evaluate_every: 1s
window: 1h
min_samples: 50
drift: {{reference: training, persistence: 1}}
actions:
  retrain: {{command: [{json.dumps(sys.executable)}, "-c", {json.dumps(script)}],
             cooldown: 1d, estimated_cost: 1, budget: 1}}
""")


def wait_serving(served: dict[str, Any], revision: int) -> None:
    def ready() -> bool:
        status = served["client"].get("/api/v1/deployments/cancer-api").json()
        return status.get("serving_revision") == revision

    wait_for(ready)


def test_a_healthy_canary_is_promoted_step_by_step(served: dict[str, Any]) -> None:
    apply(served, """
deployment: cancer-api
evaluate_every: 1s
min_samples: 20
slo: {error_rate: 0.05}
canary: {steps: [25, 60, 100], min_samples: 20, min_duration: 0s, max_latency_ratio: null}
actions: {promote: true, rollback: true}
""")  # no latency ratio: the p99 of 30 requests on a busy test machine is noise
    platform, controller = served["platform"], served["controller"]
    revision = platform.deployments.deploy("cancer-api", "cancer:2", canary=25)
    events = []
    for round_ in range(6):
        wait_serving(served, platform.deployments.current("cancer-api").revision)
        send(served, 120, seed=round_)
        events += controller.run_once(force=True)
        if any(e.kind == "promote" for e in events):
            break
    kinds = [e.kind for e in events]
    assert kinds == ["step", "promote"], [(e.kind, e.message) for e in events]  # 25 % -> 60 %, then healthy at 60 %: all of it
    final = platform.deployments.current("cancer-api")
    assert final.stable.ref == "cancer:2" and final.candidate is None
    weights = [r.weight for r in sorted(platform.deployments.history("cancer-api"),
                                        key=lambda r: r.revision)
               if r.revision > revision.revision]
    assert weights == [60.0, 0.0]  # the step, then the promotion (no candidate left)
    entries = platform.audit_entries(subject="deployment:cancer-api")
    step = next(e for e in entries if e.action == "deployment.weight")
    assert step.evidence["candidate"]["requests"] >= 20
    assert step.evidence["candidate"]["error_rate"] == 0.0
    timeline = [e.kind for e in controller.recorder.timeline("cancer-api")]
    assert timeline == ["step", "promote"]


def test_a_failing_canary_is_rolled_back_with_evidence(served: dict[str, Any]) -> None:
    apply(served, """
deployment: cancer-api
evaluate_every: 1s
min_samples: 30
canary: {steps: [50, 100], min_samples: 30, min_duration: 0s, max_error_rate_increase: 0.02}
actions: {promote: true, rollback: true}
""")
    platform, controller = served["platform"], served["controller"]
    bad = platform.deployments.deploy("cancer-api", "cancer:3", canary=50)
    wait_serving(served, bad.revision)
    send(served, 150)  # ~20 % of the candidate's requests fail; stable answers them instead
    events = controller.run_once(force=True)
    assert [e.kind for e in events] == ["rollback"]
    after = platform.deployments.current("cancer-api")
    assert after.candidate is None and after.stable.ref == "cancer:1"
    entry = [e for e in platform.audit_entries(subject="deployment:cancer-api")
             if e.action == "deployment.rollback"][-1]
    breach = entry.evidence["breaches"][0]
    assert breach["slo"] == "error_rate_increase" and breach["value"] > 0.02
    assert entry.evidence["candidate"]["failed"] > 0


def test_a_canary_whose_failures_already_breach_is_rolled_back_before_min_samples(
        served: dict[str, Any]) -> None:
    apply(served, """
deployment: cancer-api
evaluate_every: 1h
min_samples: 400
slo: {error_rate: 0.01}
actions: {rollback: true}
""")  # evaluate_every 1h: only the per-pass look at a live canary can act in time
    platform, controller = served["platform"], served["controller"]
    controller.run_once()  # the policy's regular evaluation: no canary yet
    bad = platform.deployments.deploy("cancer-api", "cancer:3", canary=50)
    wait_serving(served, bad.revision)
    assert controller.run_once() == []  # no requests yet: nothing certain
    send(served, 120)  # ~60 candidate requests, ~20 % failing: > 4 failures of 400 allowed
    events = controller.run_once()
    assert [e.kind for e in events] == ["rollback"], [(e.kind, e.message) for e in events]
    breach = events[0].evidence["breaches"][0]
    assert breach["slo"] == "error_rate" and breach["certain_at"] < 400
    assert breach["value"] > 0.01 and "once 400 are in" in breach["message"]
    assert platform.deployments.current("cancer-api").candidate is None


def test_a_stable_breach_alerts_once_by_webhook_and_counts_repeats(
        served: dict[str, Any]) -> None:
    received: list[dict[str, Any]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        apply(served, f"""
deployment: cancer-api
evaluate_every: 1s
min_samples: 20
slo: {{latency_p99_ms: 0.001}}
actions: {{alert: {{webhook: "http://127.0.0.1:{hook.server_port}/hook", repeat_after: 1h}}}}
""")
        send(served, 40)
        controller = served["controller"]
        first = controller.run_once(force=True)
        second = controller.run_once(force=True)
        assert [e.kind for e in first] == ["alert"] and second == []
        wait_for(lambda: len(received) == 1)
        assert received[0]["key"] == "slo:latency_p99_ms"
        assert received[0]["evidence"]["stable"]["requests"] == 40
        (alert,) = served["platform"].alerts.list(deployment="cancer-api")
        assert alert.count == 2 and alert.status == "open"
    finally:
        hook.shutdown()


def test_sustained_drift_alerts_and_starts_the_retrain_command(
        served: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "retrained.txt"
    monkeypatch.setenv("RETRAIN_OUT", str(out))
    script = ("import os, pathlib; pathlib.Path(os.environ['RETRAIN_OUT'])"
              ".write_text(os.environ['STEADY_DRIFTED_FEATURES'])")
    apply_retrain_policy(served, script)
    send(served, 200, shift=0.6)  # every feature 60 % larger than in training
    controller = served["controller"]
    kinds = [e.kind for e in controller.run_once(force=True)]
    assert kinds[-3:] == ["alert", "drift", "retrain"]
    wait_for(lambda: controller.recorder.retrains("cancer-api")[0]["status"] != "running")
    (retrain,) = controller.recorder.retrains("cancer-api")
    assert retrain["status"] == "succeeded" and retrain["estimated_cost"] == 1.0
    assert "mean_radius" in out.read_text().split(",")
    # The next window within the cooldown and over budget only says why it held back.
    served["platform"].store  # noqa: B018  (same store, new window below)
    from steadyml.store.tables import drift_windows

    with served["platform"].store.write() as conn:
        conn.execute(drift_windows.update().values(end_ms=0))
    kinds = [e.kind for e in controller.run_once(force=True)]
    assert kinds[-1] == "skipped"


def test_a_retrain_refused_as_busy_spends_neither_cooldown_nor_budget(
        served: dict[str, Any]) -> None:
    busy = "import sys; print('Target is busy'); sys.exit(75)"  # as `steady pipeline run`
    apply_retrain_policy(served, busy)
    send(served, 200, shift=0.6)
    controller = served["controller"]
    assert controller.run_once(force=True)[-1].kind == "retrain"
    wait_for(lambda: controller.recorder.retrains("cancer-api")[0]["status"] != "running")
    (refused,) = controller.recorder.retrains("cancer-api")
    assert refused["status"] == "busy" and refused["exit_code"] == 75
    from steadyml.store.tables import drift_windows

    with served["platform"].store.write() as conn:  # the next window
        conn.execute(drift_windows.update().values(end_ms=0))
    assert controller.run_once(force=True)[-1].kind == "retrain"  # not held by the cooldown


def test_too_few_samples_is_not_an_alarm(served: dict[str, Any]) -> None:
    apply(served, """
deployment: cancer-api
evaluate_every: 1s
min_samples: 500
slo: {latency_p99_ms: 0.001, error_rate: 0.0}
drift: {reference: training}
""")
    send(served, 30, shift=0.6)
    assert served["controller"].run_once(force=True) == []
    assert served["platform"].alerts.list() == []


def test_a_pipeline_retrain_runs_steady_pipeline_on_the_same_stores(tmp_path: Path) -> None:
    from steadyml import Settings
    from steadyml.control import retrain_argv
    from steadyml.monitoring.policies import parse_policy as parse

    policy = parse("deployment: a\nactions:\n  retrain: {pipeline: 'r.py:retrain', "
                   "target: a, params: {path: /data/b.parquet}}\n")
    settings = Settings(home=tmp_path, db_url="postgresql+psycopg://u@h/db")
    argv = retrain_argv(settings, policy.actions.retrain)
    assert argv[:3] == [sys.executable, "-m", "steadyml"]
    assert argv[3:] == ["--home", str(tmp_path), "--db-url", "postgresql+psycopg://u@h/db",
                        "pipeline", "run", "r.py:retrain", "--trigger", "drift",
                        "--target", "a", "-p", "path=/data/b.parquet"]
