"""Alembic migrations of the metadata schema, applied automatically when a store is opened."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

# The newest revision in versions/; a test checks it against Alembic's head.
HEAD = "0006"
_HERE = Path(__file__).parent
_PG_LOCK_KEY = 7_362_515  # any constant: serialises concurrent migrations on one PostgreSQL


def current(engine: Engine) -> str | None:
    """Return the schema revision the database is at, or None if it has none."""
    with engine.connect() as conn:
        return _current_on(conn)


def upgrade(engine: Engine, *, lock_dir: Path | None = None) -> None:
    """Bring the schema to HEAD; safe to call from many processes at once."""
    if current(engine) == HEAD:
        return
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            # Transaction-scoped: released by the commit in _run_alembic, or by the rollback
            # if the migration fails, so it is never left held by a pooled connection.
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            if _current_on(conn) != HEAD:  # another process may have migrated meanwhile
                _run_alembic(conn)
        return
    from filelock import FileLock

    lock = FileLock(str((lock_dir or Path(".")) / ".steady-migrate.lock"))
    with lock:
        if current(engine) == HEAD:
            return
        with engine.connect() as conn:
            _run_alembic(conn)


def _current_on(conn: sa.Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def _run_alembic(conn: sa.Connection) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.attributes["connection"] = conn
    command.upgrade(config, "head")
    conn.commit()
