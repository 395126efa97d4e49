"""Register and deploy steps: a gated retrain registers with lineage and starts a canary."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from steadyml import Platform
from steadyml.core.errors import InvalidInputError
from steadyml.monitoring import parse_policy
from steadyml.pipelines import (
    DataChecks,
    ModelChecks,
    Pipeline,
    Pipelines,
    StepFailedError,
    data_gate,
    deploy_step,
    model_gate,
    register_step,
    step,
)

FEATURES = ["amount", "age"]


def batch(seed: int, rows: int = 1500, corrupt: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame({"amount": rng.lognormal(3, 0.5, rows), "age": rng.normal(40, 9, rows)})
    data["target"] = (data["amount"] + rng.normal(0, 5, rows) > 22).astype(int)
    if corrupt:  # an upstream bug: a third of the ages lost
        data.loc[data.index[: rows // 3], "age"] = np.nan
    return data


@step(outputs="data")
def load(seed: int = 1, corrupt: bool = False) -> pd.DataFrame:
    return batch(seed, corrupt=corrupt)


@step(outputs=("train", "holdout"))
def split(data_checked: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    cut = int(len(data_checked) * 0.7)
    return data_checked.iloc[:cut], data_checked.iloc[cut:]


@step(outputs="model")
def train(train: pd.DataFrame, c: float = 1.0) -> Any:
    return LogisticRegression(C=c, max_iter=1000).fit(train[FEATURES], train["target"])


def retrain(reference: pd.DataFrame) -> Pipeline:
    return Pipeline("fraud-retrain", [
        load,
        data_gate(data="data", reference=reference, passthrough="data_checked",
                  checks=DataChecks(max_null_rate_increase=0.05)),
        split, train,
        model_gate(model="model", holdout="holdout", target="target", model_name="fraud",
                   checks=ModelChecks(metrics={"roc_auc": {"min": 0.7}}, min_improvement=-0.05)),
        register_step("fraud", gates=("data_gate", "model_gate"), training="train",
                      example="holdout", target="target"),
        deploy_step("fraud-api", canary=10),
    ])


@pytest.fixture
def serving(sqlite_platform: Platform) -> Platform:
    """fraud-api serves fraud:1 (the champion); its policy requires both gates."""
    first = batch(0)
    version = sqlite_platform.registry.register(
        "fraud", LogisticRegression(max_iter=1000).fit(first[FEATURES], first["target"]),
        input_example=first[FEATURES].head())
    sqlite_platform.registry.set_alias(version.ref, "champion")
    sqlite_platform.deployments.deploy("fraud-api", version.ref)
    text = "deployment: fraud-api\nrequired_gates: [data-quality, model-quality]\n"
    sqlite_platform.policies.apply(parse_policy(text), source=text)
    return sqlite_platform


def test_a_gated_retrain_registers_with_lineage_and_starts_a_canary(serving: Platform) -> None:
    run = Pipelines(serving).run(retrain(batch(0)))

    version = serving.registry.get("fraud@challenger")
    assert version.ref == "fraud:2" and version.run_id == run.run_id
    assert [d["name"] for d in version.datasets] == ["fraud-training"]
    assert {g.gate for g in serving.registry.gates("fraud:2")} == {"data-quality",
                                                                   "model-quality"}
    assert all(g.passed and g.run_id == run.run_id for g in serving.registry.gates("fraud:2"))
    current = serving.deployments.current("fraud-api")
    assert current.candidate is not None and current.candidate.ref == "fraud:2"
    assert current.mode is not None and current.mode.value == "canary" and current.weight == 10
    statuses = {r.step: r.status.value for r in run.steps}
    assert statuses["register"] == statuses["deploy"] == "succeeded"
    # Registering and deploying are never taken from the cache: a second run registers again.
    Pipelines(serving).run(retrain(batch(0)))
    assert serving.registry.get("fraud@challenger").ref == "fraud:3"


def test_a_corrupted_batch_stops_at_the_data_gate_and_nothing_is_released(
        serving: Platform) -> None:
    with pytest.raises(StepFailedError) as failed:
        Pipelines(serving).run(retrain(batch(0)), {"corrupt": True})
    assert "failed at step 'data-quality'" in str(failed.value)
    assert "column 'age' null_rate" in str(failed.value)
    assert [v.ref for v in serving.registry.versions("fraud")] == ["fraud:1"]
    assert serving.deployments.current("fraud-api").candidate is None


def test_deploy_step_arguments_are_checked() -> None:
    with pytest.raises(InvalidInputError, match="canary in \\(0, 100\\]"):
        deploy_step("fraud-api", canary=0)
    with pytest.raises(InvalidInputError, match="model name"):
        register_step("")


def test_a_step_that_reads_outside_data_can_opt_out_of_the_cache(
        sqlite_platform: Platform, tmp_path: Any) -> None:
    source = tmp_path / "batch.csv"

    @step(outputs="rows", cache=False)
    def read(path: str) -> pd.DataFrame:
        return pd.read_csv(path)

    @step(outputs="total")
    def total(rows: pd.DataFrame) -> float:
        return float(rows["x"].sum())

    pipeline = Pipeline("reader", [read, total], params={"path": str(source)})
    runner = Pipelines(sqlite_platform)
    source.write_text("x\n1\n2\n")
    first = runner.run(pipeline)
    again = runner.run(pipeline)  # same file: read runs, total is reused
    assert [r.status.value for r in again.steps] == ["succeeded", "cached"]
    source.write_text("x\n1\n2\n3\n")  # same path, new content
    changed = runner.run(pipeline)
    assert [r.status.value for r in changed.steps] == ["succeeded", "succeeded"]
    assert runner.load_output(first.run_id, "total") == 3.0
    assert runner.load_output(changed.run_id, "total") == 6.0
    # Unchanged data read again is stored once: the record points at the earlier blob...
    assert again.steps[0].outputs["rows"] == first.steps[0].outputs["rows"]
    # ...unless that blob is gone, when it is written anew.
    source.write_text("x\n1\n2\n")
    blob = first.steps[0].outputs["rows"].digest
    artifacts = sqlite_platform.artifacts
    artifacts.fs.rm(artifacts.path_of(blob))
    rewritten = runner.run(pipeline)
    assert rewritten.steps[0].outputs["rows"].digest == blob and artifacts.exists(blob)
