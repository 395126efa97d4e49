"""Alerts and applied policies: the monitoring state kept in the metadata store.

An alert is one open condition per (deployment, key): a repeat of the same breach raises its
count and `last_ms` instead of adding a row, and is re-notified at most once per
`repeat_after_s`. When the condition clears the alert is resolved; a later breach opens a new
one. Applying a policy writes it and an audit entry in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from steadyml.core.clock import Clock, SystemClock
from steadyml.core.errors import NotFoundError
from steadyml.core.fingerprints import canonical_json
from steadyml.monitoring.policies import Policy, policy_from_dict
from steadyml.store import audit
from steadyml.store.engine import MetadataStore
from steadyml.store.tables import alerts, policies


@dataclass(frozen=True)
class Alert:
    id: int
    deployment: str
    key: str
    severity: str
    status: str
    message: str
    evidence: dict[str, Any]
    count: int
    first_ms: int
    last_ms: int
    notified_ms: int | None
    resolved_ms: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PolicyNotFoundError(NotFoundError):
    def __init__(self, deployment: str) -> None:
        super().__init__(f"Deployment {deployment!r} has no policy. Apply one with "
                         "`steady policy apply FILE` (start from `steady policy example`).")


class Alerts:
    """Raise, deduplicate, resolve and list alerts."""

    def __init__(self, store: MetadataStore, *, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()

    def raise_alert(self, deployment: str, key: str, message: str, *,
                    evidence: dict[str, Any], severity: str = "warning",
                    repeat_after_s: float = 3600.0) -> tuple[Alert, bool]:
        """Open or repeat the alert for (deployment, key); return it and whether to notify."""
        now = self.clock.now_ms()
        with self.store.write() as conn:
            row = conn.execute(_open(deployment, key)).mappings().first()
            if row is None:
                values = {"deployment": deployment, "key": key, "severity": severity,
                          "status": "open", "message": message,
                          "evidence": canonical_json(evidence), "count": 1, "first_ms": now,
                          "last_ms": now, "notified_ms": now}
                alert_id = conn.execute(sa.insert(alerts).values(values)).inserted_primary_key[0]
                return _alert({**values, "id": alert_id, "resolved_ms": None}), True
            notify = row["notified_ms"] is None or now - row["notified_ms"] >= \
                repeat_after_s * 1000
            values = {"message": message, "evidence": canonical_json(evidence),
                      "count": row["count"] + 1, "last_ms": now, "severity": severity}
            if notify:
                values["notified_ms"] = now
            conn.execute(sa.update(alerts).where(alerts.c.id == row["id"]).values(values))
            return _alert({**row, **values}), notify

    def resolve(self, deployment: str, key: str) -> Alert | None:
        """Resolve the open alert for (deployment, key), if any."""
        now = self.clock.now_ms()
        with self.store.write() as conn:
            row = conn.execute(_open(deployment, key)).mappings().first()
            if row is None:
                return None
            conn.execute(sa.update(alerts).where(alerts.c.id == row["id"])
                         .values(status="resolved", resolved_ms=now))
            return _alert({**row, "status": "resolved", "resolved_ms": now})

    def list(self, *, deployment: str | None = None, status: str | None = None,
             limit: int = 200) -> list[Alert]:
        """Return alerts, newest activity first."""
        query = sa.select(alerts).order_by(alerts.c.last_ms.desc(), alerts.c.id.desc())
        if deployment is not None:
            query = query.where(alerts.c.deployment == deployment)
        if status is not None:
            query = query.where(alerts.c.status == status)
        with self.store.read() as conn:
            return [_alert(r) for r in conn.execute(query.limit(limit)).mappings()]


class Policies:
    """Apply, read and remove per-deployment policies (each change audited)."""

    def __init__(self, store: MetadataStore, *, actor: str, clock: Clock | None = None) -> None:
        self.store = store
        self.actor = actor
        self.clock = clock or SystemClock()

    def apply(self, policy: Policy, *, source: str = "") -> Policy:
        """Store `policy` for its deployment, replacing the one before (audited)."""
        body = policy.to_dict()
        now = self.clock.now_ms()
        with self.store.write() as conn:
            before = conn.execute(sa.select(policies.c.body).where(
                policies.c.deployment == policy.deployment)).scalar()
            values = {"body": canonical_json(body), "source": source, "actor": self.actor,
                      "updated_ms": now}
            if before is None:
                conn.execute(sa.insert(policies).values(deployment=policy.deployment, **values))
            else:
                conn.execute(sa.update(policies).where(
                    policies.c.deployment == policy.deployment).values(values))
            audit.append(conn, self.clock, actor=self.actor, action="policy.apply",
                         subject=f"deployment:{policy.deployment}",
                         before=json.loads(before) if before else None, after=body)
        return policy

    def get(self, deployment: str) -> Policy:
        with self.store.read() as conn:
            body = conn.execute(sa.select(policies.c.body).where(
                policies.c.deployment == deployment)).scalar()
        if body is None:
            raise PolicyNotFoundError(deployment)
        return policy_from_dict(json.loads(body), source=f"stored policy of {deployment}")

    def all(self) -> dict[str, Policy]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(policies.c.deployment, policies.c.body)).all()
        return {d: policy_from_dict(json.loads(b), source=f"stored policy of {d}")
                for d, b in rows}

    def remove(self, deployment: str) -> None:
        with self.store.write() as conn:
            before = conn.execute(sa.select(policies.c.body).where(
                policies.c.deployment == deployment)).scalar()
            if before is None:
                raise PolicyNotFoundError(deployment)
            conn.execute(sa.delete(policies).where(policies.c.deployment == deployment))
            audit.append(conn, self.clock, actor=self.actor, action="policy.remove",
                         subject=f"deployment:{deployment}", before=json.loads(before))


def _open(deployment: str, key: str) -> sa.Select[Any]:
    return sa.select(alerts).where(alerts.c.deployment == deployment, alerts.c.key == key,
                                   alerts.c.status == "open").order_by(alerts.c.id.desc()).limit(1)


def _alert(row: Any) -> Alert:
    data = dict(row)
    evidence = data["evidence"]
    data["evidence"] = json.loads(evidence) if isinstance(evidence, str) else evidence
    return Alert(**{k: data[k] for k in Alert.__dataclass_fields__})
