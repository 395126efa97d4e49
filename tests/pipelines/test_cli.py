"""`steady pipeline run|list|show|rerun` through the real command line on a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from pipeline_files import CHURN
from typer.testing import CliRunner

from steadyml import Platform, Settings
from steadyml.cli import app
from steadyml.pipelines import PipelineLoadError, load_pipeline

WriteFile = Callable[[str, str], Path]


def invoke(home: Path, *args: str):
    return CliRunner().invoke(app, ["--home", str(home), *args])


def test_run_list_show_rerun(tmp_path: Path, churn_file: Path) -> None:
    home = tmp_path / "home"
    ref = f"{churn_file}:churn"
    ran = invoke(home, "pipeline", "run", ref, "--param", "n_estimators=12")
    assert ran.exit_code == 0, ran.output
    assert "4 step(s) ran, 0 cached" in ran.stdout
    assert "evaluate" in ran.stdout and "ran" in ran.stdout

    cached = invoke(home, "pipeline", "run", ref, "-p", "n_estimators=12", "--json")
    assert cached.exit_code == 0, cached.output
    second = json.loads(cached.stdout)
    assert [s["status"] for s in second["steps"]] == ["cached"] * 4
    assert second["params"] == {"seed": 7, "n_estimators": 12}

    forced = json.loads(invoke(home, "pipeline", "run", ref, "-p", "n_estimators=12",
                               "--no-cache", "--json").stdout)
    assert [s["status"] for s in forced["steps"]] == ["succeeded"] * 4

    listed = json.loads(invoke(home, "pipeline", "list", "--json").stdout)
    assert [r["run_id"] for r in listed] == [forced["run_id"], second["run_id"],
                                             listed[2]["run_id"]]
    table = invoke(home, "pipeline", "list")
    assert table.exit_code == 0 and "3 pipeline run(s)" in table.stdout

    shown = json.loads(invoke(home, "pipeline", "show", second["run_id"][:12], "--json").stdout)
    assert shown["run_id"] == second["run_id"]
    train = shown["steps"][2]
    assert train["step"] == "train" and train["cached_from"] == listed[2]["run_id"]
    assert train["inputs"]["train"].startswith("dataset:")
    assert train["outputs"]["model"]["format"] == "pickle"
    text = invoke(home, "pipeline", "show", second["run_id"])
    assert text.exit_code == 0 and "fingerprints" in text.stdout

    again = invoke(home, "pipeline", "rerun", listed[2]["run_id"], "--json")
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.stdout)
    assert rerun["rerun_of"] == listed[2]["run_id"]
    assert [s["status"] for s in rerun["steps"]] == ["succeeded"] * 4
    model = [s["outputs"]["model"]["digest"] for s in (rerun["steps"][2], train)]
    assert model[0] == model[1]

    churn_file.write_text(CHURN.replace("training %d trees", "fitting %d trees"))
    edited = invoke(home, "pipeline", "rerun", listed[2]["run_id"][:12])
    assert edited.exit_code == 0, edited.output
    assert "note: the code of step(s) train changed since run" in edited.stderr


def test_rerun_in_a_new_process_gives_the_same_model(tmp_path: Path, churn_file: Path) -> None:
    home = tmp_path / "home"
    first = json.loads(invoke(home, "pipeline", "run", f"{churn_file}:churn", "--json").stdout)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADY_")}
    done = subprocess.run([sys.executable, "-m", "steadyml", "--home", str(home), "pipeline",
                           "rerun", first["run_id"], "--json"], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    second = json.loads(done.stdout)
    assert second["steps"][2]["outputs"]["model"]["digest"] == \
        first["steps"][2]["outputs"]["model"]["digest"]
    assert second["steps"][3]["metrics"] == first["steps"][3]["metrics"]
    with Platform(Settings(home=home)) as platform:
        runs = [platform.tracking.get_run(r["run_id"]) for r in (first, second)]
    assert runs[0].metrics == runs[1].metrics


def test_a_wrong_param_is_an_error_naming_step_and_param(tmp_path: Path,
                                                         churn_file: Path) -> None:
    home = tmp_path / "home"
    bad = invoke(home, "pipeline", "run", f"{churn_file}:churn", "--param", "n_estimators=abc")
    assert bad.exit_code == 1
    assert "--param n_estimators=abc is wrong for input 'n_estimators' of step 'train'" in \
        bad.stderr
    assert "Traceback" not in bad.output
    unknown = invoke(home, "pipeline", "run", f"{churn_file}:churn", "--param", "trees=3")
    assert unknown.exit_code == 1 and "has no param 'trees'" in unknown.stderr
    malformed = invoke(home, "pipeline", "run", f"{churn_file}:churn", "--param", "trees")
    assert malformed.exit_code == 1 and "is not KEY=VALUE" in malformed.stderr
    assert json.loads(invoke(home, "pipeline", "list", "--json").stdout) == []


def test_a_failing_step_prints_its_log_and_exits_1(tmp_path: Path, write_file: WriteFile) -> None:
    path = write_file("broken.py", CHURN.replace(
        "    return auc\n", '    print("holdout is", len(holdout))\n'
                           '    raise RuntimeError("metric store offline")\n'))
    result = invoke(tmp_path / "home", "pipeline", "run", f"{path}:churn")
    assert result.exit_code == 1
    assert ("error: Pipeline 'churn-retrain' failed at step 'evaluate': RuntimeError: metric "
            "store offline") in " ".join(result.stderr.split())
    assert "holdout is 75" in result.stderr and "log of step evaluate" in result.stderr
    listed = json.loads(invoke(tmp_path / "home", "pipeline", "list", "--json").stdout)
    assert listed[0]["status"] == "FAILED"
    shown = json.loads(invoke(tmp_path / "home", "pipeline", "show", listed[0]["run_id"],
                              "--json").stdout)
    assert "metric store offline" in shown["steps"][-1]["log_excerpt"]


@pytest.mark.parametrize(("text", "expected"), [
    ("import pandas as pd\ndef broken(:\n", "SyntaxError: "),
    ("import no_such_module_here\n", "ModuleNotFoundError: No module named "
                                     "'no_such_module_here'"),
    ("x = 1\nraise RuntimeError('config missing')\n", "RuntimeError: config missing "
                                                  "(line 2)"),
])
def test_a_file_that_cannot_be_imported(tmp_path: Path, write_file: WriteFile, text: str,
                                        expected: str) -> None:
    path = write_file("bad.py", text)
    with pytest.raises(PipelineLoadError) as caught:
        load_pipeline(f"{path}:churn")
    assert str(caught.value).startswith(f"Cannot import pipeline file '{path}': {expected}")
    result = invoke(tmp_path / "home", "pipeline", "run", f"{path}:churn")
    assert result.exit_code == 1 and "Cannot import pipeline file" in result.stderr


def test_a_name_that_is_not_a_pipeline(tmp_path: Path, write_file: WriteFile) -> None:
    path = write_file("some.py", CHURN + "\nnot_one = 3\n")
    with pytest.raises(PipelineLoadError, match=r"'not_one' .* is a int, not a Pipeline\. "
                                                r"Pipelines it defines: \['churn'\]"):
        load_pipeline(f"{path}:not_one")
    with pytest.raises(PipelineLoadError, match="'missing' .* is nothing"):
        load_pipeline(f"{path}:missing")
    with pytest.raises(PipelineLoadError, match="does not name a pipeline; write FILE:PIPELINE"):
        load_pipeline(str(path))
    with pytest.raises(PipelineLoadError, match="does not exist"):
        load_pipeline(f"{tmp_path / 'nope.py'}:churn")
    missing_run = invoke(tmp_path / "home", "pipeline", "show", "0123456789abcdef")
    assert missing_run.exit_code == 1 and "steady pipeline list" in missing_run.stderr


def test_run_and_rerun_on_ray(tmp_path: Path, churn_file: Path, ray_instance: None) -> None:
    home, ref = tmp_path / "home", f"{churn_file}:churn"
    ran = invoke(home, "pipeline", "run", ref, "--executor", "ray", "--json")
    assert ran.exit_code == 0, ran.output
    first = json.loads(ran.stdout)
    assert [s["status"] for s in first["steps"]] == ["succeeded"] * 4
    assert 0.5 < first["steps"][3]["metrics"]["auc"] <= 1.0

    cached = json.loads(invoke(home, "pipeline", "run", ref, "--executor", "ray",
                               "--json").stdout)
    assert [s["status"] for s in cached["steps"]] == ["cached"] * 4
    again = invoke(home, "pipeline", "rerun", first["run_id"], "--executor", "ray", "--json")
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.stdout)
    assert [s["outputs"] for s in rerun["steps"]] == [s["outputs"] for s in first["steps"]]

    local = json.loads(invoke(home, "pipeline", "run", ref, "--no-cache", "--json").stdout)
    assert [s["metrics"] for s in local["steps"]] == [s["metrics"] for s in first["steps"]]
    assert local["steps"][1]["outputs"] == first["steps"][1]["outputs"]  # the same Parquet


def test_the_ray_executor_without_ray_names_the_extra(tmp_path: Path, churn_file: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    result = invoke(home, "pipeline", "run", f"{churn_file}:churn", "--executor", "ray")
    assert result.exit_code == 1
    assert "The Ray executor needs Ray" in result.stderr
    assert "pip install 'steadyml[ray]'" in result.stderr
    address = invoke(home, "pipeline", "run", f"{churn_file}:churn", "--ray-address", "auto")
    assert address.exit_code == 1 and "needs --executor ray" in address.stderr
    assert json.loads(invoke(home, "pipeline", "list", "--json").stdout) == []
