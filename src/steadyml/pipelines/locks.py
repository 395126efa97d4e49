"""Run locks: at most one pipeline run per target at a time, across processes and hosts.

The lock is a row of `pipeline_locks` whose primary key is the target, inserted in its own
transaction before a run starts and deleted when it ends, so it works the same on SQLite and
PostgreSQL. A holder whose process is gone (checked on its own host) or whose heartbeat is older
than `stale_after_s` no longer holds the target: the next claimant takes the lock over, and
says so in its trigger record and the audit log.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from steadyml.core.clock import Clock
from steadyml.core.errors import ConflictError
from steadyml.pipelines.errors import PipelineError
from steadyml.store import audit
from steadyml.store.engine import MetadataStore
from steadyml.store.tables import pipeline_locks

DEFAULT_STALE_AFTER_S = 600.0  # ten missed heartbeats at the default interval
DEFAULT_HEARTBEAT_S = 60.0


@dataclass(frozen=True)
class RunLock:
    """Who holds a target: the run, its process, since when, and its last sign of life."""

    target: str
    holder: str
    pipeline: str
    run_id: str | None
    trigger_id: int | None
    host: str
    pid: int
    started_ms: int
    heartbeat_ms: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        run = f"run {self.run_id}" if self.run_id else "a run that is starting"
        return (f"pipeline {self.pipeline!r} {run} has held it since {_utc(self.started_ms)} "
                f"(pid {self.pid} on {self.host}, last heartbeat {_utc(self.heartbeat_ms)})")

    def stale_reason(self, now_ms: int, *, stale_after_s: float, host: str) -> str | None:
        """Return why this lock no longer counts (holder gone, heartbeat too old), or None."""
        if self.host == host and not is_process_alive(self.pid):
            return f"its process {self.pid} on {host} is gone"
        age_s = (now_ms - self.heartbeat_ms) / 1000
        if age_s > stale_after_s:
            return f"its last heartbeat was {age_s:.0f} s ago (stale after {stale_after_s:g} s)"
        return None


class PipelineBusyError(PipelineError, ConflictError):
    """A run was asked for a target another run holds; nothing ran."""

    # `steady pipeline run` exits with this (EX_TEMPFAIL): the controller records a refused
    # retrain as busy, which spends neither its cooldown nor its budget.
    exit_code = 75

    def __init__(self, target: str, holder: RunLock, *, kind: str = "manual",
                 waited_s: float | None = None) -> None:
        self.target = target
        self.holder = holder
        waited = (f" after waiting {waited_s:g} s" if waited_s else "")
        hint = ("pass a longer --wait" if waited_s else
                "wait for it to end, or pass --wait SECONDS to queue behind it")
        super().__init__(f"Target {target!r} is busy: {holder.describe()}. This {kind} trigger "
                         f"was refused{waited}; {hint} (`steady pipeline locks` shows holders).")


class RunLocks:
    """Take, refresh and release the run lock of a target in the metadata store."""

    def __init__(self, store: MetadataStore, clock: Clock, *, actor: str = "pipeline",
                 stale_after_s: float = DEFAULT_STALE_AFTER_S, host: str | None = None,
                 pid: int | None = None) -> None:
        self.store = store
        self.clock = clock
        self.actor = actor
        self.stale_after_s = stale_after_s
        self.host = host or socket.gethostname()
        self.pid = os.getpid() if pid is None else pid

    def try_acquire(self, target: str, pipeline: str, *, trigger_id: int | None = None
                    ) -> tuple[RunLock | None, RunLock | None]:
        """Take the lock of `target` if it is free or stale.

        Returns (the lock taken, None), (the lock taken, the stale lock it replaced), or
        (None, the lock that holds the target).
        """
        for _ in range(3):  # lost an insert race on PostgreSQL: read the winner and decide again
            now = self.clock.now_ms()
            mine = RunLock(target=target, holder=uuid.uuid4().hex, pipeline=pipeline,
                           run_id=None, trigger_id=trigger_id, host=self.host, pid=self.pid,
                           started_ms=now, heartbeat_ms=now)
            try:
                with self.store.write() as conn:
                    row = conn.execute(sa.select(pipeline_locks).where(
                        pipeline_locks.c.target == target)).first()
                    current = None if row is None else RunLock(**row._asdict())
                    reason = None if current is None else current.stale_reason(
                        now, stale_after_s=self.stale_after_s, host=self.host)
                    if current is not None and reason is None:
                        return None, current
                    if current is not None:
                        conn.execute(pipeline_locks.delete().where(
                            pipeline_locks.c.target == target,
                            pipeline_locks.c.holder == current.holder))
                        audit.append(conn, self.clock, actor=self.actor,
                                     action="pipeline.lock_takeover", subject=f"target:{target}",
                                     before=current.to_dict(), after=mine.to_dict(),
                                     evidence={"reason": reason})
                    conn.execute(pipeline_locks.insert().values(**mine.to_dict()))
                return mine, current
            except sa.exc.IntegrityError:
                continue
        current = self.get(target)
        if current is None:  # pragma: no cover - three lost races in a row, then released
            raise ConflictError(f"Could not take the run lock of {target!r}; try again.")
        return None, current

    def attach(self, lock: RunLock, run_id: str, *, trigger_id: int | None = None) -> RunLock:
        """Record the run (and its trigger) that holds the lock, once it exists."""
        values = {"run_id": run_id, "trigger_id": trigger_id or lock.trigger_id}
        with self.store.write() as conn:
            conn.execute(pipeline_locks.update().where(
                pipeline_locks.c.target == lock.target,
                pipeline_locks.c.holder == lock.holder).values(**values))
        return RunLock(**{**lock.to_dict(), **values})

    def heartbeat(self, lock: RunLock) -> bool:
        """Refresh the lock's heartbeat; False if it is no longer ours (taken over)."""
        with self.store.write() as conn:
            done = conn.execute(pipeline_locks.update().where(
                pipeline_locks.c.target == lock.target,
                pipeline_locks.c.holder == lock.holder).values(heartbeat_ms=self.clock.now_ms()))
        return done.rowcount == 1

    def release(self, lock: RunLock) -> None:
        """Delete the lock if it is still ours."""
        with self.store.write() as conn:
            conn.execute(pipeline_locks.delete().where(
                pipeline_locks.c.target == lock.target,
                pipeline_locks.c.holder == lock.holder))

    def get(self, target: str) -> RunLock | None:
        with self.store.read() as conn:
            row = conn.execute(sa.select(pipeline_locks).where(
                pipeline_locks.c.target == target)).first()
        return None if row is None else RunLock(**row._asdict())

    def list(self) -> list[RunLock]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(pipeline_locks).order_by(pipeline_locks.c.target))
            return [RunLock(**r._asdict()) for r in rows]


def is_process_alive(pid: int) -> bool:
    """Return whether a process with this id exists on this host."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to another user
        return True
    except OSError:
        return False
    return True


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
