"""Running pipelines on a real store: records, caching, failures and reproducible reruns."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from pipeline_files import CHURN

from steadyml import Platform
from steadyml.core.errors import ArtifactCorruptError
from steadyml.pipelines import (
    Executor,
    LocalExecutor,
    Pipeline,
    PipelineRun,
    Pipelines,
    StepFailedError,
    StepStatus,
    ValueFormat,
    load_pipeline,
    run_pipeline,
    step,
)
from steadyml.tracking import RunStatus

WriteFile = Callable[[str, str], Path]


def statuses(run: PipelineRun) -> dict[str, str]:
    return {s.step: s.status.value for s in run.steps}


def digests(run: PipelineRun) -> dict[str, str]:
    return {name: v.digest for s in run.steps for name, v in s.outputs.items()}


def test_a_run_records_every_step(platform: Platform, churn_file: Path,
                                  executor: Executor) -> None:
    pipeline, source = load_pipeline(f"{churn_file}:churn")
    pipelines = Pipelines(platform, executor=executor)
    run = pipelines.run(pipeline, texts={"n_estimators": "12"}, source=source)

    assert run.status == "FINISHED" and run.pipeline == "churn-retrain"
    assert run.params == {"seed": 7, "n_estimators": 12} and run.seed == 7
    assert run.source == f"{churn_file.resolve()}:churn"
    assert [s.step for s in run.steps] == ["load", "split", "train", "evaluate"]
    assert set(statuses(run).values()) == {"succeeded"}
    load, split, train, evaluate = run.steps
    assert len(train.code_version) == 64 and train.code_version != split.code_version
    assert train.inputs["train"].startswith("dataset:")
    assert train.inputs["seed"].startswith("json:")
    assert evaluate.inputs["model"] == f"sha256:{train.outputs['model'].digest}"
    assert split.outputs["train"].format is ValueFormat.PANDAS
    assert train.outputs["model"].format is ValueFormat.PICKLE
    assert evaluate.outputs["auc"].format is ValueFormat.JSON
    assert train.outputs["model"].type.endswith("GradientBoostingClassifier")
    assert all(s.duration_ms > 0 for s in run.steps)
    assert [s.log_digest is not None for s in run.steps] == [True, False, True, False]
    assert pipelines.step_logs(split) == ""  # printed nothing: no log stored
    assert "loaded 300 rows" in pipelines.step_logs(load)
    assert "INFO churn: training 12 trees" in pipelines.step_logs(train)
    assert 0.5 < evaluate.metrics["auc"] <= 1.0

    tracked = platform.tracking.run_details(run.run_id)
    assert tracked["run"].experiment == "churn-retrain"
    assert tracked["run"].status is RunStatus.FINISHED
    assert tracked["run"].params == {"seed": "7", "n_estimators": "12"}
    assert tracked["run"].tags["steady.pipeline"] == "churn-retrain"
    assert tracked["run"].metrics["auc"] == evaluate.metrics["auc"]
    assert tracked["environment"] is not None
    paths = {a["path"] for a in tracked["artifacts"]}
    assert {"pipeline/train/model", "pipeline/train.log", "pipeline/split/holdout"} <= paths

    data = pipelines.load_output(run.run_id, "data")
    assert isinstance(data, pd.DataFrame) and list(data.columns) == ["a", "b", "c", "d",
                                                                      "target"]
    holdout = pipelines.load_output(run.run_id, "holdout")
    assert holdout.index.tolist() == sorted(set(data.index) - set(
        pipelines.load_output(run.run_id, "train").index), key=holdout.index.tolist().index)
    assert pipelines.load_output(run.run_id, "auc") == evaluate.metrics["auc"]
    assert [r.run_id for r in pipelines.list_runs()] == [run.run_id]
    assert pipelines.get(run.run_id[:10]).run_id == run.run_id


def test_an_unchanged_run_reuses_every_step(platform: Platform, churn_file: Path,
                                            executor: Executor) -> None:
    pipeline, _ = load_pipeline(f"{churn_file}:churn")
    pipelines = Pipelines(platform, executor=executor)
    first = pipelines.run(pipeline)
    second = pipelines.run(pipeline)
    assert set(statuses(second).values()) == {"cached"}
    assert {s.cached_from for s in second.steps} == {first.run_id}
    assert digests(second) == digests(first)
    assert [s.inputs for s in second.steps] == [s.inputs for s in first.steps]
    # The cached evaluation's metric is recorded on the new run too.
    assert platform.tracking.get_run(second.run_id).metrics["auc"] == \
        first.steps[-1].metrics["auc"]
    assert pipelines.load_output(second.run_id, "auc") == first.steps[-1].metrics["auc"]

    third = pipelines.run(pipeline)  # a hit on a cached record points at the executing run
    assert {s.cached_from for s in third.steps} == {first.run_id}

    forced = pipelines.run(pipeline, use_cache=False)
    assert set(statuses(forced).values()) == {"succeeded"}
    assert digests(forced) == digests(first)  # deterministic steps: the same bytes


def test_a_param_change_reruns_only_the_steps_it_reaches(
        sqlite_platform: Platform, churn_file: Path, executor: Executor) -> None:
    pipeline, _ = load_pipeline(f"{churn_file}:churn")
    pipelines = Pipelines(sqlite_platform, executor=executor)
    pipelines.run(pipeline)
    changed = pipelines.run(pipeline, {"n_estimators": 5})
    assert statuses(changed) == {"load": "cached", "split": "cached", "train": "succeeded",
                                 "evaluate": "succeeded"}
    reseeded = pipelines.run(pipeline, {"seed": 8})  # the seed reaches every step
    assert set(statuses(reseeded).values()) == {"succeeded"}


def test_a_code_change_reruns_the_step_and_what_its_output_reaches(
        sqlite_platform: Platform, write_file: WriteFile, executor: Executor) -> None:
    path = write_file("churn.py", CHURN)
    pipelines = Pipelines(sqlite_platform, executor=executor)
    first = pipelines.run(load_pipeline(f"{path}:churn")[0])

    write_file("churn.py", CHURN.replace("test_size=0.25", "test_size=0.3"))
    split_changed = pipelines.run(load_pipeline(f"{path}:churn")[0])
    assert statuses(split_changed) == {"load": "cached", "split": "succeeded",
                                       "train": "succeeded", "evaluate": "succeeded"}
    assert digests(split_changed)["data"] == digests(first)["data"]
    assert digests(split_changed)["model"] != digests(first)["model"]

    # A change that does not change the output: the step runs, what follows stays cached.
    write_file("churn.py", CHURN.replace("test_size=0.25", "test_size=0.3").replace(
        '    log.info("training %d trees", n_estimators)',
        '    log.info("training %d trees (same model)", n_estimators)'))
    cosmetic = pipelines.run(load_pipeline(f"{path}:churn")[0])
    assert statuses(cosmetic) == {"load": "cached", "split": "cached", "train": "succeeded",
                                  "evaluate": "cached"}
    assert digests(cosmetic) == digests(split_changed)


FAILING = CHURN.replace(
    '    log.info("training %d trees", n_estimators)',
    '    log.info("training %d trees", n_estimators)\n'
    '    print("about to fail")\n'
    '    if n_estimators > 0:\n'
    '        raise ValueError(f"no positive labels in {len(train)} rows")')


def test_a_failing_step_names_the_cause_keeps_its_logs_and_earlier_steps(
        sqlite_platform: Platform, write_file: WriteFile, executor: Executor) -> None:
    path = write_file("churn.py", FAILING)
    pipelines = Pipelines(sqlite_platform, executor=executor)
    with pytest.raises(StepFailedError) as caught:
        pipelines.run(load_pipeline(f"{path}:churn")[0])
    error = caught.value
    assert str(error).startswith("Pipeline 'churn-retrain' failed at step 'train': "
                                 "ValueError: no positive labels in 225 rows.")
    assert f"steady pipeline show {error.run_id}" in str(error)
    failed = pipelines.get(error.run_id)
    assert failed.status == "FAILED"
    assert statuses(failed) == {"load": "succeeded", "split": "succeeded", "train": "failed"}
    train = failed.steps[-1]
    assert train.error == "ValueError: no positive labels in 225 rows" and train.outputs == {}
    logs = pipelines.step_logs(train)
    assert "training 10 trees" in logs and "about to fail" in logs
    assert "Traceback" in logs and "raise ValueError" in logs
    assert sqlite_platform.tracking.get_run(error.run_id).status is RunStatus.FAILED
    assert sqlite_platform.registry.list_models() == []

    write_file("churn.py", CHURN)
    fixed = pipelines.run(load_pipeline(f"{path}:churn")[0])
    assert statuses(fixed) == {"load": "cached", "split": "cached", "train": "succeeded",
                               "evaluate": "succeeded"}
    assert {fixed.steps[0].cached_from, fixed.steps[1].cached_from} == {error.run_id}


def test_a_step_returning_the_wrong_number_of_outputs_fails_clearly(
        sqlite_platform: Platform, executor: Executor) -> None:
    @step(outputs=("a", "b"))
    def pair() -> tuple[int, int]:
        return 1  # type: ignore[return-value]

    with pytest.raises(StepFailedError, match="declares 2 outputs .* but returned a int"):
        Pipelines(sqlite_platform, executor=executor).run(Pipeline("pairs", [pair]))


def test_an_output_that_cannot_be_stored_fails_the_step(sqlite_platform: Platform,
                                                        executor: Executor) -> None:
    @step(outputs="scorer")
    def make_scorer():  # a lambda cannot be pickled
        return lambda x: x

    with pytest.raises(StepFailedError, match="failed at step 'make_scorer': cannot store its "
                                              "output: .*lambda"):
        Pipelines(sqlite_platform, executor=executor).run(Pipeline("scorers", [make_scorer]))


def test_rerun_reproduces_the_model_and_its_metrics(
        sqlite_platform: Platform, churn_file: Path, executor: Executor) -> None:
    pipelines = Pipelines(sqlite_platform, executor=executor)
    pipeline, source = load_pipeline(f"{churn_file}:churn")
    original = pipelines.run(pipeline, {"n_estimators": 15, "learning_rate": 0.2},
                             source=source)
    again = pipelines.rerun(original.run_id)  # loads the file again; the cache is off
    assert set(statuses(again).values()) == {"succeeded"}
    assert again.rerun_of == original.run_id
    assert again.params == original.params == {"seed": 7, "n_estimators": 15,
                                               "learning_rate": 0.2}
    assert digests(again)["model"] == digests(original)["model"]
    assert digests(again) == digests(original)
    tracked = [sqlite_platform.tracking.get_run(r.run_id) for r in (original, again)]
    assert tracked[0].metrics == tracked[1].metrics and "auc" in tracked[0].metrics
    assert tracked[1].tags["steady.rerun_of"] == original.run_id


def test_a_corrupt_output_is_never_loaded(sqlite_platform: Platform, write_file: WriteFile,
                                          executor: Executor) -> None:
    path = write_file("churn.py", CHURN)
    pipelines = Pipelines(sqlite_platform, executor=executor)
    first = pipelines.run(load_pipeline(f"{path}:churn")[0])
    model = first.steps[2].outputs["model"].digest
    blob = Path(sqlite_platform.artifacts.path_of(model))
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")

    write_file("churn.py", CHURN.replace("float(roc_auc_score", "1.0 * float(roc_auc_score"))
    with pytest.raises(ArtifactCorruptError):  # evaluate runs, and needs the model
        pipelines.run(load_pipeline(f"{path}:churn")[0])
    latest = pipelines.list_runs()[0]
    assert latest.status == "FAILED"

    blob.unlink()  # a missing output is not a cache hit: the step runs again
    again = pipelines.run(load_pipeline(f"{path}:churn")[0])
    assert statuses(again)["train"] == "succeeded" and digests(again)["model"] == model


NUMBERS = Pipeline("numbers", [step(name="plus_one", outputs="n")(lambda start: start + 1)],
                   params={"start": 1})


def test_run_pipeline_from_python(sqlite_platform: Platform, executor: Executor) -> None:
    run = run_pipeline(NUMBERS, {"start": 41}, platform=sqlite_platform,
                       executor=executor)
    assert run.steps[0].status is StepStatus.SUCCEEDED
    assert Pipelines(sqlite_platform).load_output(run.run_id, "n") == 42
    assert run.source is not None and run.source.endswith("test_runner.py:NUMBERS")


BOXES = '''
import os

from box_helpers import double  # a module beside the pipeline file

from steadyml.pipelines import Pipeline, step


class Box:
    def __init__(self, value: int) -> None:
        self.value = value


def boxed(value: int) -> Box:
    return Box(double(value))


@step(outputs=("box", "pid"))
def make(start: int = 1):
    print(f"boxing {start}")
    return boxed(start), os.getpid()


@step(outputs="total")
def unbox(box: Box) -> int:
    return box.value + 1


boxes = Pipeline("boxes", [make, unbox])
'''


def test_a_file_s_classes_helpers_and_sibling_modules_run_on_the_executor(
        sqlite_platform: Platform, write_file: WriteFile, executor: Executor) -> None:
    write_file("box_helpers.py", "def double(value):\n    return 2 * value\n")
    pipeline, source = load_pipeline(f"{write_file('boxes.py', BOXES)}:boxes")
    pipelines = Pipelines(sqlite_platform, executor=executor)
    run = pipelines.run(pipeline, {"start": 4}, source=source)

    assert pipelines.load_output(run.run_id, "total") == 9
    box = pipelines.load_output(run.run_id, "box")
    assert type(box) is pipeline.steps[0].fn.__globals__["Box"] and box.value == 8
    assert "boxing 4" in pipelines.step_logs(run.steps[0])
    ran_here = pipelines.load_output(run.run_id, "pid") == os.getpid()
    assert ran_here is isinstance(executor, LocalExecutor)

