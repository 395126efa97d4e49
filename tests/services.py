"""Real services for the tests: PostgreSQL and an S3-compatible server on loopback, processes.

Plain helpers, no fixtures: `conftest.py` wraps them. Each server is started for real, waited
on by polling with a deadline, and stopped at the end of the session.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

IS_CI = os.environ.get("CI") == "true"
PG_START_TIMEOUT_S = 60.0
S3_START_TIMEOUT_S = 30.0


class ServiceUnavailable(RuntimeError):
    """A service the tests need could not be started here."""


def require(condition: object, reason: str) -> None:
    """Skip the test when `condition` is false, but fail it in CI (`CI=true`).

    A test skipped in CI because its service is missing would hide a broken setup.
    """
    if condition:
        return
    if IS_CI:
        pytest.fail(f"{reason} (CI=true: a test that needs a service must not be skipped)",
                    pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(ready: Callable[[], bool], *, timeout_s: float, what: str,
               interval_s: float = 0.05) -> None:
    """Poll `ready()` until it returns true; raise ServiceUnavailable at the deadline."""
    deadline = time.monotonic() + timeout_s
    last_error: BaseException | None = None
    while True:
        try:
            if ready():
                return
        except Exception as exc:  # noqa: BLE001 - not ready yet; keep the reason for the report
            last_error = exc
        if time.monotonic() >= deadline:
            detail = f": {last_error}" if last_error else ""
            raise ServiceUnavailable(f"{what} not ready after {timeout_s:.0f} s{detail}")
        time.sleep(interval_s)  # the poll interval, not a guess at readiness


# --- PostgreSQL ----------------------------------------------------------------------------------

def find_pg_bin() -> Path | None:
    """Return the directory holding initdb and pg_ctl: PATH first, then Debian's newest."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).resolve().parent
    candidates = [p for p in Path("/usr/lib/postgresql").glob("*/bin")
                  if (p / "initdb").exists() and (p / "pg_ctl").exists()]

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)

    return max(candidates, key=version) if candidates else None


def _traversable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


@dataclass
class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1 with trust auth for user `postgres`."""

    bin_dir: Path
    base: Path = field(init=False)
    port: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        parent = Path(tempfile.gettempdir())
        if os.geteuid() == 0 and not _traversable_by_others(parent):
            parent = Path("/tmp")  # the postgres user must reach the cluster's directory
        self.base = Path(tempfile.mkdtemp(prefix="steady-pg-", dir=parent))
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root: run them as the postgres system user.
            runuser = shutil.which("runuser")
            if runuser is None:
                raise ServiceUnavailable("running as root, but runuser is not available")
            try:
                import pwd

                entry = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise ServiceUnavailable(
                    "running as root, and there is no 'postgres' user to run PostgreSQL as "
                    "(install Debian's postgresql package)") from exc
            os.chown(self.base, entry.pw_uid, entry.pw_gid)
            self._as_postgres = [runuser, "-u", "postgres", "--"]

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    @property
    def log_file(self) -> Path:
        return self.base / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data_dir), "--auth=trust", "-U", "postgres",
                  "-E", "UTF8", "--no-locale", "--no-sync")
        for _attempt in range(3):  # another process may take the free port before we bind it
            self.port = free_port()
            options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} "
                       "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                       "-c max_connections=300 -c shared_buffers=32MB")
            started = self._run("pg_ctl", "start", "-D", str(self.data_dir), "-l",
                                str(self.log_file), "-o", options, "-w",
                                "-t", str(int(PG_START_TIMEOUT_S)), check=False)
            if started.returncode == 0:
                break
            if "could not bind" not in self._log_tail():
                raise ServiceUnavailable(f"pg_ctl start failed:\n{started.stdout}\n"
                                         f"{self._log_tail()}")
        else:
            raise ServiceUnavailable(f"PostgreSQL could not bind a port:\n{self._log_tail()}")
        wait_until(self._accepts_connections, timeout_s=PG_START_TIMEOUT_S,
                   what=f"PostgreSQL on 127.0.0.1:{self.port}")

    def stop(self) -> None:
        try:
            if (self.data_dir / "postmaster.pid").exists():
                stopped = self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast",
                                    "-w", "-t", "30", check=False)
                if stopped.returncode != 0:
                    self._run("pg_ctl", "stop", "-D", str(self.data_dir), "-m", "immediate",
                              "-w", "-t", "30", check=False)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def connect(self, database: str = "postgres") -> Any:
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                               dbname=database, autocommit=True, connect_timeout=5)

    def create_database(self) -> str:
        name = f"test_{uuid.uuid4().hex}"
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _accepts_connections(self) -> bool:
        with self.connect() as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [*self._as_postgres, str(self.bin_dir / tool), *args]
        result = subprocess.run(command, cwd=self.base, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "LC_ALL": "C", "LANG": "C"}, timeout=120)
        if check and result.returncode != 0:
            raise ServiceUnavailable(f"{' '.join(command)} failed ({result.returncode}):\n"
                                     f"{result.stdout}")
        return result

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def start_postgres() -> PostgresServer:
    """Start a throwaway PostgreSQL on loopback, or raise ServiceUnavailable saying why."""
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise ServiceUnavailable("psycopg is not installed (pip install -e '.[test]')") from exc
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise ServiceUnavailable("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH "
                                 "or in /usr/lib/postgresql/*/bin; apt-get install postgresql")
    server = PostgresServer(bin_dir)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


# --- S3-compatible object storage ----------------------------------------------------------------

S3_BUCKET = "steady-test"
S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "steady-test-key",
                  "AWS_SECRET_ACCESS_KEY": "steady-test-secret",
                  "AWS_DEFAULT_REGION": "us-east-1"}


@dataclass
class S3Server:
    """moto's S3-compatible server in a thread on 127.0.0.1, with one bucket."""

    server: Any
    endpoint_url: str
    bucket: str = S3_BUCKET

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url,
                            aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                            region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"])

    def stop(self) -> None:
        self.server.stop()


def start_s3() -> S3Server:
    """Start an S3-compatible server on loopback with a bucket, or raise ServiceUnavailable."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise ServiceUnavailable("moto[server] is not installed (pip install -e '.[test]')") \
            from exc
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    s3 = S3Server(server=server, endpoint_url=f"http://{host}:{port}")
    try:
        client = s3.client()
        wait_until(lambda: client.list_buckets() is not None, timeout_s=S3_START_TIMEOUT_S,
                   what=f"S3 server at {s3.endpoint_url}")
        client.create_bucket(Bucket=s3.bucket)
    except BaseException:
        s3.stop()
        raise
    return s3


# --- processes -----------------------------------------------------------------------------------

def _child(target: Callable[..., Any], barrier: Any, results: Any, index: int,
           args: tuple[Any, ...]) -> None:
    try:
        barrier.wait(timeout=300)  # start the real work in every process at the same moment
        results.put((index, True, target(*args)))
    except BaseException:  # noqa: BLE001 - reported to the parent with its traceback
        results.put((index, False, traceback.format_exc()))


def run_in_processes(target: Callable[..., Any], args: Sequence[tuple[Any, ...]], *,
                     timeout_s: float = 300.0) -> list[Any]:
    """Run `target(*args[i])` in one spawned process each, released together; return results.

    `target` must be a module-level function. Raises AssertionError with every child's
    traceback if any child failed, crashed or missed the deadline.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(args))
    results = ctx.Queue()
    processes = [ctx.Process(target=_child, args=(target, barrier, results, i, tuple(a)),
                             daemon=True) for i, a in enumerate(args)]
    for process in processes:
        process.start()
    outcomes: dict[int, tuple[bool, Any]] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while len(outcomes) < len(processes):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                index, ok, value = results.get(timeout=min(left, 1.0))
            except queue.Empty:
                if any(p.exitcode not in (None, 0) for p in processes):
                    barrier.abort()  # a child died before the start: release the others now
                if all(not p.is_alive() for p in processes) and results.empty():
                    break  # some child died without reporting
                continue
            outcomes[index] = (ok, value)
    finally:
        for process in processes:
            process.join(timeout=max(5.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
    failures = []
    for i, process in enumerate(processes):
        if i not in outcomes:
            failures.append(f"process {i}: no result (exit code {process.exitcode})")
        elif not outcomes[i][0]:
            failures.append(f"process {i} raised:\n{outcomes[i][1]}")
    assert not failures, "\n".join(failures)
    return [outcomes[i][1] for i in range(len(processes))]
