"""Cron schedules on a real store, and the scheduler starting real `steady pipeline run`s."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from steadyml import Platform, Settings
from steadyml.cli import app
from steadyml.core.clock import FixedClock
from steadyml.pipelines import (
    InvalidScheduleError,
    Pipelines,
    ScheduleExistsError,
    ScheduleNotFoundError,
    Scheduler,
    Schedules,
    Triggers,
)
from steadyml.pipelines.schedulers import schedule_command
from steadyml.pipelines.schedules import check_cron, next_run_ms

WriteFile = Callable[[str, str], Path]

ADDER = '''
from steadyml.pipelines import Pipeline, step


@step(outputs="total")
def add(a: int = 1, b: int = 2) -> int:
    print("adding", a, b)
    return a + b


adder = Pipeline("adder", [add], target="adder-target")
'''


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def clocked(platform: Platform) -> Iterator[Platform]:
    """The test's platform with a clock fixed at Sunday 2026-11-22 00:00 UTC."""
    with Platform(platform.settings, clock=FixedClock(ms("2026-11-22T00:00:00"))) as opened:
        yield opened


def test_cron_is_checked_naming_the_field() -> None:
    assert check_cron(" 0  3 * * mon ") == "0 3 * * mon"
    with pytest.raises(InvalidScheduleError, match=r"the minute field '61' is not valid"):
        check_cron("61 * * * *")
    with pytest.raises(InvalidScheduleError, match=r"the day of week field 'funday'"):
        check_cron("0 3 * * funday")
    with pytest.raises(InvalidScheduleError, match=r"has 4 field\(s\); a cron expression has "
                                                   r"five: minute, hour"):
        check_cron("0 3 * *")
    with pytest.raises(InvalidScheduleError, match="'Mars/Olympus' is not a known time zone"):
        check_cron("0 3 * * *", "Mars/Olympus")


def test_next_run_is_the_next_match_in_the_schedule_time_zone() -> None:
    sunday = ms("2026-11-22T00:00:00")
    assert next_run_ms("0 3 * * 1", sunday) == ms("2026-11-23T03:00:00")
    assert next_run_ms("0 3 * * *", ms("2026-11-22T03:00:00")) == ms("2026-11-23T03:00:00")
    # 03:00 in Paris is 02:00 UTC in winter
    assert next_run_ms("0 3 * * *", sunday, "Europe/Paris") == ms("2026-11-22T02:00:00")


def test_add_list_remove(clocked: Platform) -> None:
    schedules = Schedules(clocked)
    added = schedules.add("nightly", ref="/p/adder.py:adder", pipeline="adder", cron="0 3 * * *",
                          params={"a": "5"}, target="fraud")
    assert added.next_run_ms == ms("2026-11-22T03:00:00") and added.created_by == "tester"
    with pytest.raises(ScheduleExistsError, match="already exists"):
        schedules.add("nightly", ref="/p/adder.py:adder", pipeline="adder", cron="* * * * *")
    with pytest.raises(InvalidScheduleError):
        schedules.add("bad", ref="/p/adder.py:adder", pipeline="adder", cron="0 25 * * *")
    assert schedules.list() == [added] and schedules.get("nightly") == added
    assert schedules.remove("nightly") == added
    assert schedules.list() == []
    with pytest.raises(ScheduleNotFoundError, match="steady pipeline schedule list"):
        schedules.remove("nightly")


def test_run_due_claims_each_tick_once_across_schedulers(clocked: Platform) -> None:
    started: list[list[str]] = []

    def record(command, env, output):  # noqa: ANN001, ANN202 - a launcher that starts nothing
        started.append(command)
        raise OSError("not starting anything in this test")

    Schedules(clocked).add("nightly", ref="/p/adder.py:adder", pipeline="adder",
                           cron="0 3 * * *")
    scheduler = Scheduler(clocked, launcher=record)
    assert scheduler.run_due(ms("2026-11-22T02:59:59")) == []
    others = [Scheduler(Platform(clocked.settings), launcher=record) for _ in range(4)]
    barrier = threading.Barrier(len(others))
    claimed: list[int] = []

    def tick(other: Scheduler) -> None:
        barrier.wait()
        claimed.append(len(other.run_due(ms("2026-11-22T03:00:05"))))

    threads = [threading.Thread(target=tick, args=(o,)) for o in others]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == [0, 0, 0, 1] and len(started) == 1
    assert scheduler.run_due(ms("2026-11-22T03:00:06")) == []
    schedule = Schedules(clocked).get("nightly")
    assert schedule.next_run_ms == ms("2026-11-23T03:00:00")
    assert schedule.last_run_ms == ms("2026-11-22T03:00:05")
    assert schedule.last_exit_code == -1 and "could not start" in (schedule.last_output or "")
    refused = Triggers(clocked).list()
    assert [(t.kind, t.origin, t.status) for t in refused] == [("schedule", "nightly", "refused")]
    # a day missed while no scheduler ran is one run, not a backlog
    assert len(scheduler.run_due(ms("2026-11-26T12:00:00"))) == 1
    assert Schedules(clocked).get("nightly").next_run_ms == ms("2026-11-27T03:00:00")
    for other in others:
        other.platform.close()


def test_a_due_schedule_runs_the_pipeline_in_a_process(clocked: Platform,
                                                       write_file: WriteFile) -> None:
    path = write_file("adder.py", ADDER)
    Schedules(clocked).add("nightly", ref=f"{path}:adder", pipeline="adder", cron="0 3 * * *",
                           params={"a": "40"})
    scheduler = Scheduler(clocked)
    launches = scheduler.run_due(ms("2026-11-22T03:00:00"))
    assert [launch.command for launch in launches] == [
        schedule_command(Schedules(clocked).get("nightly"))]
    assert scheduler.run_due(ms("2026-11-22T03:00:00")) == []
    finished = scheduler.reap(timeout_s=300)
    assert [launch.exit_code for launch in finished] == [0]
    schedule = Schedules(clocked).get("nightly")
    assert schedule.last_exit_code == 0 and "1 step(s) ran" in (schedule.last_output or "")

    run = Pipelines(clocked).list_runs(pipeline="adder")[0]
    assert run.status == "FINISHED" and run.params == {"seed": 0, "a": 40}
    tags = clocked.tracking.get_run(run.run_id).tags
    assert tags["steady.trigger"] == "schedule" and tags["steady.target"] == "adder-target"
    record = Triggers(clocked).list()[0]
    assert (record.kind, record.origin, record.status, record.run_id) == (
        "schedule", "nightly", "started", run.run_id)
    scheduler.start()  # the loop runs a tick at once (nothing is due) and stops on request
    scheduler.stop()


def invoke(home: Path, *args: str):
    return CliRunner().invoke(app, ["--home", str(home), *args])


def test_schedule_cli(tmp_path: Path, write_file: WriteFile) -> None:
    home = tmp_path / "home"
    ref = f"{write_file('adder.py', ADDER)}:adder"
    added = invoke(home, "pipeline", "schedule", "add", "nightly", ref, "--cron", "0 3 * * 1",
                   "-p", "a=3", "--target", "fraud", "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["params"] == {"a": "3"}
    text = invoke(home, "pipeline", "schedule", "add", "hourly", ref, "--cron", "0 * * * *",
                  "--tz", "Europe/Paris")
    assert text.exit_code == 0 and "Scheduled hourly: pipeline adder at 0 * * * *" in \
        " ".join(text.stdout.split())

    bad = invoke(home, "pipeline", "schedule", "add", "bad", ref, "--cron", "0 3 * * 8")
    assert bad.exit_code == 1 and "the day of week field '8' is not valid" in bad.stderr
    wrong = invoke(home, "pipeline", "schedule", "add", "bad", ref, "--cron", "0 3 * * *",
                   "-p", "a=x")
    assert wrong.exit_code == 1 and "--param a=x is wrong" in wrong.stderr
    again = invoke(home, "pipeline", "schedule", "add", "nightly", ref, "--cron", "0 3 * * *")
    assert again.exit_code == 1 and "already exists" in again.stderr

    listed = json.loads(invoke(home, "pipeline", "schedule", "list", "--json").stdout)
    assert [(s["name"], s["cron"], s["timezone"], s["target"]) for s in listed] == [
        ("hourly", "0 * * * *", "Europe/Paris", None), ("nightly", "0 3 * * 1", "UTC", "fraud")]
    table = invoke(home, "pipeline", "schedule", "list")
    assert table.exit_code == 0 and "2 pipeline schedule(s)" in table.stdout
    assert invoke(home, "pipeline", "schedule", "remove", "hourly").exit_code == 0
    missing = invoke(home, "pipeline", "schedule", "remove", "hourly")
    assert missing.exit_code == 1 and "No pipeline schedule is named 'hourly'" in missing.stderr
    with Platform(Settings(home=home)) as platform:
        assert [s.name for s in Schedules(platform).list()] == ["nightly"]


@pytest.mark.parametrize("command", [["server", "--port", "0", "--no-controller"],
                                     ["controller"]], ids=["server", "controller"])
def test_steady_server_and_controller_start_due_schedules(
        tmp_path: Path, write_file: WriteFile, command: list[str]) -> None:
    home = tmp_path / "home"
    path = write_file("adder.py", ADDER)
    # added with a clock a day behind, so the schedule is due as soon as the server starts
    with Platform(Settings(home=home), clock=FixedClock(ms("2026-01-01T00:00:00"))) as platform:
        Schedules(platform).add("nightly", ref=f"{path}:adder", pipeline="adder",
                                cron="0 3 * * *", params={"b": "5"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "steadyml", "--home", str(home), *command],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        with Platform(Settings(home=home)) as platform:
            while not [r for r in Pipelines(platform).list_runs() if r.status == "FINISHED"]:
                assert server.poll() is None, server.communicate()
                assert time.monotonic() < deadline, "the scheduled run did not finish"
                time.sleep(0.05)
            run = Pipelines(platform).list_runs()[0]
            assert run.params == {"seed": 0, "b": 5}
            assert Triggers(platform).list()[0].origin == "nightly"
            assert Schedules(platform).get("nightly").next_run_ms > ms("2026-11-01T00:00:00")
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err
    if command[0] == "server":
        assert "scheduler running in this process: 1 pipeline schedule(s)" in out
    assert "Traceback" not in err
