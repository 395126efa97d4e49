"""`steady policy|drift|report|alerts|outcomes|controller|timeline`, and `steady server`'s
controller, through the real command line on a real store and prediction log."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import steadyml
from steadyml import Platform, Settings
from steadyml.cli import app
from steadyml.control import drift_history
from steadyml.monitoring import parse_policy
from steadyml.store.predictions import PredictionLog

LOGGED = 300  # predictions of the stable arm, `amount` shifted by two standard deviations

GOOD_POLICY = """\
deployment: fraud
evaluate_every: 1s
window: 5m
slo:
  error_rate: 0.05
drift:
  window: 1h
  reference: training
"""

BAD_POLICY = """\
deployment: fraud
window: 5 minutes
drift:
  refrence: training
"""


def build_home(home: Path) -> None:
    """Register m:1 trained on (amount, age), deploy it as fraud, log shifted predictions."""
    rng = np.random.default_rng(7)
    train = pd.DataFrame({"amount": rng.normal(0, 1, 500), "age": rng.normal(40, 10, 500)})
    y = (train["amount"] > 0).astype(int)
    with Platform(Settings(home=home, actor="cli-test")) as platform:
        with steadyml.start_run("fraud", platform=platform) as run:
            run.log_dataset(train.assign(y=y), name="transactions")
            run.register_model("m", LogisticRegression().fit(train, y),
                               input_example=train.head(5))
        platform.deployments.deploy("fraud", "m:1")
        log = PredictionLog(platform.settings.resolved_logs)
        now = int(time.time() * 1000)
        rows = np.column_stack([rng.normal(2, 1, LOGGED), rng.normal(40, 10, LOGGED)])
        for i in range(LOGGED):
            log.append_batch(request_id=f"req-{i}", deployment="fraud", revision=1, model="m",
                             model_version=1, arm="stable", ts_ms=now - 1000, latency_ms=1.0,
                             inputs=rows[i:i + 1], outputs=np.array([float(i % 2)]),
                             feature_names=["amount", "age"])
        log.close()


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("template") / "home"
    build_home(home)
    return home


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(template, copy)
    return copy


def steady(home: Path, *args: str):
    return CliRunner().invoke(app, ["--home", str(home), *args])


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- policies ------------------------------------------------------------------------------------

def test_policy_apply_show_round_trip_and_remove(home: Path, tmp_path: Path) -> None:
    applied = steady(home, "policy", "apply", str(write(tmp_path / "p.yaml", GOOD_POLICY)))
    assert applied.exit_code == 0, applied.output
    assert "Applied the policy of fraud" in applied.stdout
    assert "error rate <= 0.05" in applied.stdout and "drift: against training" in applied.stdout
    shown = steady(home, "policy", "show", "fraud", "--json")
    assert shown.exit_code == 0
    body = json.loads(shown.stdout)
    assert body["deployment"] == "fraud" and body["drift"]["window"] == 3600
    assert body == parse_policy(GOOD_POLICY).to_dict()
    # What `show --json` prints applies again unchanged.
    again = steady(home, "policy", "apply", str(write(tmp_path / "p.json", shown.stdout)))
    assert again.exit_code == 0, again.output
    assert json.loads(steady(home, "policy", "show", "fraud", "--json").stdout) == body
    assert "evaluate_every: 1.0" in steady(home, "policy", "show", "fraud").stdout
    listed = json.loads(steady(home, "policy", "list", "--json").stdout)
    assert [p["deployment"] for p in listed] == ["fraud"]
    assert steady(home, "policy", "remove", "fraud").exit_code == 0
    gone = steady(home, "policy", "show", "fraud")
    assert gone.exit_code == 1 and "has no policy" in gone.stderr


def test_policy_apply_rejects_a_bad_file_naming_each_line(home: Path, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", BAD_POLICY)
    result = steady(home, "policy", "apply", str(path))
    assert result.exit_code == 1 and result.stdout == ""
    assert f"{path}:2: window: expected a duration" in result.stderr
    assert f"{path}:4: drift.refrence: unknown key 'refrence'; did you mean 'reference'?" \
        in result.stderr
    assert steady(home, "policy", "show", "fraud").exit_code == 1  # nothing was stored
    missing = steady(home, "policy", "apply", str(tmp_path / "nope.yaml"))
    assert missing.exit_code == 1 and "Cannot read the policy file" in missing.stderr


def test_policy_example_applies_and_warns_of_an_unknown_deployment(home: Path,
                                                                  tmp_path: Path) -> None:
    example = steady(home, "policy", "example")
    assert example.exit_code == 0 and example.stdout.startswith("# A steadyml policy")
    text = example.stdout.replace("deployment: fraud", "deployment: later")
    result = steady(home, "policy", "apply", str(write(tmp_path / "ex.yaml", text)))
    assert result.exit_code == 0, result.output
    assert "may: promote, rollback, alert, retrain" in result.stdout
    assert "'later' does not exist yet" in result.stderr


# --- alerts and outcomes -------------------------------------------------------------------------

def test_alerts_start_empty(home: Path) -> None:
    result = steady(home, "alerts", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout) == []
    assert "No open alert(s)." in steady(home, "alerts").stdout
    assert json.loads(steady(home, "alerts", "--all", "-d", "fraud", "--json").stdout) == []


def test_outcomes_ingest_counts_unknown_request_ids_and_feeds_online_metrics(
        home: Path, tmp_path: Path) -> None:
    csv = write(tmp_path / "outcomes.csv",
                "request_id,value\nreq-1,1\nreq-2,1\nreq-3,0\nnever-served,1\n")
    result = steady(home, "outcomes", "ingest", str(csv), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"accepted": 4, "matched": 3, "unknown": 1}
    human = steady(home, "outcomes", "ingest", str(csv))
    assert "Accepted 4 outcome(s)" in human.stdout and "1 have a request id" in human.stdout
    metrics = json.loads(steady(home, "outcomes", "metrics", "fraud", "--json").stdout)
    stable = metrics["arms"]["stable"]
    # predictions alternate 0, 1: req-1 -> 1, req-2 -> 0, req-3 -> 1 against outcomes 1, 1, 0
    assert stable["n"] == 3 and stable["accuracy"] == pytest.approx(1 / 3)
    assert stable["model_version"] == 1 and metrics["unknown"] == 1
    table = steady(home, "outcomes", "metrics", "fraud", "--metric", "accuracy")
    assert table.exit_code == 0 and "0.3333" in table.stdout
    bad = steady(home, "outcomes", "ingest", str(write(tmp_path / "x.csv", "id,y\na,1\n")))
    assert bad.exit_code == 1 and "needs columns request_id and value" in bad.stderr


# --- drift ---------------------------------------------------------------------------------------

def test_drift_flags_the_shifted_feature(home: Path) -> None:
    result = steady(home, "drift", "fraud", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "drift" and doc["flagged"] == ["amount"]
    assert doc["window"]["rows"] == LOGGED and doc["policy"] == "default"
    (report,) = doc["reports"]
    assert report["reference"].startswith("training dataset transactions")
    amount = next(f for f in report["features"] if f["name"] == "amount")
    assert amount["drifted"] and amount["p_adjusted"] < 1e-6 and amount["psi"] > 1
    human = steady(home, "drift", "fraud", "--window", "30m")
    assert human.exit_code == 0
    assert "amount" in human.stdout and "flagged: amount" in human.stdout
    assert "p (Holm)" in human.stdout


def test_drift_says_plainly_when_samples_or_references_are_missing(home: Path,
                                                                  tmp_path: Path) -> None:
    strict = GOOD_POLICY.replace("window: 5m", "window: 5m\nmin_samples: 1000")
    assert steady(home, "policy", "apply", str(write(tmp_path / "p.yaml", strict))).exit_code == 0
    few = steady(home, "drift", "fraud")
    assert few.exit_code == 0
    assert "Not enough samples to judge drift yet: 300 rows" in few.stdout
    assert "Nothing is flagged" in few.stdout and "flagged:" not in few.stdout
    doc = json.loads(steady(home, "drift", "fraud", "--json").stdout)
    assert doc["status"] == "not_enough_samples" and doc["flagged"] == []
    assert doc["policy"] == "applied"
    earlier = json.loads(steady(home, "drift", "fraud", "--reference", "window",
                                "--json").stdout)
    assert earlier["status"] == "no_reference" and earlier["reports"] == []
    assert "no predictions were logged in the 1h window 7d earlier" in earlier["message"]
    # Every prediction is older than a millisecond: an empty window is no traffic, not drift.
    empty = json.loads(steady(home, "drift", "fraud", "--window", "1ms", "--json").stdout)
    assert empty["status"] == "no_data" and empty["flagged"] == [] and empty["reports"] == []
    report = steady(home, "report", "fraud", "--html", str(tmp_path / "r.html"),
                    "--window", "1ms")
    assert report.exit_code == 1 and "No successful predictions" in report.stderr


def test_drift_errors(home: Path) -> None:
    ghost = steady(home, "drift", "ghost")
    assert ghost.exit_code == 1 and "'ghost' does not exist" in ghost.stderr
    window = steady(home, "drift", "fraud", "--window", "5 minutes")
    assert window.exit_code == 1 and "--window: expected a duration" in window.stderr
    reference = steady(home, "drift", "fraud", "--reference", "yesterday")
    assert reference.exit_code == 2 and "yesterday" in reference.stderr


def test_report_writes_a_self_contained_html_page(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "out" / "fraud.html"
    result = steady(home, "report", "fraud", "--html", str(path))
    assert result.exit_code == 0, result.output
    assert str(path.absolute()) in result.stdout.replace("\n", "")
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Drift report: fraud" in page
    assert ">amount</a>" in page and ">age</a>" in page
    assert "training dataset transactions" in page and "<script src=" not in page


# --- the controller ------------------------------------------------------------------------------

def test_controller_once_then_timeline_and_alerts(home: Path, tmp_path: Path) -> None:
    assert steady(home, "policy", "apply",
                  str(write(tmp_path / "p.yaml", GOOD_POLICY))).exit_code == 0
    once = steady(home, "controller", "--once", "--json")
    assert once.exit_code == 0, once.output
    kinds = [e["kind"] for e in json.loads(once.stdout)]
    assert kinds == ["alert", "drift"]
    timeline = json.loads(steady(home, "timeline", "fraud", "--json").stdout)
    assert [e["kind"] for e in timeline] == kinds
    assert timeline[1]["message"] == "drifted: amount"
    assert "drifted: amount" in steady(home, "timeline", "fraud").stdout
    (alert,) = json.loads(steady(home, "alerts", "--json").stdout)
    assert alert["deployment"] == "fraud" and alert["key"] == "drift"
    assert alert["status"] == "open"
    missing = steady(home, "timeline", "ghost")
    assert missing.exit_code == 1 and "does not exist" in missing.stderr


def test_controller_loop_prints_events_and_stops_on_sigterm(home: Path, tmp_path: Path) -> None:
    assert steady(home, "policy", "apply",
                  str(write(tmp_path / "p.yaml", GOOD_POLICY))).exit_code == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    loop = subprocess.Popen([sys.executable, "-m", "steadyml", "--home", str(home),
                             "controller", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    watchdog = threading.Timer(60, loop.kill)  # the reads below block: never forever
    watchdog.start()
    try:
        assert loop.stdout is not None and loop.stderr is not None
        # The first pass judges drift at once: an alert, then the drift event.
        first, second = (json.loads(loop.stdout.readline()) for _ in range(2))
        assert (first["kind"], second["kind"]) == ("alert", "drift")
        assert second["deployment"] == "fraud" and second["message"] == "drifted: amount"
        loop.send_signal(signal.SIGTERM)
        rest, err = loop.stdout.read(), loop.stderr.read()  # read through the buffers
        loop.wait(timeout=60)
    finally:
        watchdog.cancel()
        if loop.poll() is None:
            loop.kill()
            loop.communicate()
    assert loop.returncode == 0, err
    assert rest == ""
    assert "controller running: 1 deployment(s)" in err and "controller stopped." in err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_server_runs_the_controller_and_stops_cleanly_on_sigterm(home: Path,
                                                               tmp_path: Path) -> None:
    assert steady(home, "policy", "apply",
                  str(write(tmp_path / "p.yaml", GOOD_POLICY))).exit_code == 0
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "steadyml", "--home", str(home), "server", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        with Platform(Settings(home=home)) as platform:
            while not drift_history(platform, "fraud"):  # the controller's first drift window
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "the controller did not judge drift"
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        while not _answers(f"{url}/v2/health/live"):
            assert server.poll() is None, server.communicate()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        drift = httpx.get(f"{url}/api/v1/deployments/fraud/drift", timeout=30)
        assert drift.status_code == 200 and drift.json()["flagged"] == ["amount"]
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err
    assert "controller running in this process: 1 deployment(s)" in out
    assert "Traceback" not in err and "leaked" not in err


# --- skew ----------------------------------------------------------------------------------------

def test_skew_compares_served_values_with_offline_ones_by_request_id(home: Path,
                                                                     tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(7)  # replay build_home's draws: training data, then the log
    rng.normal(0, 1, 500), rng.normal(40, 10, 500)
    rows = np.column_stack([rng.normal(2, 1, LOGGED), rng.normal(40, 10, LOGGED)])
    age = rows[:, 1].copy()
    age[:30] += 1.0  # the offline pipeline computes age one year later for 30 rows
    offline = tmp_path / "offline.parquet"
    pq.write_table(pa.table({"request_id": [f"req-{i}" for i in range(LOGGED)],
                             "amount": rows[:, 0], "age": age}), offline)
    result = steady(home, "skew", "fraud", "--offline", str(offline), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["status"] == "skew" and doc["window"]["rows"] == LOGGED
    report = doc["report"]
    assert report["matched_rows"] == LOGGED and report["flagged"] == ["age"]
    by_name = {f["name"]: f for f in report["features"]}
    assert by_name["age"]["mismatches"] == 30 and by_name["amount"]["mismatches"] == 0
    assert by_name["age"]["max_abs_diff"] == pytest.approx(1.0)
    human = steady(home, "skew", "fraud", "--offline", str(offline))
    assert human.exit_code == 0 and "Training–serving skew in age" in human.stdout
    # The training dataset holds no request ids: say so, do not guess.
    default = steady(home, "skew", "fraud")
    assert default.exit_code == 1 and "has no column(s) 'request_id'" in default.stderr
