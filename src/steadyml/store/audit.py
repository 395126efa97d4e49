"""The append-only, hash-chained audit log of every state change and automatic action.

Each entry's hash covers its own fields and the previous entry's hash; `seq` grows by exactly
one. Changing an entry breaks its hash, removing one breaks the sequence or the chain.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from steadyml.core.clock import Clock
from steadyml.core.errors import AuditChainError
from steadyml.core.fingerprints import canonical_json, sha256_hex
from steadyml.store.engine import execute_fast
from steadyml.store.tables import audit_log

GENESIS = "0" * 64
_PG_LOCK_KEY = 7_362_516


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts_ms: int
    actor: str
    action: str
    subject: str
    before: Any
    after: Any
    evidence: Any
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def append(conn: Connection, clock: Clock, *, actor: str, action: str, subject: str,
           before: Any = None, after: Any = None, evidence: Any = None) -> AuditEntry:
    """Append one entry inside the caller's write transaction."""
    if conn.dialect.name == "postgresql":
        # Serialise appenders so two transactions never chain onto the same head.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    head = execute_fast(conn, _HEAD, {}).first()
    seq, prev_hash = (head.seq + 1, head.hash) if head else (1, GENESIS)
    fields = {"seq": seq, "ts_ms": clock.now_ms(), "actor": actor, "action": action,
              "subject": subject, "before": canonical_json(before),
              "after": canonical_json(after), "evidence": canonical_json(evidence),
              "prev_hash": prev_hash}
    fields["hash"] = _hash(fields)
    execute_fast(conn, _INSERT, fields)
    return _entry(fields)


def entries(conn: Connection, *, subject: str | None = None, action: str | None = None,
            limit: int | None = None, newest_first: bool = True) -> list[AuditEntry]:
    """Return audit entries, optionally for one subject or action."""
    query = sa.select(audit_log)
    if subject is not None:
        query = query.where(audit_log.c.subject == subject)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    order = audit_log.c.seq.desc() if newest_first else audit_log.c.seq
    query = query.order_by(order).limit(limit)
    return [_entry(row._mapping) for row in conn.execute(query)]


@dataclass(frozen=True)
class ChainReport:
    entries: int
    head_hash: str
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(conn: Connection) -> ChainReport:
    """Walk the whole chain and report every broken link (does not raise)."""
    problems: list[str] = []
    prev_hash, expected_seq, count = GENESIS, 1, 0
    rows = conn.execution_options(yield_per=5000).execute(
        sa.select(audit_log).order_by(audit_log.c.seq))
    for row in rows:
        fields = dict(row._mapping)
        count += 1
        if fields["seq"] != expected_seq:
            problems.append(f"entries {expected_seq}..{fields['seq'] - 1} are missing")
        if fields["prev_hash"] != prev_hash:
            problems.append(f"entry {fields['seq']} does not chain to the entry before it")
        if _hash(fields) != fields["hash"]:
            problems.append(f"entry {fields['seq']} ({fields['action']} {fields['subject']}) "
                            "was altered: its content no longer matches its hash")
        prev_hash, expected_seq = fields["hash"], fields["seq"] + 1
    return ChainReport(entries=count, head_hash=prev_hash, problems=problems)


def check(conn: Connection) -> ChainReport:
    """Verify the chain and raise AuditChainError naming every problem found."""
    report = verify(conn)
    if not report.ok:
        raise AuditChainError("The audit log has been tampered with: " +
                              "; ".join(report.problems) + ".")
    return report


_HEAD = sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
_INSERT = audit_log.insert()


def _hash(fields: dict[str, Any]) -> str:
    covered = {k: fields[k] for k in ("seq", "ts_ms", "actor", "action", "subject", "before",
                                      "after", "evidence", "prev_hash")}
    return sha256_hex(canonical_json(covered))


def _entry(fields: Any) -> AuditEntry:
    return AuditEntry(
        seq=fields["seq"], ts_ms=fields["ts_ms"], actor=fields["actor"],
        action=fields["action"], subject=fields["subject"], before=json.loads(fields["before"]),
        after=json.loads(fields["after"]), evidence=json.loads(fields["evidence"]),
        prev_hash=fields["prev_hash"], hash=fields["hash"])
