"""Pipeline files written to disk and loaded as the CLI loads them, a SQLite platform, and
the executors: tests that take `executor` run once in this process and once on Ray."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pipeline_files

from pipeline_files import CHURN  # noqa: E402

from services import require  # noqa: E402
from steadyml import Platform, Settings  # noqa: E402
from steadyml.pipelines import Executor, LocalExecutor, RayExecutor  # noqa: E402


@pytest.fixture
def write_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a pipeline file (dedented) into the test's directory and return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / "pipes" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def churn_file(write_file: Callable[[str, str], Path]) -> Path:
    return write_file("churn.py", CHURN)


@pytest.fixture
def sqlite_platform(tmp_path: Path) -> Iterator[Platform]:
    """A platform on a fresh SQLite store with local artifacts."""
    settings = Settings(home=tmp_path / "home", actor="tester")
    with Platform(settings) as opened:
        yield opened


@pytest.fixture(scope="session")
def ray_instance() -> Iterator[None]:
    """Start one small local Ray instance for the session (about 5 s); shut it down at the end."""
    try:
        import ray
    except ImportError:
        require(False, "Ray is not installed: pip install 'steadyml[ray]'")
        raise
    ray.init(num_cpus=2, object_store_memory=200 * 1024**2, include_dashboard=False,
             log_to_driver=False, ignore_reinit_error=True)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(params=["local", "ray"])
def executor(request: pytest.FixtureRequest) -> Executor:
    """The executor a pipeline test runs its steps on: this process, then Ray tasks."""
    if request.param == "local":
        return LocalExecutor()
    request.getfixturevalue("ray_instance")
    return RayExecutor()
