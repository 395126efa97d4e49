"""The scheduler `steady server` runs: each tick, start the due schedules' pipeline runs.

Each run is a child process, `python -m steadyml pipeline run FILE:PIPELINE --trigger
schedule ...`, the way the controller runs retrain commands: a pipeline that crashes or leaks
memory cannot take the server down, and the run takes its target's lock like any other, so a
scheduled run while a drift-triggered run of the same target holds it is refused and recorded.
Its exit code and the tail of its output are stored on the schedule.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from steadyml.core.settings import ENV_ARTIFACTS, ENV_DB_URL, ENV_HOME
from steadyml.pipelines.schedules import Schedule, Schedules
from steadyml.pipelines.triggers import (
    ENV_SCHEDULE,
    Trigger,
    TriggerKind,
    Triggers,
    TriggerStatus,
)
from steadyml.platform import Platform

log = logging.getLogger("steadyml.pipelines")

DEFAULT_TICK_S = 10.0


@dataclass
class Launch:
    """A scheduled run started as a child process."""

    schedule: Schedule
    started_ms: int
    command: list[str]
    process: subprocess.Popen[bytes] | None
    output: IO[bytes] | None
    exit_code: int | None = None


Launcher = Callable[[list[str], dict[str, str], IO[bytes]], "subprocess.Popen[bytes]"]


def launch_process(command: list[str], env: dict[str, str],
                   output: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start a run in its own session, so the terminal's Ctrl-C to the server spares it."""
    return subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=output,
                            stderr=subprocess.STDOUT, start_new_session=True)


class Scheduler:
    """Start due pipeline schedules every `tick_s` in a background thread (start/stop).

    `run_due(now_ms)` is one tick, also callable directly (tests drive the platform's clock).
    Stopping ends the loop; runs already started finish on their own and release their locks.
    """

    def __init__(self, platform: Platform, *, tick_s: float = DEFAULT_TICK_S,
                 launcher: Launcher = launch_process) -> None:
        self.platform = platform
        self.tick_s = tick_s
        self.launcher = launcher
        self.schedules = Schedules(platform)
        self.running: list[Launch] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_due(self, now_ms: int | None = None) -> list[Launch]:
        """Claim the schedules due now and start each one's run; record those that ended."""
        self.reap()
        now = self.platform.clock.now_ms() if now_ms is None else now_ms
        return [self._launch(s, now) for s in self.schedules.claim_due(now)]

    def reap(self, *, timeout_s: float | None = 0.0) -> list[Launch]:
        """Record the runs that have exited (waiting up to `timeout_s` each; None: no limit)."""
        done = []
        for launch in list(self.running):
            assert launch.process is not None
            try:
                code = (launch.process.poll() if timeout_s == 0
                        else launch.process.wait(timeout_s))
            except subprocess.TimeoutExpired:
                code = None
            if code is None:
                continue
            self._finish(launch, code)
            done.append(launch)
        return done

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="steadyml-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.reap()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for launch in self.run_due():
                    log.info("schedule %s: started %s", launch.schedule.name,
                             " ".join(launch.command))
            except Exception:  # the store may be briefly unreachable: try at the next tick
                log.exception("scheduler tick failed")
            self._stop.wait(self.tick_s)

    def _launch(self, schedule: Schedule, now_ms: int) -> Launch:
        command = schedule_command(schedule)
        settings = self.platform.settings
        env = {**os.environ, ENV_HOME: str(settings.home.absolute()),
               ENV_DB_URL: settings.resolved_db_url,
               ENV_ARTIFACTS: settings.resolved_artifacts, ENV_SCHEDULE: schedule.name}
        output = tempfile.TemporaryFile()  # noqa: SIM115 - closed once the run has exited
        try:
            process = self.launcher(command, env, output)
        except OSError as exc:
            output.close()
            launch = Launch(schedule, now_ms, command, None, None, exit_code=-1)
            message = f"could not start {command[0]!r}: {exc}"
            Triggers(self.platform).record(
                schedule.pipeline, schedule.target or schedule.pipeline,
                Trigger(TriggerKind.SCHEDULE, schedule.name), TriggerStatus.REFUSED,
                reason=message)
            self.schedules.record_exit(schedule.name, now_ms, -1, message)
            return launch
        launch = Launch(schedule, now_ms, command, process, output)
        self.running.append(launch)
        return launch

    def _finish(self, launch: Launch, code: int) -> None:
        self.running.remove(launch)
        launch.exit_code = code
        assert launch.output is not None
        launch.output.seek(0)
        text = launch.output.read().decode(errors="replace")
        launch.output.close()
        self.schedules.record_exit(launch.schedule.name, launch.started_ms, code, text)
        (log.info if code == 0 else log.error)("schedule %s: run exited %s",
                                               launch.schedule.name, code)


def schedule_command(schedule: Schedule) -> list[str]:
    """Return the command line that runs one tick of `schedule`."""
    command = [sys.executable, "-m", "steadyml", "pipeline", "run", schedule.ref,
               "--trigger", TriggerKind.SCHEDULE.value]
    if schedule.target:
        command += ["--target", schedule.target]
    for key, value in sorted(schedule.params.items()):
        command += ["--param", f"{key}={value}"]
    return command
