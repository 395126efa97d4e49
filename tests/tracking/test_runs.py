from __future__ import annotations

import math

import pytest
import sqlalchemy as sa

import steadyml
from steadyml import Platform, RunStatus
from steadyml.core.errors import (
    InvalidInputError,
    InvalidNameError,
    RunNotFoundError,
    RunStateError,
)
from steadyml.store import tables
from steadyml.tracking.environment import capture_code, clear_code_cache


def test_run_records_params_metrics_tags_and_status(platform: Platform) -> None:
    with steadyml.start_run("churn", name="first", params={"lr": 0.1},
                            platform=platform) as run:
        run.log_params({"depth": 3, "model": "rf"})
        run.log_metric("loss", 0.9, step=0)
        run.log_metric("loss", 0.5, step=1)
        run.log_metrics({"acc": 0.8, "auc": 0.85}, step=1)
        run.set_tags({"team": "risk"})
    got = platform.tracking.get_run(run.id)
    assert got.status is RunStatus.FINISHED
    assert got.end_ms is not None and got.end_ms >= got.start_ms
    assert got.params == {"lr": "0.1", "depth": "3", "model": "rf"}
    assert got.metrics == {"loss": 0.5, "acc": 0.8, "auc": 0.85}
    assert got.tags == {"team": "risk"}
    assert got.experiment == "churn" and got.name == "first" and got.actor == "tester"
    history = platform.tracking.metric_history(run.id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 0.9), (1, 0.5)]


def test_latest_metric_is_highest_step_not_last_logged(platform: Platform) -> None:
    with steadyml.start_run("e", platform=platform) as run:
        run.log_metric("loss", 0.3, step=5)
        run.log_metric("loss", 0.9, step=2)  # a late, older step must not win
        run.log_batch(metrics=[("x", 1.0, 1, 10), ("x", 2.0, 1, 20), ("x", 3.0, 0, 30)])
    got = platform.tracking.get_run(run.id)
    assert got.metrics["loss"] == 0.3
    assert got.metrics["x"] == 2.0


def test_nan_and_infinite_metrics_round_trip(platform: Platform) -> None:
    with steadyml.start_run("e", platform=platform) as run:
        run.log_metrics({"diverged": math.nan, "big": math.inf})
    got = platform.tracking.get_run(run.id)
    assert math.isnan(got.metrics["diverged"])
    assert got.metrics["big"] == math.inf


def test_failed_block_marks_run_failed(platform: Platform) -> None:
    with pytest.raises(ZeroDivisionError), steadyml.start_run("e", platform=platform) as run:
        1 / 0  # noqa: B018
    assert platform.tracking.get_run(run.id).status is RunStatus.FAILED


def test_finished_run_rejects_new_data(platform: Platform) -> None:
    with steadyml.start_run("e", platform=platform) as run:
        pass
    with pytest.raises(RunStateError, match="FINISHED"):
        run.log_metric("late", 1.0)


def test_params_are_write_once(platform: Platform) -> None:
    with steadyml.start_run("e", platform=platform) as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)  # the same value again is fine
        with pytest.raises(RunStateError, match="write-once"):
            run.log_param("lr", 0.2)


def test_bad_batch_leaves_nothing_written(platform: Platform) -> None:
    with steadyml.start_run("e", platform=platform) as run:
        with pytest.raises(InvalidInputError, match="'b'"):
            run.log_metrics({"a": 1.0, "b": "not a number"})  # type: ignore[dict-item]
        with pytest.raises(InvalidNameError):
            run.log_batch(metrics=[("ok", 1.0, 0, 0)], params={"bad..key": 1})
    with platform.store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.metrics)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.params)).scalar() == 0


def test_unknown_run_raises_not_found(platform: Platform) -> None:
    with pytest.raises(RunNotFoundError, match="steady runs list"):
        platform.tracking.get_run("0" * 32)


def test_run_creation_and_end_are_audited(platform: Platform) -> None:
    with steadyml.start_run("e", platform=platform) as run:
        pass
    actions = [e.action for e in platform.audit_entries(subject=f"run:{run.id}")]
    assert actions == ["run.finished", "run.created"]
    assert platform.verify_audit().ok


def test_run_captures_code_and_environment(platform: Platform, tmp_path, monkeypatch) -> None:
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*git[:5], "init", "-q", str(repo)], check=True)
    (repo / "train.py").write_text("print('v1')\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    monkeypatch.chdir(repo)
    with steadyml.start_run("e", platform=platform) as clean:
        pass
    (repo / "train.py").write_text("print('v2')\n")
    clear_code_cache()  # a reading is reused for up to 2 s; this test edits within that
    with steadyml.start_run("e", platform=platform) as dirty:
        pass
    a, b = platform.tracking.get_run(clean.id), platform.tracking.get_run(dirty.id)
    assert a.code.commit == head and a.code.dirty is False and a.code.diff_hash is None
    assert b.code.commit == head and b.code.dirty is True and len(b.code.diff_hash or "") == 64
    details = platform.tracking.run_details(a.id)
    env = details["environment"]
    assert env["hash"] == a.environment_hash
    assert any(p.lower().startswith("sqlalchemy==") for p in env["packages"])


def test_code_reading_is_reused_briefly_then_refreshed(tmp_path) -> None:
    import subprocess

    repo = tmp_path / "r"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "a.py").write_text("1\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    clean = capture_code(repo)
    (repo / "a.py").write_text("2\n")
    assert capture_code(repo, max_age_s=3600) == clean  # reused: no git run
    edited = capture_code(repo, max_age_s=0)
    assert edited.dirty and edited.commit == clean.commit
    (repo / "a.py").write_text("3\n")
    again = capture_code(repo, max_age_s=0)
    assert again.diff_hash != edited.diff_hash  # the hash follows the content
    (repo / "new.txt").write_text("x")
    with_untracked = capture_code(repo, max_age_s=0)
    assert with_untracked.diff_hash not in (edited.diff_hash, again.diff_hash)
    subprocess.run([*git, "commit", "-qam", "two"], check=True)  # HEAD moves: re-read
    committed = capture_code(repo, max_age_s=3600)
    assert committed.commit != clean.commit
    assert capture_code(tmp_path).commit is None  # not inside a repository
