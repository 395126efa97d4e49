"""What only the Ray executor has: a dying worker, Ray missing, Ray never imported unasked.

Everything else it does (records, caching, logs, gates, pipeline files) is tested by the
runner, gate and CLI tests, which run on both executors (the `executor` fixture).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from steadyml import Platform
from steadyml.core.errors import ConfigurationError
from steadyml.pipelines import (
    Pipeline,
    Pipelines,
    RayExecutor,
    StepFailedError,
    StepStatus,
    StepTask,
    step,
)


@step(outputs="n")
def crash(marker: str) -> int:
    with open(marker, "a") as out:
        out.write("ran\n")
    os._exit(3)


def test_a_worker_that_dies_fails_its_step_without_a_retry(
        sqlite_platform: Platform, tmp_path: Path, ray_instance: None) -> None:
    pipelines = Pipelines(sqlite_platform, executor=RayExecutor())
    with pytest.raises(StepFailedError, match="failed at step 'crash': its Ray task failed: "):
        pipelines.run(Pipeline("crashes", [crash]), {"marker": str(tmp_path / "ran")})
    assert (tmp_path / "ran").read_text() == "ran\n"  # a step may have effects: run it once
    failed = pipelines.list_runs()[0]
    assert failed.status == "FAILED" and failed.steps[0].status is StepStatus.FAILED
    assert "Worker" in pipelines.step_logs(failed.steps[0])


def test_without_ray_the_executor_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    with pytest.raises(ConfigurationError, match=r"pip install 'steadyml\[ray\]'"):
        RayExecutor().execute(StepTask("crashes", crash, {"marker": "unused"}, seed=1))


def test_importing_steadyml_does_not_import_ray() -> None:
    code = ("import sys, steadyml, steadyml.cli.pipelines, steadyml.pipelines; "
            "steadyml.pipelines.RayExecutor(); print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
