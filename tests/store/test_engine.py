"""MetadataStore transactions on real SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from services import free_port
from steadyml.core.errors import ConfigurationError, StoreUnavailableError
from steadyml.store import MetadataStore, create_store_engine
from steadyml.store.tables import experiments, runs


@pytest.fixture
def store(store_url: str) -> Iterator[MetadataStore]:
    store = MetadataStore(store_url)
    yield store
    store.close()


def _experiment_names(store: MetadataStore) -> list[str]:
    with store.read() as conn:
        return list(conn.execute(sa.select(experiments.c.name).order_by(experiments.c.name))
                    .scalars())


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "steady.db"
    store = MetadataStore(f"sqlite:///{db}")
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.close()
    # WAL is recorded in the file itself: a plain connection that set nothing sees it too.
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sqlite_creates_missing_parent_directories(tmp_path: Path) -> None:
    db = tmp_path / "a" / "b" / "steady.db"
    MetadataStore(f"sqlite:///{db}").close()
    assert db.is_file()


def test_write_commits_when_the_block_ends(store: MetadataStore, store_url: str) -> None:
    with store.write() as conn:
        conn.execute(experiments.insert(), [{"name": "a", "created_ms": 1},
                                            {"name": "b", "created_ms": 2}])
    other = MetadataStore(store_url)  # a separate engine sees the commit
    try:
        assert _experiment_names(other) == ["a", "b"]
    finally:
        other.close()


def test_write_that_raises_rolls_back_every_row(store: MetadataStore) -> None:
    with store.write() as conn:
        conn.execute(experiments.insert(), {"name": "kept", "created_ms": 0})

    with pytest.raises(RuntimeError, match="boom"), store.write() as conn:
        conn.execute(experiments.insert(), [{"name": f"e{i}", "created_ms": i}
                                            for i in range(5)])
        exp_id = conn.execute(sa.select(experiments.c.id)
                              .where(experiments.c.name == "e0")).scalar_one()
        conn.execute(runs.insert(), {"id": "r" * 32, "experiment_id": exp_id, "name": "run",
                                     "status": "RUNNING", "start_ms": 0, "actor": "t"})
        conn.execute(experiments.update().where(experiments.c.name == "kept")
                     .values(created_ms=99))
        raise RuntimeError("boom")

    assert _experiment_names(store) == ["kept"]
    with store.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar() == 0
        assert conn.execute(sa.select(experiments.c.created_ms)).scalar_one() == 0


def test_failed_statement_rolls_back_earlier_statements(store: MetadataStore) -> None:
    with pytest.raises(sa.exc.IntegrityError), store.write() as conn:
        conn.execute(experiments.insert(), {"name": "first", "created_ms": 0})
        conn.execute(experiments.insert(), {"name": "dup", "created_ms": 0})
        conn.execute(experiments.insert(), {"name": "dup", "created_ms": 0})
    assert _experiment_names(store) == []


def test_foreign_keys_are_enforced(store: MetadataStore) -> None:
    with pytest.raises(sa.exc.IntegrityError), store.write() as conn:
        conn.execute(runs.insert(), {"id": "r" * 32, "experiment_id": 12345, "name": "orphan",
                                     "status": "RUNNING", "start_ms": 0, "actor": "t"})


def test_uncommitted_write_is_invisible_to_readers(store: MetadataStore) -> None:
    with store.write() as writer:
        writer.execute(experiments.insert(), {"name": "pending", "created_ms": 0})
        # A reader during an open write neither blocks (WAL / MVCC) nor sees half a write.
        started = time.monotonic()
        assert _experiment_names(store) == []
        assert time.monotonic() - started < 5
    assert _experiment_names(store) == ["pending"]


def test_unreachable_postgres_raises_store_unavailable_quickly() -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql+psycopg://steady:s3cr3t-pw@127.0.0.1:{port}/steady"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as info:
        MetadataStore(url)
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message
    assert "STEADY_DB_URL" in message
    assert "s3cr3t-pw" not in message  # the password is never echoed
    assert isinstance(info.value, ConnectionError)


def test_postgres_database_that_does_not_exist_is_unavailable(postgres_url: str) -> None:
    url = postgres_url.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StoreUnavailableError, match="no_such_database"):
        MetadataStore(url)


@pytest.mark.parametrize("url", ["mysql://user@localhost/steady", "oracle://u@h/db",
                                 "redis://localhost:6379/0"])
def test_unsupported_scheme_is_a_configuration_error(url: str) -> None:
    scheme = url.split(":", 1)[0]
    with pytest.raises(ConfigurationError, match=scheme) as info:
        MetadataStore(url)
    assert "sqlite" in str(info.value) and "postgresql" in str(info.value)


@pytest.mark.parametrize("url", ["not a url", "", "://nothing"])
def test_malformed_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        create_store_engine(url)
