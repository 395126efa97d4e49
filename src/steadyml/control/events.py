"""What the controller records and sends: timeline events, audit entries, webhooks, retrains."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from steadyml.core.fingerprints import canonical_json
from steadyml.platform import Platform
from steadyml.store import audit
from steadyml.store.tables import controller_events, retrains

log = logging.getLogger("steadyml.controller")

ACTOR = "controller"
WEBHOOK_TIMEOUT_S = 5.0
OUTPUT_TAIL_CHARS = 4000


@dataclass(frozen=True)
class Event:
    """One thing the controller saw or did."""

    deployment: str
    ts_ms: int
    kind: str  # step | promote | rollback | alert | resolved | drift | retrain | skipped
    message: str
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recorder:
    """Write events (and, for actions, audit entries) to the store; send webhooks."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def event(self, deployment: str, kind: str, message: str, evidence: dict[str, Any], *,
              audit_action: str | None = None) -> Event:
        now = self.platform.clock.now_ms()
        with self.platform.store.write() as conn:
            conn.execute(sa.insert(controller_events).values(
                deployment=deployment, ts_ms=now, kind=kind, message=message,
                evidence=canonical_json(evidence)))
            if audit_action is not None:
                audit.append(conn, self.platform.clock, actor=ACTOR, action=audit_action,
                             subject=f"deployment:{deployment}", after={"message": message},
                             evidence=evidence)
        log.info("%s %s: %s", deployment, kind, message)
        return Event(deployment, now, kind, message, evidence)

    def timeline(self, deployment: str | None = None, *, since_ms: int = 0,
                 limit: int = 500) -> list[Event]:
        query = sa.select(controller_events).where(controller_events.c.ts_ms >= since_ms)
        if deployment is not None:
            query = query.where(controller_events.c.deployment == deployment)
        query = query.order_by(controller_events.c.id).limit(limit)
        with self.platform.store.read() as conn:
            return [Event(r.deployment, r.ts_ms, r.kind, r.message, json.loads(r.evidence))
                    for r in conn.execute(query)]

    def notify(self, url: str | None, payload: dict[str, Any]) -> None:
        """POST `payload` as JSON to `url` from a background thread; failures are logged."""
        log.warning("ALERT %s: %s", payload.get("deployment"), payload.get("message"))
        if not url:
            return

        def send() -> None:
            request = urllib.request.Request(
                url, data=json.dumps(payload, default=str).encode(), method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "steadyml"})
            try:
                with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S) as response:
                    response.read()
            except (urllib.error.URLError, OSError) as exc:
                log.error("webhook %s failed: %s", url, exc)

        threading.Thread(target=send, name="steadyml-webhook", daemon=True).start()

    # --- retrains ---------------------------------------------------------------------------

    def last_retrain_ms(self, deployment: str) -> int | None:
        """Return when the last retrain started (one refused as busy does not count)."""
        with self.platform.store.read() as conn:
            return conn.execute(sa.select(sa.func.max(retrains.c.started_ms)).where(
                retrains.c.deployment == deployment, retrains.c.status != "busy")).scalar()

    def retrain_spend(self, deployment: str, since_ms: int) -> float:
        """Return the estimated cost of the retrains since `since_ms` (busy ones cost nothing)."""
        with self.platform.store.read() as conn:
            return float(conn.execute(sa.select(sa.func.coalesce(
                sa.func.sum(retrains.c.estimated_cost), 0.0)).where(
                retrains.c.deployment == deployment, retrains.c.status != "busy",
                retrains.c.started_ms >= since_ms)).scalar())

    def start_retrain(self, deployment: str, command: Sequence[str], estimated_cost: float,
                      evidence: dict[str, Any]) -> threading.Thread:
        """Record and audit a retrain, then run `command` in the background."""
        now = self.platform.clock.now_ms()
        with self.platform.store.write() as conn:
            retrain_id = conn.execute(sa.insert(retrains).values(
                deployment=deployment, started_ms=now, command=canonical_json(list(command)),
                estimated_cost=estimated_cost, status="running")).inserted_primary_key[0]
            audit.append(conn, self.platform.clock, actor=ACTOR, action="controller.retrain",
                         subject=f"deployment:{deployment}",
                         after={"retrain": retrain_id, "command": list(command)},
                         evidence=evidence)
        env = {**os.environ, "STEADY_DEPLOYMENT": deployment,
               "STEADY_DRIFTED_FEATURES": ",".join(evidence.get("flagged", []))}
        thread = threading.Thread(target=self._run_retrain, args=(retrain_id, command, env),
                                  name="steadyml-retrain", daemon=True)
        thread.start()
        return thread

    def _run_retrain(self, retrain_id: int, command: Sequence[str],
                     env: dict[str, str]) -> None:
        try:
            done = subprocess.run(list(command), env=env, capture_output=True, text=True,
                                  check=False)
            code, output = done.returncode, (done.stdout + done.stderr)[-OUTPUT_TAIL_CHARS:]
        except OSError as exc:
            code, output = -1, f"could not start {command[0]!r}: {exc}"
        with self.platform.store.write() as conn:
            conn.execute(sa.update(retrains).where(retrains.c.id == retrain_id).values(
                finished_ms=self.platform.clock.now_ms(), exit_code=code, output_tail=output,
                status=_retrain_status(code)))
        (log.info if code == 0 else log.error)("retrain %s exited %s", retrain_id, code)

    def retrains(self, deployment: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(retrains).order_by(retrains.c.id)
        if deployment is not None:
            query = query.where(retrains.c.deployment == deployment)
        with self.platform.store.read() as conn:
            return [{**r._asdict(), "command": json.loads(r.command)}
                    for r in conn.execute(query)]


BUSY_EXIT_CODE = 75  # EX_TEMPFAIL: `steady pipeline run` found its target held by another run


def _retrain_status(code: int) -> str:
    """succeeded | busy (refused: another run of the target holds it) | failed."""
    return {0: "succeeded", BUSY_EXIT_CODE: "busy"}.get(code, "failed")
