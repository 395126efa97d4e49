"""The hash-chained audit log on real SQLite and PostgreSQL: tampering is detected."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from services import run_in_processes
from steadyml.core.clock import FixedClock, SystemClock
from steadyml.core.errors import AuditChainError
from steadyml.core.fingerprints import canonical_json, sha256_hex
from steadyml.store import MetadataStore, audit
from steadyml.store.tables import audit_log

N = 10


@pytest.fixture
def store(store_url: str) -> Iterator[MetadataStore]:
    store = MetadataStore(store_url)
    yield store
    store.close()


@pytest.fixture
def chain(store: MetadataStore) -> list[audit.AuditEntry]:
    """Append N entries, one transaction each, as the platform does."""
    clock = FixedClock()
    appended = []
    for i in range(1, N + 1):
        with store.write() as conn:
            appended.append(audit.append(
                conn, clock, actor=f"user{i % 3}", action="deploy", subject=f"fraud/{i}",
                before={"revision": i - 1}, after={"revision": i},
                evidence={"p99_ms": 12.5 * i, "note": "ünïcode ✓"}))
        clock.advance(1000)
    return appended


def _tamper(store: MetadataStore, statement: sa.Executable) -> None:
    with store.write() as conn:
        assert conn.execute(statement).rowcount == 1


def test_appended_entries_form_an_intact_chain(store: MetadataStore,
                                               chain: list[audit.AuditEntry]) -> None:
    assert [e.seq for e in chain] == list(range(1, N + 1))
    assert chain[0].prev_hash == audit.GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(chain, chain[1:], strict=False))
    assert len({e.hash for e in chain}) == N

    with store.read() as conn:
        report = audit.check(conn)
        stored = audit.entries(conn, newest_first=False)
    assert report.ok and report.problems == []
    assert report.entries == N
    assert report.head_hash == chain[-1].hash
    assert stored == chain
    assert stored[3].evidence == {"p99_ms": 50.0, "note": "ünïcode ✓"}


def test_empty_log_verifies(store: MetadataStore) -> None:
    with store.read() as conn:
        report = audit.check(conn)
    assert report.entries == 0 and report.head_hash == audit.GENESIS


def test_entries_filters_by_subject_and_action(store: MetadataStore,
                                               chain: list[audit.AuditEntry]) -> None:
    with store.write() as conn:
        audit.append(conn, FixedClock(), actor="controller", action="rollback",
                     subject="fraud/3")
    with store.read() as conn:
        assert [e.seq for e in audit.entries(conn, subject="fraud/3")] == [N + 1, 3]
        assert [e.action for e in audit.entries(conn, action="rollback")] == ["rollback"]
        assert [e.seq for e in audit.entries(conn, limit=2)] == [N + 1, N]


@pytest.mark.parametrize("column, value", [
    ("actor", "mallory"),
    ("after", canonical_json({"revision": 999})),
    ("evidence", canonical_json(None)),
    ("ts_ms", 1),
])
def test_altered_entry_is_named(store: MetadataStore, chain: list[audit.AuditEntry],
                                column: str, value: object) -> None:
    _tamper(store, audit_log.update().where(audit_log.c.seq == 4).values({column: value}))
    with store.read() as conn:
        report = audit.verify(conn)
        with pytest.raises(AuditChainError) as info:
            audit.check(conn)
    assert not report.ok
    assert len(report.problems) == 1
    assert "entry 4 " in report.problems[0] and "altered" in report.problems[0]
    assert "entry 4 " in str(info.value)


def test_altered_entry_with_recomputed_hash_breaks_the_next_link(
        store: MetadataStore, chain: list[audit.AuditEntry]) -> None:
    # A forger who also recomputes the entry's own hash still breaks the entry after it.
    forged = {**chain[4].to_dict(), "actor": "mallory"}
    covered = {k: forged[k] for k in ("seq", "ts_ms", "actor", "action", "subject",
                                      "prev_hash")}
    covered |= {k: canonical_json(forged[k]) for k in ("before", "after", "evidence")}
    _tamper(store, audit_log.update().where(audit_log.c.seq == 5)
            .values(actor="mallory", hash=sha256_hex(canonical_json(covered))))
    with store.read() as conn:
        report = audit.verify(conn)
        with pytest.raises(AuditChainError, match="entry 6 does not chain"):
            audit.check(conn)
    assert report.problems == ["entry 6 does not chain to the entry before it"]


def test_deleted_middle_entry_is_detected(store: MetadataStore,
                                          chain: list[audit.AuditEntry]) -> None:
    _tamper(store, audit_log.delete().where(audit_log.c.seq == 5))
    with store.read() as conn:
        report = audit.verify(conn)
        with pytest.raises(AuditChainError) as info:
            audit.check(conn)
    assert report.entries == N - 1
    assert "entries 5..5 are missing" in report.problems
    assert "entry 6 does not chain to the entry before it" in report.problems
    assert "entries 5..5 are missing" in str(info.value)


def test_deleted_first_entry_is_detected(store: MetadataStore,
                                         chain: list[audit.AuditEntry]) -> None:
    _tamper(store, audit_log.delete().where(audit_log.c.seq == 1))
    with store.read() as conn, pytest.raises(AuditChainError, match="entries 1..1 are missing"):
        audit.check(conn)


def test_renumbered_entries_are_detected(store: MetadataStore,
                                         chain: list[audit.AuditEntry]) -> None:
    # Closing the gap left by a deletion changes the seq that each later hash covers.
    _tamper(store, audit_log.delete().where(audit_log.c.seq == N))
    _tamper(store, audit_log.delete().where(audit_log.c.seq == 5))
    with store.write() as conn:
        for seq in range(6, N):
            conn.execute(audit_log.update().where(audit_log.c.seq == seq).values(seq=seq - 1))
    with store.read() as conn:
        report = audit.verify(conn)
    assert not report.ok
    assert any("entry 5 " in p for p in report.problems)


def test_an_append_rolled_back_with_its_transaction_leaves_no_trace(
        store: MetadataStore, chain: list[audit.AuditEntry]) -> None:
    with pytest.raises(RuntimeError), store.write() as conn:
        audit.append(conn, FixedClock(), actor="a", action="deploy", subject="x")
        raise RuntimeError("the state change failed")
    with store.write() as conn:
        entry = audit.append(conn, FixedClock(), actor="a", action="deploy", subject="y")
    assert entry.seq == N + 1 and entry.prev_hash == chain[-1].hash
    with store.read() as conn:
        assert audit.check(conn).entries == N + 1


def _append_many(url: str, count: int) -> int:
    store = MetadataStore(url)
    try:
        for i in range(count):
            with store.write() as conn:
                audit.append(conn, SystemClock(), actor=f"pid{os.getpid()}", action="tick",
                             subject=f"s{i}", evidence={"i": i})
        return count
    finally:
        store.close()


@pytest.mark.slow
def test_concurrent_appends_from_processes_keep_the_chain_intact(store_url: str) -> None:
    MetadataStore(store_url).close()  # migrate first: this test is about appends
    processes, per_process = 4, 40
    run_in_processes(_append_many, [(store_url, per_process)] * processes, timeout_s=240)
    store = MetadataStore(store_url)
    try:
        with store.read() as conn:
            report = audit.check(conn)
            seqs = conn.execute(sa.select(audit_log.c.seq).order_by(audit_log.c.seq)).scalars()
            actors = conn.execute(sa.select(sa.func.count(sa.distinct(audit_log.c.actor))))
            assert list(seqs) == list(range(1, processes * per_process + 1))
            assert actors.scalar() == processes
    finally:
        store.close()
    assert report.entries == processes * per_process
