"""Fixtures shared by every test: real PostgreSQL and S3-compatible servers on loopback.

- `home`: an empty directory, set as STEADY_HOME (every test starts with no STEADY_* set).
- `store_url`: a fresh metadata store URL, once on SQLite and once on PostgreSQL.
- `postgres_url` (session): the server's `postgres` database; `pg_db_url`: a fresh database.
- `s3_url`: a fresh `s3://bucket/prefix` on a loopback S3 server, with the AWS_* variables set;
  `s3_storage_options`: the fsspec options that reach it; `s3_server` (session): the server.

A service that cannot start skips its tests locally and fails them in CI (`CI=true`); see
`services.require`, which tests can import as `from services import require`.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from steadyml import Platform, Settings

# Make tests/services.py importable as `services` whatever pytest's import mode, in this
# process and in the processes the tests spawn (they inherit sys.path).
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from services import (  # noqa: E402
    S3_CREDENTIALS,
    PostgresServer,
    S3Server,
    ServiceUnavailable,
    require,
    start_postgres,
    start_s3,
)

__all__ = ["require"]


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's STEADY_* variables (a real database, say) out of every test."""
    for name in [n for n in os.environ if n.startswith("STEADY_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def platform(store_url: str, tmp_path: Path) -> Iterator[Platform]:
    """A platform on a fresh store (SQLite, then PostgreSQL) with local artifacts."""
    settings = Settings(home=tmp_path / "platform-home", db_url=store_url,
                        artifacts=str(tmp_path / "artifacts"), actor="tester")
    with Platform(settings) as opened:
        yield opened


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return an empty directory, also set as STEADY_HOME for the test."""
    path = tmp_path / "steady-home"
    path.mkdir()
    monkeypatch.setenv("STEADY_HOME", str(path))
    return path


# --- PostgreSQL ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """Start one PostgreSQL cluster for the session on 127.0.0.1; stop it at the end."""
    try:
        server = start_postgres()
    except ServiceUnavailable as exc:
        require(False, f"PostgreSQL unavailable: {exc}")
        raise  # unreachable: require() skipped or failed
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """Return the URL of the session server's `postgres` database (shared by all tests)."""
    return postgres_server.url()


@pytest.fixture
def pg_db_url(postgres_server: PostgresServer) -> Iterator[str]:
    """Return the URL of a new, empty database, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a fresh, empty metadata store URL; tests using it run on both databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'steady.db'}"
    return request.getfixturevalue("pg_db_url")


# --- S3-compatible object storage ----------------------------------------------------------------

@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """Start one S3-compatible server for the session on 127.0.0.1, with a bucket."""
    try:
        server = start_s3()
    except ServiceUnavailable as exc:
        require(False, f"S3-compatible server unavailable: {exc}")
        raise
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_storage_options(s3_server: S3Server) -> dict[str, Any]:
    """Return fsspec storage options that reach the loopback S3 server."""
    return {"client_kwargs": {"endpoint_url": s3_server.endpoint_url}}


@pytest.fixture
def s3_url(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch,
           request: pytest.FixtureRequest) -> str:
    """Return a fresh `s3://bucket/prefix` and point the AWS_* variables at the server.

    AWS_ENDPOINT_URL lets code that builds its own client (boto3, s3fs) find the server
    without storage options.
    """
    for name, value in S3_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint_url)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    prefix = f"{request.node.name[:40]}-{uuid.uuid4().hex[:12]}"
    prefix = "".join(c if c.isalnum() or c in "-_" else "-" for c in prefix)
    return f"s3://{s3_server.bucket}/{prefix}"
