"""Run locks and trigger records on a real store, and two real processes racing for a target."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from steadyml import Platform, Settings
from steadyml.core.clock import FixedClock
from steadyml.pipelines import (
    Pipeline,
    PipelineBusyError,
    Pipelines,
    RunGuard,
    RunLocks,
    StepFailedError,
    Trigger,
    TriggerKind,
    Triggers,
    step,
)
from steadyml.store.tables import audit_log

WriteFile = Callable[[str, str], Path]

# A step that says it started, then holds its run open until the test lets it go.
BLOCKER = '''
import os
import time
from pathlib import Path

from steadyml.pipelines import Pipeline, step


@step(outputs="done")
def hold(gate: str = "") -> int:
    Path(gate + ".started").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not Path(gate + ".release").exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.02)
    return 1


blocker = Pipeline("blocker", [hold])
'''


@step(outputs="total")
def add(a: int = 1, b: int = 2) -> int:
    return a + b


@step(outputs="nothing")
def explode(total: int) -> int:
    raise RuntimeError("boom")


@step(outputs="nothing")
def interrupt(total: int) -> int:
    raise KeyboardInterrupt


def dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def wait_for(predicate: Callable[[], Any], what: str, timeout_s: float = 120) -> Any:
    """Poll until `predicate` is truthy (readiness, not timing); fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not (found := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)
    return found


# --- locks ---------------------------------------------------------------------------------------

def test_acquire_refuse_release(platform: Platform) -> None:
    clock = FixedClock()
    locks = RunLocks(platform.store, clock, stale_after_s=60)
    lock, replaced = locks.try_acquire("fraud", "churn")
    assert lock is not None and replaced is None
    held = locks.attach(lock, "a" * 32, trigger_id=7)
    assert locks.get("fraud") == held and held.run_id == "a" * 32

    other, holder = RunLocks(platform.store, clock, stale_after_s=60).try_acquire("fraud", "x")
    assert other is None and holder == held
    free, _ = locks.try_acquire("another-target", "churn")
    assert free is not None

    clock.advance(59_000)
    assert locks.heartbeat(held)
    clock.advance(59_000)  # the heartbeat keeps it fresh
    assert locks.try_acquire("fraud", "x")[0] is None
    locks.release(held)
    assert locks.get("fraud") is None
    assert not locks.heartbeat(held)
    again, _ = locks.try_acquire("fraud", "x")
    assert again is not None and again.pipeline == "x"
    assert [lock.target for lock in locks.list()] == ["another-target", "fraud"]


def test_a_stale_lock_is_taken_over_and_audited(platform: Platform) -> None:
    clock = FixedClock()
    elsewhere = RunLocks(platform.store, clock, host="other-host", pid=os.getpid(),
                         stale_after_s=60)
    old, _ = elsewhere.try_acquire("fraud", "churn")
    assert old is not None
    here = RunLocks(platform.store, clock, stale_after_s=60)
    clock.advance(60_000)  # exactly at the timeout: still held
    assert here.try_acquire("fraud", "churn")[0] is None
    clock.advance(1_000)
    new, replaced = here.try_acquire("fraud", "churn")
    assert new is not None and replaced == old
    assert not elsewhere.heartbeat(old)  # the old holder learns it lost the lock
    elsewhere.release(old)  # and cannot release the new holder's lock
    assert here.get("fraud") == new
    with platform.store.read() as conn:
        entry = conn.execute(sa.select(audit_log).where(
            audit_log.c.action == "pipeline.lock_takeover")).one()
    assert entry.subject == "target:fraud" and "61 s ago" in entry.evidence


def test_a_lock_whose_process_is_gone_is_taken_over_at_once(platform: Platform) -> None:
    clock = FixedClock()
    gone = RunLocks(platform.store, clock, pid=dead_pid())
    old, _ = gone.try_acquire("fraud", "churn")
    assert old is not None
    other_host = RunLocks(platform.store, clock, host="other-host")
    assert other_host.try_acquire("fraud", "churn")[0] is None  # cannot see that host's pids
    new, replaced = RunLocks(platform.store, clock).try_acquire("fraud", "churn")
    assert new is not None and replaced == old
    assert replaced.stale_reason(clock.now_ms(), stale_after_s=600,
                                 host=socket.gethostname()) == (
        f"its process {old.pid} on {socket.gethostname()} is gone")


# --- runs and trigger records --------------------------------------------------------------------

def test_a_second_run_of_a_busy_target_is_refused_and_recorded(platform: Platform) -> None:
    pipelines = Pipelines(platform)
    adder = Pipeline("adder", [add], target="fraud")
    with RunGuard(platform, "retrain", "fraud",
                  Trigger(TriggerKind.SCHEDULE, "nightly")) as holder:
        holder.attach(platform.tracking.create_run("retrain"))
        drift = Trigger(TriggerKind.DRIFT, "fraud", {"drifted_features": ["amount"]})
        with pytest.raises(PipelineBusyError) as caught:
            pipelines.run(adder, trigger=drift)
        message = str(caught.value)
        assert message.startswith(f"Target 'fraud' is busy: pipeline 'retrain' run "
                                  f"{holder.lock.run_id} has held it since ")
        assert "This drift trigger was refused; wait for it to end, or pass --wait" in message
        other = pipelines.run(adder, target="another")  # other targets are free
        assert other.status == "FINISHED"
    run = pipelines.run(adder, trigger=drift)
    assert platform.tracking.get_run(run.run_id).tags["steady.trigger"] == "drift"
    assert platform.tracking.get_run(run.run_id).tags["steady.drifted_features"] == "amount"
    assert RunLocks(platform.store, platform.clock).list() == []

    records = Triggers(platform).list()
    assert [(t.pipeline, t.target, t.kind, t.status) for t in records] == [
        ("adder", "fraud", "drift", "started"), ("adder", "another", "manual", "started"),
        ("adder", "fraud", "drift", "refused"), ("retrain", "fraud", "schedule", "started")]
    assert records[0].run_id == run.run_id and records[1].origin == "tester"
    refused = records[2]
    assert refused.run_id is None and refused.reason == message
    assert refused.detail == {"drifted_features": ["amount"], "blocked_by": records[3].run_id}
    assert Triggers(platform).list(target="another", limit=5)[0].run_id == other.run_id


def test_the_lock_is_released_however_the_run_ends(platform: Platform) -> None:
    pipelines = Pipelines(platform)
    locks = RunLocks(platform.store, platform.clock)
    with pytest.raises(StepFailedError):
        pipelines.run(Pipeline("failing", [add, explode]))
    assert locks.list() == []
    with pytest.raises(KeyboardInterrupt):
        pipelines.run(Pipeline("interrupted", [add, interrupt]))
    assert locks.list() == []
    assert [t.status for t in Triggers(platform).list()] == ["started", "started"]


def test_wait_queues_then_runs_when_the_holder_ends(platform: Platform) -> None:
    import threading

    pipelines = Pipelines(platform)
    adder = Pipeline("adder", [add])
    holder = RunGuard(platform, "adder", "adder").__enter__()
    results: list[Any] = []
    waiter = threading.Thread(target=lambda: results.append(
        pipelines.run(adder, wait_s=300)))
    waiter.start()
    queued = wait_for(lambda: [t for t in Triggers(platform).list() if t.status == "queued"],
                      "the queued trigger")
    assert queued[0].reason.startswith("waiting up to 300 s: pipeline 'adder' a run that is "
                                       "starting has held it since")
    holder.__exit__(None, None, None)
    waiter.join()
    run = results[0]
    record = Triggers(platform).list()[0]
    assert record.id == queued[0].id and record.status == "started"
    assert record.run_id == run.run_id and record.decided_ms is not None


def test_wait_gives_up_at_its_timeout(platform: Platform) -> None:
    with RunGuard(platform, "adder", "adder"):
        with pytest.raises(PipelineBusyError, match="refused after waiting 0.05 s; pass a "
                                                    "longer --wait"):
            Pipelines(platform).run(Pipeline("adder", [add]), wait_s=0.05)
    assert [t.status for t in Triggers(platform).list()] == ["refused", "started"]


# --- two processes ------------------------------------------------------------------------------

def steady(home: Path, *args: str, env: dict[str, str] | None = None,
           background: bool = False) -> Any:
    base = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    command = [sys.executable, "-m", "steadyml", "--home", str(home), *args]
    if background:
        return subprocess.Popen(command, env={**base, **(env or {})}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=300, check=False)


def test_processes_racing_for_a_target(tmp_path: Path, write_file: WriteFile) -> None:
    home = tmp_path / "home"
    ref = f"{write_file('blocker.py', BLOCKER)}:blocker"
    gate = str(tmp_path / "gate")
    scheduled = steady(home, "pipeline", "run", ref, "--trigger", "schedule", "--target",
                       "fraud", "-p", f"gate={gate}", "--json",
                       env={"STEADY_SCHEDULE": "nightly"}, background=True)
    try:
        wait_for(lambda: Path(gate + ".started").exists() or scheduled.poll() is not None,
                 "the scheduled run to start")
        assert scheduled.poll() is None, scheduled.communicate()
        with Platform(Settings(home=home)) as platform:
            held = RunLocks(platform.store, platform.clock).get("fraud")
        assert held is not None and held.run_id and held.pid == scheduled.pid

        drift = steady(home, "pipeline", "run", ref, "--trigger", "drift", "--target", "fraud",
                       "-p",
                       f"gate={gate}", env={"STEADY_DEPLOYMENT": "fraud",
                                            "STEADY_DRIFTED_FEATURES": "amount,age"})
        assert drift.returncode == 75  # EX_TEMPFAIL: the controller records "busy"
        assert (f"error: Target 'fraud' is busy: pipeline 'blocker' run {held.run_id} has held "
                "it since ") in " ".join(drift.stderr.split())

        queued = steady(home, "pipeline", "run", ref, "--target", "fraud", "--wait", "300",
                        "-p", f"gate={gate}", "--json", background=True)
        try:
            wait_for(lambda: any(t["status"] == "queued" for t in json.loads(steady(
                home, "pipeline", "triggers", "--json").stdout)), "the queued trigger")
            Path(gate + ".release").write_text("go")
            out, err = scheduled.communicate(timeout=300)
            assert scheduled.returncode == 0, err
            out2, err2 = queued.communicate(timeout=300)
            assert queued.returncode == 0, err2
        finally:
            queued.kill()
    finally:
        Path(gate + ".release").write_text("go")
        scheduled.kill()
        scheduled.wait()
    first, third = json.loads(out), json.loads(out2)
    assert first["run_id"] == held.run_id

    listed = steady(home, "pipeline", "triggers", "--json")
    assert listed.returncode == 0, listed.stderr
    triggers = json.loads(listed.stdout)
    assert [(t["kind"], t["origin"], t["target"], t["status"], t["run_id"])
            for t in reversed(triggers)] == [
        ("schedule", "nightly", "fraud", "started", first["run_id"]),
        ("drift", "fraud", "fraud", "refused", None),
        ("manual", triggers[0]["origin"], "fraud", "started", third["run_id"])]
    assert triggers[1]["detail"] == {"deployment": "fraud", "drifted_features": ["amount", "age"],
                                     "blocked_by": first["run_id"]}
    table = steady(home, "pipeline", "triggers")
    assert table.returncode == 0 and "3 trigger(s)" in table.stdout
    with Platform(Settings(home=home)) as platform:
        tags = platform.tracking.get_run(first["run_id"]).tags
        assert tags["steady.trigger"] == "schedule" and tags["steady.target"] == "fraud"
        assert tags["steady.trigger_origin"] == "nightly"
        assert RunLocks(platform.store, platform.clock).list() == []
    assert json.loads(steady(home, "pipeline", "locks", "--json").stdout) == []
