"""Automatic schema migration on real SQLite and PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from services import PostgresServer, run_in_processes
from steadyml.store import MetadataStore, create_store_engine, migrations
from steadyml.store.tables import experiments, metadata

MIGRATIONS_DIR = Path(migrations.__file__).parent


def _tables(url: str) -> set[str]:
    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def test_head_is_alembic_script_head() -> None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    assert script.get_heads() == [migrations.HEAD]  # one head, no branches
    assert script.get_current_head() == migrations.HEAD


def test_fresh_store_gets_every_table(store_url: str) -> None:
    assert _tables(store_url) == set()
    store = MetadataStore(store_url)
    try:
        assert migrations.current(store.engine) == migrations.HEAD
    finally:
        store.close()
    assert _tables(store_url) == set(metadata.tables) | {"alembic_version"}


def test_opening_without_migrate_leaves_the_database_alone(store_url: str) -> None:
    MetadataStore(store_url, migrate=False).close()
    assert _tables(store_url) == set()


def test_opening_a_migrated_store_again_changes_nothing(store_url: str) -> None:
    first = MetadataStore(store_url)
    with first.write() as conn:
        conn.execute(experiments.insert(), {"name": "survivor", "created_ms": 7})
    first.close()

    engine = create_store_engine(store_url)
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute",
                    lambda _c, _cur, statement, *_a: statements.append(statement))
    try:
        migrations.upgrade(engine, lock_dir=None)
        assert migrations.current(engine) == migrations.HEAD
    finally:
        engine.dispose()
    ddl = [s for s in statements if s.lstrip().upper().startswith(("CREATE", "ALTER", "DROP"))]
    writes = [s for s in statements
              if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert ddl == [] and writes == []

    second = MetadataStore(store_url)
    try:
        with second.read() as conn:
            assert conn.execute(sa.select(experiments.c.name)).scalars().all() == ["survivor"]
    finally:
        second.close()


def test_migrated_schema_matches_the_tables_module(store_url: str) -> None:
    store = MetadataStore(store_url)
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        store.close()
    assert diff == [], f"the migrations and tables.py disagree: {diff}"


def _open_store(url: str) -> str | None:
    store = MetadataStore(url)
    try:
        with store.write() as conn:
            conn.execute(experiments.insert(), {"name": f"process-{os.getpid()}",
                                                "created_ms": 0})
        return migrations.current(store.engine)
    finally:
        store.close()


@pytest.mark.slow
def test_eight_processes_opening_a_fresh_store_at_once(store_url: str) -> None:
    results: list[Any] = run_in_processes(_open_store, [(store_url,)] * 8, timeout_s=240)
    assert results == [migrations.HEAD] * 8
    assert _tables(store_url) == set(metadata.tables) | {"alembic_version"}
    engine = create_store_engine(store_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
            assert conn.execute(sa.select(sa.func.count()).select_from(experiments)).scalar() \
                == 8
    finally:
        engine.dispose()


def test_failed_postgres_migration_reports_its_cause_and_releases_the_lock(
        pg_db_url: str, postgres_server: PostgresServer) -> None:
    # A database that already has a table of the same name (say, another tool's
    # `experiments`) makes the first migration fail half-way.
    engine = create_store_engine(pg_db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE experiments (other_tool_id integer)")
        with pytest.raises(sa.exc.DBAPIError) as info:
            migrations.upgrade(engine)
        assert "already exists" in str(info.value)
        with postgres_server.connect() as admin:
            held = admin.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
            assert held.fetchone() == (0,)  # other processes can still open the store
        assert migrations.current(engine) is None  # nothing half-migrated was kept
    finally:
        engine.dispose()
