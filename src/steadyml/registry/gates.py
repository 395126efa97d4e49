"""Gate results on model versions: record them, read them, and require them before a deploy.

A gate result is the JSON a quality gate produced (every number it compared, and whether it
passed). Records are append-only: running a gate again adds a record, and the newest record of a
gate is the one that counts.

Functions taking a connection run inside the caller's transaction and never commit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from steadyml.core.errors import ConflictError, InvalidInputError
from steadyml.core.fingerprints import canonical_json
from steadyml.core.ids import check_name
from steadyml.store.tables import model_version_gates, model_versions


class GateRequiredError(ConflictError, ValueError):
    """A model version lacks a passing result of a gate its deployment requires."""

    def __init__(self, ref: str, gate: str, latest: GateRecord | None = None) -> None:
        self.ref = ref
        self.gate = gate
        self.latest = latest
        if latest is None:
            why = f"Model {ref} has no passing gate {gate!r}: no result of it is recorded"
        else:
            failed = latest.failed_checks()
            shown = "; ".join(failed[:5]) + (f"; and {len(failed) - 5} more"
                                              if len(failed) > 5 else "")
            why = (f"Model {ref} has no passing gate {gate!r}: its latest result failed"
                   + (f" ({shown})" if shown else ""))
        super().__init__(f"{why}. Run the pipeline's gates, or deploy with --force.")


class SupportsGateResult(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class GateRecord:
    """One gate result recorded on a model version."""

    ref: str
    gate: str
    passed: bool
    result: dict[str, Any]
    run_id: str | None
    actor: str
    created_ms: int

    def failed_checks(self) -> list[str]:
        """Return each failed check of the result as `subject check: expected …, actual …`."""
        out = []
        for check in self.result.get("checks", []):
            if not check.get("passed", True):
                out.append(f"{check.get('subject')} {check.get('check')}: expected "
                           f"{check.get('expected')}, actual {check.get('actual')}")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "gate": self.gate, "passed": self.passed,
                "result": self.result, "run_id": self.run_id, "actor": self.actor,
                "created_ms": self.created_ms}


def as_result(result: Mapping[str, Any] | SupportsGateResult) -> tuple[str, bool, dict[str, Any]]:
    """Return (gate name, passed, JSON) of a gate result given as a mapping or an object."""
    data = dict(result.to_dict() if hasattr(result, "to_dict") else result)  # type: ignore[arg-type]
    gate, passed = data.get("gate"), data.get("passed")
    if not isinstance(gate, str) or not isinstance(passed, bool):
        raise InvalidInputError(
            "A gate result needs a 'gate' name (str) and a 'passed' flag (bool); got "
            f"gate={gate!r}, passed={passed!r}. Record the result a gate step returned.")
    check_name(gate, "gate")
    canonical_json(data)  # raises on values that are not JSON data, before anything is written
    return gate, passed, data


def insert_gate(conn: Connection, *, version_id: int, gate: str, passed: bool,
                result: dict[str, Any], run_id: str | None, actor: str, now_ms: int) -> None:
    conn.execute(model_version_gates.insert().values(
        model_version_id=version_id, gate=gate, passed=passed, result=canonical_json(result),
        run_id=run_id, actor=actor, created_ms=now_ms))


def version_id(conn: Connection, name: str, version: int) -> int:
    return int(conn.execute(sa.select(model_versions.c.id).where(
        model_versions.c.model_name == name, model_versions.c.version == version)).scalar_one())


def list_gates(conn: Connection, name: str, version: int, *,
               gate: str | None = None) -> list[GateRecord]:
    """Return the gate records of one model version, oldest first."""
    query = (sa.select(model_version_gates)
             .join(model_versions, model_versions.c.id == model_version_gates.c.model_version_id)
             .where(model_versions.c.model_name == name, model_versions.c.version == version)
             .order_by(model_version_gates.c.id))
    if gate is not None:
        query = query.where(model_version_gates.c.gate == gate)
    return [GateRecord(ref=f"{name}:{version}", gate=r.gate, passed=bool(r.passed),
                       result=json.loads(r.result), run_id=r.run_id, actor=r.actor,
                       created_ms=int(r.created_ms)) for r in conn.execute(query)]


def latest_by_gate(records: Sequence[GateRecord]) -> dict[str, GateRecord]:
    """Return the newest record of each gate."""
    return {r.gate: r for r in records}  # records are oldest first: the last one wins


def check_gates(platform_or_registry: Any, ref: str, required: Sequence[str]) -> None:
    """Raise GateRequiredError unless the newest result of every `required` gate passed.

    `platform_or_registry` is a Platform or a Registry; `ref` is any model reference
    (`churn:4`, `churn@champion`).
    """
    registry = getattr(platform_or_registry, "registry", platform_or_registry)
    if not required:
        return
    version = registry.get(ref)
    latest = latest_by_gate(registry.gates(version.ref))
    for gate in required:
        record = latest.get(gate)
        if record is None or not record.passed:
            raise GateRequiredError(version.ref, gate, record)
