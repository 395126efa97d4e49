from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_runs_end_to_end_and_lineage_names_data_and_commit(tmp_path: Path) -> None:
    env = {**os.environ, "STEADY_HOME": str(tmp_path / "home")}
    steady = [sys.executable, "-m", "steadyml"]
    demo = subprocess.run([*steady, "demo"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert demo.returncode == 0, demo.stderr
    assert "Step 7" in demo.stdout and "intact" in demo.stdout
    out = " ".join(demo.stdout.split())
    assert "diagnosis:2 answered" in out  # the canary took traffic
    assert "next 200 requests: diagnosis:1 answered 200 (100 %)" in out  # rolled back
    assert "Step 12" in out
    # The controller: a canary promoted step by step, a bad release rolled back, drift
    # alerted, a retrain pipeline stopped by its data gate, then one that passed both gates
    # and went out as a canary the controller promoted.
    assert "controller rollback: rolled back candidate diagnosis:3" in out
    assert "failed at step 'data-quality'" in out and "'mean_radius' null_rate" in out
    assert "gates: data-quality passed, model-quality passed" in out
    assert "controller promote: promoted diagnosis:4 to stable" in out
    triggers = subprocess.run([*steady, "pipeline", "triggers", "--json"], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)
    assert triggers.returncode == 0, triggers.stderr
    assert [t["kind"] for t in json.loads(triggers.stdout)] == ["drift", "drift"]
    lineage = subprocess.run([*steady, "lineage", "diagnosis@champion", "--json"], cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=120)
    assert lineage.returncode == 0, lineage.stderr
    doc = json.loads(lineage.stdout)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                          text=True)
    if head.returncode == 0:  # a git checkout: the commit the champion was trained from
        assert doc["code"]["commit"] == head.stdout.strip()
    training = [d for d in doc["datasets"] if d["context"] == "training"]
    assert training and len(training[0]["fingerprint"]) == 64
    assert training[0]["fingerprint"] in demo.stdout.replace("\n", "") or \
        training[0]["fingerprint"][:16] in demo.stdout
    audit = subprocess.run([*steady, "audit", "--verify"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=120)
    assert audit.returncode == 0, audit.stderr
