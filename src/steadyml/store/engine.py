"""The metadata store: a SQLAlchemy engine, its transactions, and schema migration on first use.

SQLite (the embedded default) runs in WAL mode so readers never block the writer. Every write
transaction starts with `BEGIN IMMEDIATE`: it takes the write lock up front and waits for it
(busy timeout) instead of failing with "database is locked" when it would otherwise have to
upgrade a read lock that another process's commit invalidated.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from steadyml.core.errors import ConfigurationError, StoreUnavailableError
from steadyml.store import migrations

SQLITE_BUSY_TIMEOUT_S = 120
PG_CONNECT_TIMEOUT_S = 10
_WRITE = "steady_write"


class MetadataStore:
    """Transactions on the metadata database; the schema is migrated when it is opened."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.engine = create_store_engine(url)
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except sa.exc.OperationalError as exc:
            self.engine.dispose()
            raise StoreUnavailableError(
                f"Cannot reach the metadata store at {_safe(url)}: {_first_line(exc)}. "
                "Check STEADY_DB_URL and that the database server is running.") from exc
        if migrate:
            try:
                migrations.upgrade(self.engine, lock_dir=_sqlite_dir(url))
            except BaseException:
                self.engine.dispose()
                raise

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """Open one write transaction: committed when the block ends, rolled back if it raises."""
        with self._write_engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """Open one read transaction (a consistent snapshot)."""
        with self.engine.begin() as conn:
            yield conn

    def close(self) -> None:
        self.engine.dispose()


def create_store_engine(url: str) -> Engine:
    """Create the engine for a metadata store URL, tuned for its dialect."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError(
            f"STEADY_DB_URL {url!r} is not a database URL; use e.g. "
            "sqlite:///path/steady.db or postgresql+psycopg://user@host/db.") from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.get_backend_name() == "postgresql":
        # A host that drops packets would otherwise hang each connect for minutes.
        connect_args = {} if "connect_timeout" in parsed.query else {
            "connect_timeout": PG_CONNECT_TIMEOUT_S}
        try:
            return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                                    connect_args=connect_args)
        except ModuleNotFoundError as exc:
            raise ConfigurationError(
                "PostgreSQL needs the psycopg driver: pip install 'steadyml[postgres]'.") from exc
    raise ConfigurationError(
        f"Unsupported metadata store {parsed.get_backend_name()!r} in STEADY_DB_URL; "
        "steadyml supports sqlite and postgresql.")


def _sqlite_engine(url: str) -> Engine:
    directory = _sqlite_dir(url)
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_S * 1000}")
        _enable_wal(cur)
        # WAL + NORMAL: a commit survives a crash of the process; only a power loss can drop
        # the last commits, and never leaves the database inconsistent.
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _sqlite_dir(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).absolute().parent


def _enable_wal(cur: Any) -> None:
    """Switch to WAL; retry, since SQLite answers "locked" at once (no busy wait) while another
    process is creating or switching the same fresh database."""
    import sqlite3
    import time

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _safe(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)) or type(exc).__name__
    return text.strip().splitlines()[0]


# Hot paths (runs, metric batches, audit appends) run prebuilt statements straight on the
# driver: compiled once per dialect, they skip SQLAlchemy's per-call statement caching and
# parameter processing, so values must already be plain Python values of the columns' types.
_COMPILED: dict[tuple[int, str, tuple[str, ...]], tuple[str, tuple[str, ...] | None,
                                                       dict[str, Any]]] = {}


def execute_fast(conn: Connection, statement: sa.Executable,
                 params: dict[str, Any]) -> sa.CursorResult[Any]:
    """Execute a prebuilt statement once with named parameters."""
    sql, order, fixed = _compiled(conn, statement, tuple(params))
    if order is None:  # named parameters (psycopg)
        return conn.exec_driver_sql(sql, {**fixed, **params})
    return conn.exec_driver_sql(sql, tuple(params[n] if n in params else fixed[n]
                                           for n in order))


def execute_many(conn: Connection, statement: sa.Executable, columns: tuple[str, ...],
                 rows: list[tuple[Any, ...]]) -> sa.CursorResult[Any] | None:
    """Execute a prebuilt statement for many rows, given as tuples in `columns` order."""
    if not rows:
        return None
    sql, order, fixed = _compiled(conn, statement, columns)
    params: list[Any]
    if order is None:  # named parameters (psycopg)
        params = [{**fixed, **dict(zip(columns, row, strict=True))} for row in rows]
    elif tuple(order) == columns:
        params = rows
    else:
        index = [columns.index(name) if name in columns else None for name in order]
        params = [tuple(row[i] if i is not None else fixed[name]
                        for i, name in zip(index, order, strict=True)) for row in rows]
    return conn.exec_driver_sql(sql, params)


def _compiled(conn: Connection, statement: sa.Executable, columns: tuple[str, ...]
              ) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
    key = (id(statement), conn.dialect.name, columns)
    found = _COMPILED.get(key)
    if found is None:
        compiled = statement.compile(dialect=conn.dialect, column_keys=list(columns))
        # Literal values in the statement (LIMIT 1, status = 'RUNNING') are binds too.
        fixed = {k: v for k, v in compiled.params.items() if k not in columns}
        found = _COMPILED[key] = (str(compiled), compiled.positiontup, fixed)
    return found


def fetch_rows(conn: Connection, statement: sa.Executable | str,
               params: Any = None) -> list[tuple[Any, ...]]:
    """Run a query and return plain tuples from the driver (no Row objects: bulk reads)."""
    if isinstance(statement, str):
        sql, args = statement, params
    else:
        compiled = statement.compile(dialect=conn.dialect)
        values = compiled.construct_params()
        sql = str(compiled)
        args = (tuple(values[n] for n in compiled.positiontup) if compiled.positiontup
                else values)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(sql, args if args is not None else ())
        return cursor.fetchall()
    finally:
        cursor.close()
