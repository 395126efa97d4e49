"""Deployments and their numbered, immutable revisions in the metadata store.

Functions here take a connection inside the caller's transaction and never commit.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from steadyml.core.errors import NotFoundError
from steadyml.store.tables import deployment_revisions, deployments


class Mode(StrEnum):
    """How a candidate arm takes part in traffic."""

    CANARY = "canary"  # answers `weight` % of requests
    SHADOW = "shadow"  # gets a mirrored copy of every request; never answers
    BLUE_GREEN = "blue-green"  # loaded and warm; takes all traffic on promote


class Reason(StrEnum):
    DEPLOY = "deploy"
    CANDIDATE = "candidate"
    WEIGHT = "weight"
    PROMOTE = "promote"
    ROLLBACK = "rollback"
    CIRCUIT_OPEN = "circuit-open"


@dataclass(frozen=True)
class Arm:
    model: str
    version: int

    @property
    def ref(self) -> str:
        return f"{self.model}:{self.version}"


@dataclass(frozen=True)
class DeploymentConfig:
    """Serving settings of one deployment."""

    max_batch_size: int = 64
    max_wait_ms: float = 1.0  # measured: 1 ms fills batches as well as 2 ms
    timeout_ms: float = 2000.0
    price_per_core_hour: float = 0.05  # currency units per CPU core-hour, for cost per 1k
    routing_header: str = "x-routing-key"
    breaker_window: int = 50  # the candidate's last N requests...
    breaker_min_requests: int = 20  # ...at least this many...
    breaker_error_rate: float = 0.5  # ...with this share failed: its traffic goes to stable

    @classmethod
    def from_json(cls, text: str) -> DeploymentConfig:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in json.loads(text).items() if k in known})


@dataclass(frozen=True)
class Revision:
    deployment: str
    revision: int
    reason: Reason
    stable: Arm
    candidate: Arm | None
    mode: Mode | None
    weight: float
    note: str
    actor: str
    created_ms: int
    config: DeploymentConfig = field(default_factory=DeploymentConfig)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["stable"]["ref"] = self.stable.ref
        if self.candidate is not None:
            out["candidate"]["ref"] = self.candidate.ref
        return out

    def same_arms(self, other: Revision) -> bool:
        return (self.stable, self.candidate, self.mode, self.weight) == (
            other.stable, other.candidate, other.mode, other.weight)


class DeploymentNotFoundError(NotFoundError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Deployment {name!r} does not exist. Create it with "
                         f"`steady deploy {name} MODEL:VERSION`; list them with "
                         "`steady deployments list`.")


class RevisionNotFoundError(NotFoundError):
    def __init__(self, name: str, revision: int) -> None:
        super().__init__(f"Deployment {name!r} has no revision {revision}. See its history "
                         f"with `steady deployments history {name}`.")


def current(conn: Connection, name: str, *, lock: bool = False) -> Revision | None:
    """Return the revision serving now, or None if the deployment does not exist."""
    query = sa.select(deployments.c.revision, deployments.c.config).where(
        deployments.c.name == name)
    head = conn.execute(query.with_for_update() if lock else query).first()
    if head is None:
        return None
    return get(conn, name, head.revision, config=DeploymentConfig.from_json(head.config))


def get(conn: Connection, name: str, revision: int, *,
        config: DeploymentConfig | None = None) -> Revision:
    row = conn.execute(sa.select(deployment_revisions).where(
        deployment_revisions.c.deployment == name,
        deployment_revisions.c.revision == revision)).first()
    if row is None:
        if conn.execute(sa.select(deployments.c.name)
                        .where(deployments.c.name == name)).first() is None:
            raise DeploymentNotFoundError(name)
        raise RevisionNotFoundError(name, revision)
    return _revision(row._mapping, config or _config(conn, name))


def history(conn: Connection, name: str) -> list[Revision]:
    config = _config(conn, name)
    rows = conn.execute(sa.select(deployment_revisions)
                        .where(deployment_revisions.c.deployment == name)
                        .order_by(deployment_revisions.c.revision.desc()))
    return [_revision(r._mapping, config) for r in rows]


def heads(conn: Connection) -> dict[str, int]:
    """Return {deployment: current revision}: what serving workers poll for changes."""
    return dict(conn.execute(sa.select(deployments.c.name, deployments.c.revision)).all())


def create(conn: Connection, name: str, config: DeploymentConfig, now_ms: int) -> None:
    conn.execute(deployments.insert().values(
        name=name, revision=0, config=json.dumps(asdict(config)), created_ms=now_ms,
        updated_ms=now_ms))


def append(conn: Connection, name: str, *, reason: Reason, stable: Arm, candidate: Arm | None,
           mode: Mode | None, weight: float, note: str, actor: str, now_ms: int) -> int:
    """Write the next revision and make it the one serving; return its number."""
    latest = conn.execute(sa.select(sa.func.max(deployment_revisions.c.revision))
                          .where(deployment_revisions.c.deployment == name)).scalar()
    number = int(latest or 0) + 1
    conn.execute(deployment_revisions.insert().values(
        deployment=name, revision=number, reason=reason.value, stable_model=stable.model,
        stable_version=stable.version, candidate_model=candidate.model if candidate else None,
        candidate_version=candidate.version if candidate else None,
        mode=mode.value if mode else None, weight=weight, note=note, actor=actor,
        created_ms=now_ms))
    conn.execute(deployments.update().where(deployments.c.name == name)
                 .values(revision=number, updated_ms=now_ms))
    return number


def set_config(conn: Connection, name: str, config: DeploymentConfig, now_ms: int) -> None:
    conn.execute(deployments.update().where(deployments.c.name == name)
                 .values(config=json.dumps(asdict(config)), updated_ms=now_ms))


def names(conn: Connection) -> list[str]:
    return list(conn.execute(sa.select(deployments.c.name).order_by(deployments.c.name))
                .scalars())


def serving(conn: Connection, model: str, version: int) -> list[tuple[str, str, int, int]]:
    """Return (deployment, arm, revision, since_ms) for each place the version serves now."""
    r = deployment_revisions
    rows = conn.execute(sa.select(r).join(deployments, sa.and_(
        deployments.c.name == r.c.deployment, deployments.c.revision == r.c.revision))).all()
    found = []
    for row in rows:
        if (row.stable_model, row.stable_version) == (model, version):
            found.append((row.deployment, "stable", row.revision, row.created_ms))
        if (row.candidate_model, row.candidate_version) == (model, version):
            found.append((row.deployment, "candidate", row.revision, row.created_ms))
    return found


def _config(conn: Connection, name: str) -> DeploymentConfig:
    text = conn.execute(sa.select(deployments.c.config)
                        .where(deployments.c.name == name)).scalar()
    if text is None:
        raise DeploymentNotFoundError(name)
    return DeploymentConfig.from_json(text)


def _revision(row: Any, config: DeploymentConfig) -> Revision:
    candidate = (Arm(row["candidate_model"], row["candidate_version"])
                 if row["candidate_model"] is not None else None)
    return Revision(deployment=row["deployment"], revision=row["revision"],
                    reason=Reason(row["reason"]),
                    stable=Arm(row["stable_model"], row["stable_version"]), candidate=candidate,
                    mode=Mode(row["mode"]) if row["mode"] else None, weight=row["weight"],
                    note=row["note"], actor=row["actor"], created_ms=row["created_ms"],
                    config=config)
