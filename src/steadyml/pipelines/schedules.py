"""Cron schedules of pipelines, stored in the metadata store; `Scheduler` starts their runs.

A schedule names a pipeline file (`FILE:PIPELINE`), a cron expression read in a time zone
(UTC by default), command-line params and an optional target. The scheduler that finds a
schedule due claims the tick by moving `next_run_ms` forward in the same transaction (an
update that only matches the value it read), so of two servers on one store exactly one starts
each tick. Ticks missed while no scheduler ran are not replayed: the next run after a gap is
one run, then the schedule continues from the current time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from steadyml.core.errors import ConflictError, InvalidInputError, NotFoundError
from steadyml.core.fingerprints import canonical_json
from steadyml.core.ids import check_name
from steadyml.pipelines.errors import PipelineError
from steadyml.platform import Platform
from steadyml.store import audit
from steadyml.store.tables import pipeline_schedules

CRON_FIELDS = ("minute", "hour", "day of month", "month", "day of week")
OUTPUT_TAIL_CHARS = 4000


class InvalidScheduleError(PipelineError, InvalidInputError):
    """A cron expression, time zone or schedule name cannot be used."""


class ScheduleNotFoundError(PipelineError, NotFoundError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No pipeline schedule is named {name!r}. "
                         "List schedules with `steady pipeline schedule list`.")


class ScheduleExistsError(PipelineError, ConflictError):
    def __init__(self, name: str) -> None:
        super().__init__(f"A pipeline schedule named {name!r} already exists; remove it first "
                         f"with `steady pipeline schedule remove {name}`, or pick another name.")


@dataclass(frozen=True)
class Schedule:
    """A pipeline run on a cron schedule, and how its last start went."""

    name: str
    ref: str
    pipeline: str
    cron: str
    timezone: str
    params: dict[str, str]
    target: str | None
    created_ms: int
    created_by: str
    next_run_ms: int
    last_run_ms: int | None = None
    last_exit_code: int | None = None
    last_output: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_cron(cron: str, timezone: str = "UTC") -> str:
    """Return the cron expression normalised, or raise naming the field that is wrong."""
    from croniter import croniter

    fields = cron.split()
    if len(fields) != len(CRON_FIELDS):
        raise InvalidScheduleError(
            f"--cron {cron!r} has {len(fields)} field(s); a cron expression has five: "
            f"{', '.join(CRON_FIELDS)} (e.g. \"0 3 * * 1\": Mondays at 03:00).")
    for position, (text, what) in enumerate(zip(fields, CRON_FIELDS, strict=True)):
        alone = " ".join(text if i == position else "*" for i in range(len(CRON_FIELDS)))
        if not croniter.is_valid(alone):
            raise InvalidScheduleError(
                f"--cron {cron!r}: the {what} field {text!r} is not valid (minute 0-59, hour "
                "0-23, day of month 1-31, month 1-12 or jan-dec, day of week 0-6 or sun-sat; "
                "each as *, a value, a range a-b, a list a,b or a step */n).")
    normalised = " ".join(fields)
    if not croniter.is_valid(normalised):
        raise InvalidScheduleError(f"--cron {cron!r} is not a valid cron expression.")
    _zone(timezone)
    return normalised


def next_run_ms(cron: str, after_ms: int, timezone: str = "UTC") -> int:
    """Return the first time strictly after `after_ms` that `cron` matches, in `timezone`."""
    from croniter import croniter

    start = datetime.fromtimestamp(after_ms / 1000, tz=_zone(timezone))
    following = croniter(cron, start).get_next(datetime)
    return int(following.timestamp() * 1000)


class Schedules:
    """Add, list, remove and claim pipeline schedules."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def add(self, name: str, *, ref: str, pipeline: str, cron: str,
            params: dict[str, str] | None = None, target: str | None = None,
            timezone: str = "UTC") -> Schedule:
        """Store a schedule; its first run is the next time `cron` matches from now."""
        check_name(name, "schedule")
        cron = check_cron(cron, timezone)
        now = self.platform.clock.now_ms()
        schedule = Schedule(name=name, ref=ref, pipeline=pipeline, cron=cron, timezone=timezone,
                            params=dict(params or {}), target=target, created_ms=now,
                            created_by=self.platform.actor,
                            next_run_ms=next_run_ms(cron, now, timezone))
        row = {**schedule.to_dict(), "params": canonical_json(schedule.params)}
        try:
            with self.platform.store.write() as conn:
                conn.execute(pipeline_schedules.insert().values(**row))
                audit.append(conn, self.platform.clock, actor=self.platform.actor,
                             action="pipeline.schedule_add", subject=f"schedule:{name}",
                             after=schedule.to_dict())
        except sa.exc.IntegrityError:
            raise ScheduleExistsError(name) from None
        return schedule

    def remove(self, name: str) -> Schedule:
        schedule = self.get(name)
        with self.platform.store.write() as conn:
            conn.execute(pipeline_schedules.delete().where(pipeline_schedules.c.name == name))
            audit.append(conn, self.platform.clock, actor=self.platform.actor,
                         action="pipeline.schedule_remove", subject=f"schedule:{name}",
                         before=schedule.to_dict())
        return schedule

    def get(self, name: str) -> Schedule:
        with self.platform.store.read() as conn:
            row = conn.execute(sa.select(pipeline_schedules).where(
                pipeline_schedules.c.name == name)).first()
        if row is None:
            raise ScheduleNotFoundError(name)
        return _schedule(row)

    def list(self) -> list[Schedule]:
        with self.platform.store.read() as conn:
            return [_schedule(r) for r in conn.execute(
                sa.select(pipeline_schedules).order_by(pipeline_schedules.c.name))]

    def claim_due(self, now_ms: int) -> list[Schedule]:
        """Return the schedules due at `now_ms` that this caller claimed (and advanced)."""
        with self.platform.store.read() as conn:
            due = [_schedule(r) for r in conn.execute(
                sa.select(pipeline_schedules).where(pipeline_schedules.c.next_run_ms <= now_ms)
                .order_by(pipeline_schedules.c.next_run_ms, pipeline_schedules.c.name))]
        claimed = []
        for schedule in due:
            following = next_run_ms(schedule.cron, now_ms, schedule.timezone)
            with self.platform.store.write() as conn:
                done = conn.execute(pipeline_schedules.update().where(
                    pipeline_schedules.c.name == schedule.name,
                    pipeline_schedules.c.next_run_ms == schedule.next_run_ms,
                ).values(next_run_ms=following, last_run_ms=now_ms, last_exit_code=None,
                         last_output=None))
            if done.rowcount == 1:  # 0: another scheduler claimed this tick first
                claimed.append(schedule)
        return claimed

    def record_exit(self, name: str, started_ms: int, exit_code: int, output: str) -> None:
        """Record how the run a schedule started at `started_ms` exited."""
        with self.platform.store.write() as conn:
            conn.execute(pipeline_schedules.update().where(
                pipeline_schedules.c.name == name,
                pipeline_schedules.c.last_run_ms == started_ms,
            ).values(last_exit_code=exit_code, last_output=output[-OUTPUT_TAIL_CHARS:]))


def _schedule(row: Any) -> Schedule:
    return Schedule(**{**row._asdict(), "params": json.loads(row.params)})


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidScheduleError(f"--timezone {name!r} is not a known time zone; use an IANA "
                                   "name such as UTC or Europe/Paris.") from None
