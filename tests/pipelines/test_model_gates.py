"""The model gate on real scikit-learn models and a real registry: thresholds, the champion,
slices, latency and size; results recorded on the version; deploys refused without them."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from steadyml import Platform
from steadyml.core.errors import InvalidInputError
from steadyml.pipelines import (
    Executor,
    GateFailedError,
    GateRequiredError,
    GateResult,
    ModelChecks,
    Pipeline,
    PipelineError,
    Pipelines,
    StepFailedError,
    check_gates,
    evaluate_model,
    model_gate,
    step,
)
from steadyml.pipelines.model_gates import load_champion

FEATURES = ["mean radius", "mean texture", "mean smoothness", "worst area"]
WEAK = ["mean smoothness"]


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    data = load_breast_cancer(as_frame=True).frame[[*FEATURES, "target"]]
    data = data.assign(country=np.where(np.arange(len(data)) % 3 == 0, "de", "fr"))
    train, holdout = train_test_split(data, test_size=0.4, random_state=0)
    return train, holdout


TRAIN, HOLDOUT = frames()


def fit(columns: list[str]) -> LogisticRegression:
    return LogisticRegression(max_iter=5000).fit(TRAIN[columns], TRAIN["target"])


STRONG, WEAKER = fit(FEATURES), fit(WEAK)


def evaluate(model: Any, checks: ModelChecks, champion: Any = None) -> GateResult:
    return evaluate_model(model, HOLDOUT, target="target", checks=checks, champion=champion)


def failed(result: GateResult) -> dict[tuple[str, str], Any]:
    return {(c.subject, c.check): c for c in result.failures}


def test_absolute_thresholds_pass_and_fail_with_the_numbers() -> None:
    checks = ModelChecks(metrics={"roc_auc": {"min": 0.9}, "log_loss": {"max": 0.5}})
    good = evaluate(STRONG, checks)
    bad = evaluate(DummyClassifier().fit(TRAIN[FEATURES], TRAIN["target"]), checks)

    assert good.passed, good.report()
    auc = next(c for c in good.checks if c.subject == "roc_auc")
    expected = roc_auc_score(HOLDOUT["target"], STRONG.predict_proba(HOLDOUT[FEATURES])[:, 1])
    assert auc.actual == pytest.approx(expected) and auc.expected == ">= 0.9"
    assert set(failed(bad)) == {("roc_auc", "metric_min"), ("log_loss", "metric_max")}
    assert "roc_auc metric_min: expected >= 0.9, actual 0.5" in bad.report()
    json.dumps(bad.to_dict())
    assert GateResult.from_dict(bad.to_dict()) == bad


def test_no_champion_is_recorded_and_passes(sqlite_platform: Platform) -> None:
    champion = load_champion(sqlite_platform, "churn")
    result = evaluate_model(WEAKER, HOLDOUT, target="target", champion=champion,
                            checks=ModelChecks(metrics={"roc_auc": {"min": 0.5}},
                                               slices={"de": "country=de"}),
                            no_champion="no champion: churn has no alias 'champion'")
    assert champion is None and result.passed
    beats = next(c for c in result.checks if c.check == "beats_champion")
    assert beats.reference is None and beats.note.startswith("no champion")
    assert result.context["against"].startswith("no champion")


@pytest.fixture
def with_champion(sqlite_platform: Platform) -> Platform:
    version = sqlite_platform.registry.register("churn", fit(FEATURES[:2]),
                                                input_example=TRAIN[FEATURES[:2]])
    sqlite_platform.registry.set_alias(version.ref, "champion")
    return sqlite_platform


def test_the_candidate_must_beat_the_champion_by_the_margin(with_champion: Platform) -> None:
    champion = load_champion(with_champion, "churn")
    assert champion is not None and champion.ref == "churn:1"
    champ_auc = roc_auc_score(HOLDOUT["target"],
                              fit(FEATURES[:2]).predict_proba(HOLDOUT[FEATURES[:2]])[:, 1])
    checks = ModelChecks(metrics={"roc_auc": {"min": 0.5}}, min_improvement=0.01)

    better = evaluate(STRONG, checks, champion)
    worse = evaluate(WEAKER, checks, champion)
    too_much = evaluate(STRONG, ModelChecks(metrics={"roc_auc": {"min": 0.5}},
                                            min_improvement=0.5), champion)

    assert better.passed, better.report()
    beats = next(c for c in better.checks if c.check == "beats_champion")
    assert beats.reference == pytest.approx(champ_auc)
    assert beats.limit == pytest.approx(champ_auc + 0.01)
    assert ("roc_auc", "beats_champion") in failed(worse)
    assert "roc_auc beats_champion: expected >= " in worse.report()
    assert "(champion " in worse.report() and "+ margin 0.01)" in worse.report()
    assert not too_much.passed and better.context["against"] == "churn:1"


def test_a_loss_metric_must_be_lower(with_champion: Platform) -> None:
    champion = load_champion(with_champion, "churn")
    checks = ModelChecks(metrics={"log_loss": {"max": 5.0}})
    assert evaluate(STRONG, checks, champion).passed
    result = evaluate(WEAKER, checks, champion)
    assert failed(result)[("log_loss", "beats_champion")].expected.startswith("<= ")


def test_a_slice_may_not_regress(with_champion: Platform) -> None:
    champion = load_champion(with_champion, "churn")
    slices = {"de": "country=de", "big": lambda df: df["mean radius"] > 14}
    checks = ModelChecks(metrics={"roc_auc": {"min": 0.5}}, min_improvement=-1.0,
                         slices=slices, max_slice_regression=0.02)

    worse = evaluate(WEAKER, checks, champion)
    same = evaluate(champion.model, checks, champion)

    assert set(failed(worse)) == {("slice 'de' roc_auc", "slice_regression"),
                                  ("slice 'big' roc_auc", "slice_regression")}
    de = failed(worse)[("slice 'de' roc_auc", "slice_regression")]
    assert de.note == f"{int((HOLDOUT['country'] == 'de').sum())} rows"
    assert de.limit == pytest.approx(de.reference - 0.02)
    assert same.passed, same.report()
    with pytest.raises(InvalidInputError, match="COLUMN=VALUE"):
        evaluate(STRONG, ModelChecks(metrics={"roc_auc": {"min": 0.5}},
                                     slices={"x": "nosuchcolumn=1"}), champion)


def test_latency_and_size_limits() -> None:
    loose = evaluate(STRONG, ModelChecks(max_latency_ms=1e6, max_size_bytes=10**9,
                                         latency_rows=50, latency_repeats=3))
    tight = evaluate(STRONG, ModelChecks(max_latency_ms=1e-12, max_size_bytes=10,
                                         latency_rows=50, latency_repeats=3))
    assert loose.passed
    assert set(failed(tight)) == {("model", "latency"), ("model", "size")}
    latency = failed(tight)[("model", "latency")]
    assert latency.actual > 0 and "ms per row" in latency.expected
    assert failed(tight)[("model", "size")].actual > 10


# --- in a pipeline, recorded, required -------------------------------------------------------------


@step(outputs=("model", "holdout"))
def train(columns: list[str]) -> tuple[Any, pd.DataFrame]:
    return fit(columns), HOLDOUT


GATE = model_gate(model_name="churn", checks=ModelChecks(metrics={"roc_auc": {"min": 0.6}},
                                                         min_improvement=0.01))
PIPELINE = Pipeline("churn-model-gate", [train, GATE])


def test_a_pipeline_gate_compares_with_the_champion_and_stops_on_failure(
        with_champion: Platform, executor: Executor) -> None:
    pipelines = Pipelines(with_champion, executor=executor)
    passed = pipelines.run(PIPELINE, {"columns": FEATURES})
    result = pipelines.load_output(passed.run_id, "model_gate")
    assert result["passed"] and result["context"]["against"] == "churn:1"

    with pytest.raises(StepFailedError) as raised:
        pipelines.run(PIPELINE, {"columns": WEAK})
    assert "failed at step 'model-quality'" in str(raised.value)
    assert "roc_auc beats_champion: expected >= " in str(raised.value)
    gate_step = raised.value.result.steps[-1]
    assert "roc_auc beats_champion" in pipelines.step_logs(gate_step)
    assert [v.version for v in with_champion.registry.versions("churn")] == [1]


def test_gate_results_are_recorded_on_the_version_and_required(
        with_champion: Platform, executor: Executor) -> None:
    registry = with_champion.registry
    candidate = registry.register("churn", STRONG, input_example=TRAIN[FEATURES])
    with pytest.raises(GateRequiredError, match="Model churn:2 has no passing gate "
                       "'model-quality'.*deploy with --force"):
        check_gates(with_champion, "churn:2", ["model-quality"])

    champion = load_champion(with_champion, "churn")
    bad = evaluate_model(WEAKER, HOLDOUT, target="target", champion=champion,
                         checks=ModelChecks(metrics={"roc_auc": {"min": 0.99}}))
    bad = GateResult(gate="model-quality", kind=bad.kind, checks=bad.checks,
                     context=bad.context)
    registry.record_gate(candidate.ref, bad)
    with pytest.raises(GateRequiredError, match="latest result failed.*roc_auc metric_min"):
        check_gates(registry, "churn:2", ["model-quality"])

    run = Pipelines(with_champion, executor=executor).run(PIPELINE, {"columns": FEATURES})
    passing = Pipelines(with_champion).load_output(run.run_id, "model_gate")
    record = registry.record_gate("churn:2", passing, run_id=run.run_id)
    check_gates(with_champion, "churn:2", ["model-quality"])  # the newest result passed

    records = registry.gates("churn:2")
    assert [(r.gate, r.passed, r.run_id) for r in records] == [
        ("model-quality", False, None), ("model-quality", True, run.run_id)]
    assert records[-1] == record and records[-1].result == passing
    assert GateResult.from_dict(records[0].result).failures[0].subject == "roc_auc"
    assert registry.gates("churn:1") == []
    audited = with_champion.audit_entries(action="gate.recorded")
    assert len(audited) == 2 and audited[0].subject == "model:churn"
    with pytest.raises(GateRequiredError, match="'data-quality'"):
        check_gates(with_champion, "churn:2", ["model-quality", "data-quality"])
    check_gates(with_champion, "churn:1", [])  # a policy requiring nothing


def test_a_model_gate_step_raises_gate_failed_and_needs_a_run_for_the_champion() -> None:
    alone = model_gate(checks=ModelChecks(metrics={"roc_auc": {"min": 0.99}}))
    with pytest.raises(GateFailedError, match="roc_auc metric_min: expected >= 0.99"):
        alone.fn(model=WEAKER, holdout=HOLDOUT)
    with pytest.raises(PipelineError, match="platform running the pipeline"):
        GATE.fn(model=WEAKER, holdout=HOLDOUT)
    with pytest.raises(InvalidInputError, match="names no metric"):
        model_gate(model_name="churn")
    with pytest.raises(InvalidInputError, match="the metrics are"):
        ModelChecks(metrics={"f2": {"min": 0.5}})
    changed = model_gate(model_name="churn", checks=ModelChecks(
        metrics={"roc_auc": {"min": 0.6}}, min_improvement=0.02))
    assert changed.code_version != GATE.code_version
    assert [i.name for i in GATE.inputs] == ["model", "holdout"]
