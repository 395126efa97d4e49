"""Triggers: why a pipeline run was asked for (manual, schedule, drift), and what came of it.

Every trigger is recorded in `pipeline_triggers`, refused ones too. A run first claims its
target (the pipeline name unless the pipeline or the caller names one, e.g. the deployment it
retrains) through a `RunGuard`: the trigger is recorded `started` with its run, `refused` with
the holder's run named (a `PipelineBusyError`), or `queued` while it waits for the holder to
finish (`wait_s`), then `started` or `refused` when the wait ends.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from steadyml.core.fingerprints import canonical_json
from steadyml.pipelines.locks import (
    DEFAULT_HEARTBEAT_S,
    DEFAULT_STALE_AFTER_S,
    PipelineBusyError,
    RunLock,
    RunLocks,
)
from steadyml.platform import Platform
from steadyml.store.tables import pipeline_triggers

log = logging.getLogger("steadyml.pipelines")

ENV_DEPLOYMENT = "STEADY_DEPLOYMENT"  # set by the controller's retrain action
ENV_DRIFTED_FEATURES = "STEADY_DRIFTED_FEATURES"
ENV_SCHEDULE = "STEADY_SCHEDULE"  # set by the scheduler
DEFAULT_POLL_S = 1.0


class TriggerKind(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    DRIFT = "drift"


class TriggerStatus(StrEnum):
    QUEUED = "queued"
    STARTED = "started"
    REFUSED = "refused"


@dataclass(frozen=True)
class Trigger:
    """What asked for a run: a person (manual), a schedule by name, or drift on a deployment."""

    kind: TriggerKind = TriggerKind.MANUAL
    origin: str = ""  # the actor, the schedule's name, or the drifted deployment
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_environment(cls, kind: TriggerKind, env: Mapping[str, str], *,
                         actor: str) -> Trigger:
        """Build the trigger of a `steady pipeline run --trigger KIND` from its environment.

        A drift trigger reads the deployment and the drifted features the controller's retrain
        action sets; a schedule trigger reads the schedule name the scheduler sets.
        """
        if kind is TriggerKind.DRIFT:
            features = [f for f in env.get(ENV_DRIFTED_FEATURES, "").split(",") if f]
            deployment = env.get(ENV_DEPLOYMENT, "")
            return cls(kind, deployment, {"deployment": deployment, "drifted_features": features})
        if kind is TriggerKind.SCHEDULE:
            return cls(kind, env.get(ENV_SCHEDULE, ""), {})
        return cls(kind, actor, {})

    def tags(self, target: str) -> dict[str, str]:
        """Return the tags a run started by this trigger carries."""
        tags = {"steady.trigger": self.kind.value, "steady.target": target}
        if self.origin:
            tags["steady.trigger_origin"] = self.origin
        if self.detail.get("drifted_features"):
            tags["steady.drifted_features"] = ",".join(self.detail["drifted_features"])
        return tags


@dataclass
class TriggerRecord:
    """One recorded trigger and what came of it."""

    id: int
    pipeline: str
    target: str
    kind: str
    origin: str
    status: str
    run_id: str | None
    reason: str | None
    detail: dict[str, Any]
    requested_ms: int
    decided_ms: int | None

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


class Triggers:
    """Record triggers, and list them newest first."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def record(self, pipeline: str, target: str, trigger: Trigger, status: TriggerStatus, *,
               run_id: str | None = None, reason: str | None = None,
               detail: Mapping[str, Any] | None = None) -> int:
        now = self.platform.clock.now_ms()
        with self.platform.store.write() as conn:
            return conn.execute(pipeline_triggers.insert().values(
                pipeline=pipeline, target=target, kind=trigger.kind.value,
                origin=trigger.origin or "", status=status.value, run_id=run_id, reason=reason,
                detail=canonical_json({**trigger.detail, **(detail or {})}), requested_ms=now,
                decided_ms=None if status is TriggerStatus.QUEUED else now,
            )).inserted_primary_key[0]

    def decide(self, trigger_id: int, status: TriggerStatus, *, run_id: str | None = None,
               reason: str | None = None) -> None:
        values: dict[str, Any] = {"status": status.value,
                                  "decided_ms": self.platform.clock.now_ms()}
        if run_id is not None:
            values["run_id"] = run_id
        if reason is not None:
            values["reason"] = reason
        with self.platform.store.write() as conn:
            conn.execute(pipeline_triggers.update().where(pipeline_triggers.c.id == trigger_id)
                         .values(**values))

    def list(self, *, pipeline: str | None = None, target: str | None = None,
             limit: int = 50) -> list[TriggerRecord]:
        query = sa.select(pipeline_triggers).order_by(pipeline_triggers.c.requested_ms.desc(),
                                                      pipeline_triggers.c.id.desc()).limit(limit)
        if pipeline is not None:
            query = query.where(pipeline_triggers.c.pipeline == pipeline)
        if target is not None:
            query = query.where(pipeline_triggers.c.target == target)
        with self.platform.store.read() as conn:
            return [TriggerRecord(**{**r._asdict(), "detail": json.loads(r.detail)})
                    for r in conn.execute(query)]


class RunGuard:
    """Hold a target for one run: claim it (or wait, or refuse), heartbeat, release on exit.

    Entering records the trigger and takes the lock, or raises `PipelineBusyError` after
    recording the trigger as refused. Leaving, however the run ended (an error, Ctrl-C),
    releases the lock.
    """

    def __init__(self, platform: Platform, pipeline: str, target: str,
                 trigger: Trigger | None = None, *, wait_s: float = 0.0,
                 poll_s: float = DEFAULT_POLL_S, heartbeat_s: float = DEFAULT_HEARTBEAT_S,
                 stale_after_s: float = DEFAULT_STALE_AFTER_S) -> None:
        self.platform = platform
        self.pipeline = pipeline
        self.target = target
        self.trigger = trigger or Trigger(TriggerKind.MANUAL, platform.actor)
        self.wait_s = wait_s
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.locks = RunLocks(platform.store, platform.clock, actor=platform.actor,
                              stale_after_s=stale_after_s)
        self.triggers = Triggers(platform)
        self.lock: RunLock | None = None
        self.trigger_id: int | None = None
        self.took_over: RunLock | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    @property
    def tags(self) -> dict[str, str]:
        return self.trigger.tags(self.target)

    def __enter__(self) -> RunGuard:
        self.lock, holder = self.locks.try_acquire(self.target, self.pipeline)
        if self.lock is None:
            assert holder is not None
            if self.wait_s <= 0:
                error = PipelineBusyError(self.target, holder, kind=self.trigger.kind.value)
                self.trigger_id = self.triggers.record(
                    self.pipeline, self.target, self.trigger, TriggerStatus.REFUSED,
                    reason=str(error), detail={"blocked_by": holder.run_id})
                raise error
            self._queue(holder)
        else:
            self.took_over = holder
            self.trigger_id = self.triggers.record(self.pipeline, self.target, self.trigger,
                                                   TriggerStatus.STARTED,
                                                   reason=self._takeover_note())
        if self.took_over is not None:
            log.warning("pipeline %s: %s", self.pipeline, self._takeover_note())
        self._beat = threading.Thread(target=self._heartbeat, name="steadyml-pipeline-lock",
                                      daemon=True)
        self._beat.start()
        return self

    def attach(self, run_id: str) -> None:
        """Name the run that holds the target, on the lock and on the trigger record."""
        assert self.lock is not None and self.trigger_id is not None
        self.lock = self.locks.attach(self.lock, run_id, trigger_id=self.trigger_id)
        self.triggers.decide(self.trigger_id, TriggerStatus.STARTED, run_id=run_id)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join()
        if self.lock is not None:
            self.locks.release(self.lock)
            self.lock = None

    def _queue(self, holder: RunLock) -> None:
        """Wait for the holder to finish, recorded as a queued trigger; refuse at the timeout."""
        self.trigger_id = self.triggers.record(
            self.pipeline, self.target, self.trigger, TriggerStatus.QUEUED,
            reason=f"waiting up to {self.wait_s:g} s: {holder.describe()}",
            detail={"blocked_by": holder.run_id})
        deadline = time.monotonic() + self.wait_s
        try:
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(self.poll_s, left))
                lock, current = self.locks.try_acquire(self.target, self.pipeline,
                                                       trigger_id=self.trigger_id)
                if lock is not None:
                    self.lock, self.took_over = lock, current
                    self.triggers.decide(self.trigger_id, TriggerStatus.STARTED,
                                         reason=self._takeover_note())
                    return
                assert current is not None
                holder = current
        except BaseException:  # Ctrl-C while queued: the record must not stay "queued"
            self.triggers.decide(self.trigger_id, TriggerStatus.REFUSED,
                                 reason="interrupted while queued")
            raise
        error = PipelineBusyError(self.target, holder, kind=self.trigger.kind.value,
                                  waited_s=self.wait_s)
        self.triggers.decide(self.trigger_id, TriggerStatus.REFUSED, reason=str(error))
        raise error

    def _takeover_note(self) -> str | None:
        if self.took_over is None:
            return None
        reason = self.took_over.stale_reason(self.platform.clock.now_ms(),
                                             stale_after_s=self.locks.stale_after_s,
                                             host=self.locks.host)
        return f"took over a stale lock ({reason}): {self.took_over.describe()}"

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            lock = self.lock
            if lock is None:
                return
            try:
                if not self.locks.heartbeat(lock):
                    log.error("pipeline %s lost its lock of %r: another run took it over",
                              self.pipeline, self.target)
                    return
            except Exception:  # a store hiccup: try again at the next beat
                log.exception("pipeline %s: heartbeat of the lock of %r failed",
                              self.pipeline, self.target)
