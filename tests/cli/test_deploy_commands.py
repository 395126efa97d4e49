from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

import steadyml
from steadyml import Platform, Settings
from steadyml.cli import app


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    X = np.random.default_rng(1).random((40, 2))
    y = (X[:, 0] > 0.5).astype(int)
    with Platform(Settings(home=home)) as platform:
        for _ in range(2):
            with steadyml.start_run("e", platform=platform) as run:
                run.register_model("m", LogisticRegression().fit(X, y), input_example=X)
    return home


def steady(home: Path, *args: str):
    return CliRunner().invoke(app, ["--home", str(home), *args])


def test_deploy_canary_status_rollback_lineage(home: Path) -> None:
    assert steady(home, "deploy", "fraud", "m:1").exit_code == 0
    canary = steady(home, "deploy", "fraud", "m:2", "--canary", "25", "--json")
    assert canary.exit_code == 0, canary.output
    assert json.loads(canary.stdout)["candidate"]["ref"] == "m:2"
    status = steady(home, "status", "fraud")
    assert "75 % of traffic" in status.stdout and "canary: 25 %" in status.stdout
    back = json.loads(steady(home, "rollback", "fraud", "--json").stdout)
    assert back["revision"] == 3 and back["candidate"] is None
    listed = json.loads(steady(home, "deployments", "list", "--json").stdout)
    assert [d["deployment"] for d in listed] == ["fraud"]
    history = json.loads(steady(home, "deployments", "history", "fraud", "--json").stdout)
    assert [h["reason"] for h in history] == ["rollback", "candidate", "deploy"]
    lineage = json.loads(steady(home, "lineage", "fraud", "--json").stdout)
    assert lineage["arms"][0]["model"] == "m:1" and lineage["revision"] == 3
    tree = steady(home, "lineage", "fraud")
    assert tree.exit_code == 0 and "revision 3" in tree.stdout and "m:1" in tree.stdout
    model_tree = steady(home, "lineage", "m:1")
    assert "serving: fraud (stable)" in model_tree.stdout


def test_deploy_errors(home: Path) -> None:
    result = steady(home, "promote", "ghost")
    assert result.exit_code == 1 and "does not exist" in result.stderr
    steady(home, "deploy", "fraud", "m:1")
    result = steady(home, "promote", "fraud")
    assert result.exit_code == 1 and "no candidate" in result.stderr
    result = steady(home, "deploy", "fraud", "m:2", "--canary", "10", "--shadow")
    assert result.exit_code == 1 and "one of" in result.stderr


def test_token_create_list_revoke(home: Path) -> None:
    created = json.loads(steady(home, "token", "create", "ci", "--json").stdout)
    assert created["token"].startswith("stdy_")
    listed = steady(home, "token", "list", "--json")
    assert created["token"] not in listed.stdout
    assert json.loads(listed.stdout)[0]["id"] == created["id"]
    assert steady(home, "token", "revoke", created["id"]).exit_code == 0
    assert json.loads(steady(home, "token", "list", "--json").stdout)[0]["revoked_ms"]
    missing = steady(home, "token", "revoke", "nope")
    assert missing.exit_code == 1 and "No token" in missing.stderr


def test_status_shows_live_figures_from_a_running_server(home: Path) -> None:
    from steadyml.serving.server import BackgroundServer, create_app

    steady(home, "deploy", "fraud", "m:1")
    offline = steady(home, "status", "fraud", "--server", "http://127.0.0.1:9")
    assert offline.exit_code == 0 and "no server answered" in offline.stdout
    with Platform(Settings(home=home)) as platform:
        app = create_app(platform, poll_interval_s=0.05, log_predictions=False)
        with BackgroundServer(app) as url:
            import httpx

            body = {"inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP64",
                                "data": [0.2, 0.9]}]}
            for _ in range(5):
                assert httpx.post(f"{url}/v2/models/fraud/infer", json=body).status_code == 200
            shown = steady(home, "status", "fraud", "--server", url, "--json")
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.stdout)
    assert doc["serving_revision"] == 1 and doc["live_error"] is None
    (arm,) = doc["live"]["live"].values()
    assert arm["requests"] == 5 and arm["model"] == "m:1" and arm["p99_ms"] > 0


def test_deploy_refuses_an_ungated_version_when_the_policy_requires_gates(
        home: Path, tmp_path: Path) -> None:
    assert steady(home, "deploy", "fraud", "m:1").exit_code == 0
    policy = tmp_path / "p.yaml"
    policy.write_text("deployment: fraud\nrequired_gates: [model-quality]\n")
    assert steady(home, "policy", "apply", str(policy)).exit_code == 0
    refused = steady(home, "deploy", "fraud", "m:2", "--canary", "10")
    assert refused.exit_code == 1
    assert "Model m:2 has no passing gate 'model-quality'" in refused.stderr
    assert "deploy with --force" in refused.stderr
    forced = steady(home, "deploy", "fraud", "m:2", "--canary", "10", "--force", "--json")
    assert forced.exit_code == 0, forced.output
    assert json.loads(forced.stdout)["candidate"]["ref"] == "m:2"
    with Platform(Settings(home=home)) as platform:
        platform.registry.record_gate("m:2", {"gate": "model-quality", "passed": False, "checks": [
            {"check": "metric_min", "subject": "roc_auc", "passed": False, "actual": 0.6,
             "expected": ">= 0.8"}]})
    shown = json.loads(steady(home, "models", "show", "m:2", "--json").stdout)
    assert [(g["gate"], g["passed"]) for g in shown["gates"]] == [("model-quality", False)]
    human = steady(home, "models", "show", "m:2")
    assert "FAILED" in human.stdout and "roc_auc metric_min" in human.stdout
