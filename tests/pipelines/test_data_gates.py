"""The data gate: each check passes on clean data and fails on a corrupted batch, naming the
column, the check, the expected and the actual value; a failing gate stops the pipeline."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from steadyml import Platform
from steadyml.core.clock import FixedClock
from steadyml.core.errors import InvalidInputError
from steadyml.pipelines import (
    DataChecks,
    Executor,
    GateFailedError,
    GateResult,
    Pipeline,
    Pipelines,
    StepFailedError,
    data_gate,
    step,
    validate_data,
)
from steadyml.pipelines.contexts import running_platform
from steadyml.pipelines.data_gates import resolve_reference

NOW = pd.Timestamp("2026-11-22T12:00:00")
NOW_MS = int(NOW.tz_localize("UTC").timestamp() * 1000)
CHECKS = DataChecks(min_row_ratio=0.5, timestamp_column="ts", max_age_s=3600,
                    allow_extra_columns=False)


def sample(seed: int, rows: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "age": rng.normal(40, 10, rows),
        "income": rng.integers(1000, 9000, rows),
        "country": rng.choice(["de", "fr", "us"], rows),
        "ts": NOW - pd.to_timedelta(rng.integers(60, 1800, rows), unit="s"),
        "target": rng.integers(0, 2, rows),
    })


REFERENCE = resolve_reference(sample(1))


def check(data: pd.DataFrame, checks: DataChecks = CHECKS) -> GateResult:
    return validate_data(data, REFERENCE, checks, gate="data-quality", now_ms=NOW_MS)


def test_clean_data_passes_every_check() -> None:
    result = check(sample(2))

    assert result.passed, result.report()
    kinds = {c.check for c in result.checks}
    assert kinds == {"row_count", "row_count_ratio", "dtype", "null_rate", "out_of_range",
                     "quantile_shift", "unseen_categories", "freshness"}
    assert result.report().startswith("Gate 'data-quality' passed all")
    json.dumps(result.to_dict())  # JSON data, every number included
    assert GateResult.from_dict(result.to_dict()) == result


def _drop_income(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="income")


def _income_as_float(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(income=df["income"].astype("float64"))


def _nulls_in_age(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(age=df["age"].mask(np.arange(len(df)) % 10 < 3))


def _ages_out_of_range(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(age=np.where(np.arange(len(df)) % 5 == 0, 500.0, df["age"]))


def _ages_shifted(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(age=df["age"] + 12)


def _new_country(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(country=np.where(np.arange(len(df)) % 10 == 0, "xx", df["country"]))


def _few_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df.iloc[:100]


def _stale(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(ts=df["ts"] - pd.Timedelta(days=2))


def _extra_column(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(debug=1)


@pytest.mark.parametrize(("corrupt", "failed_check", "subject", "expected", "actual"), [
    (_drop_income, "missing_column", "column 'income'", "present", "missing"),
    (_income_as_float, "dtype", "column 'income'", "int64", "double"),
    (_nulls_in_age, "null_rate", "column 'age'", "<= 0.05", "0.3"),
    (_ages_out_of_range, "out_of_range", "column 'age'", "<= 0.01 of values outside", "0.2"),
    (_ages_shifted, "quantile_shift", "column 'age' p50", "reference ± 0.5 × IQR", "5"),
    (_new_country, "unseen_categories", "column 'country'", "<= 0.01", "0.1"),
    (_few_rows, "row_count_ratio", "rows", ">= 0.5 × reference rows (2000) = 1000", "100"),
    (_stale, "freshness", "column 'ts'", "at most 3600 s old", "17"),
    (_extra_column, "extra_column", "column 'debug'", "absent", "present"),
])
def test_a_corrupted_batch_fails_naming_column_check_expected_actual(
        corrupt: Callable[[pd.DataFrame], pd.DataFrame], failed_check: str, subject: str,
        expected: str, actual: str) -> None:
    result = check(corrupt(sample(2)))

    assert not result.passed
    failed = [c for c in result.failures if c.check == failed_check and c.subject == subject]
    assert failed, result.report()
    line = failed[0].describe()
    assert line.startswith(f"{subject} {failed_check}: expected ")
    assert expected in failed[0].expected
    assert f"actual {actual}" in line
    assert line in result.report()


def test_thresholds_decide_and_none_turns_a_check_off() -> None:
    nulls = _nulls_in_age(sample(2))
    assert not check(nulls).passed
    loose = DataChecks(max_null_rate_increase=0.5, max_out_of_range_share=None,
                       quantile_shift_iqr=None)
    assert check(nulls, loose).passed
    assert not any(c.check in ("out_of_range", "quantile_shift") for c in check(nulls, loose).checks)


def test_numbers_match_numpy() -> None:
    data = _ages_shifted(sample(2))
    result = check(data)
    p50 = next(c for c in result.checks if c.subject == "column 'age' p50")
    assert p50.actual == pytest.approx(np.quantile(data["age"], 0.5), abs=0.2)
    assert p50.reference == pytest.approx(np.quantile(sample(1)["age"], 0.5), abs=0.2)
    nulls = next(c for c in check(_nulls_in_age(sample(2))).checks
                 if c.check == "null_rate" and c.subject == "column 'age'")
    assert nulls.actual == pytest.approx(0.3) and nulls.limit == pytest.approx(0.05)


def test_references_are_profiles_frames_or_logged_datasets(sqlite_platform: Platform) -> None:
    reference = sample(1)
    run_id = sqlite_platform.tracking.create_run("data", capture=False)
    logged = sqlite_platform.tracking.log_dataset(run_id, reference, name="churn-train")

    for given in (logged.profile, reference, logged):
        assert validate_data(sample(2), resolve_reference(given), CHECKS,
                             now_ms=NOW_MS).passed
    by_name = resolve_reference("dataset:churn-train", platform=sqlite_platform)
    assert by_name.label.startswith("dataset:churn-train (fingerprint ")
    assert by_name.schema == logged.schema
    with pytest.raises(InvalidInputError, match="dataset:NAME"):
        data_gate(reference="churn-train")
    with pytest.raises(InvalidInputError, match="timestamp_column"):
        DataChecks(max_age_s=10)


# --- in a pipeline -------------------------------------------------------------------------------


@step(outputs="data")
def load(corrupt: bool = False) -> pd.DataFrame:
    data = sample(2)
    return _nulls_in_age(data) if corrupt else data


@step(outputs="model")
def train(checked: pd.DataFrame) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression().fit(checked[["age", "income"]], checked["target"])


@step(outputs="version")
def register(model: Any, checked: pd.DataFrame) -> str:
    platform = running_platform()
    return platform.registry.register("churn", model,
                                      input_example=checked[["age", "income"]]).ref


def churn(checks: DataChecks = CHECKS) -> Pipeline:
    gate = data_gate(data="data", reference="dataset:churn-train", checks=checks,
                     passthrough="checked", clock=FixedClock(NOW_MS))
    return Pipeline("churn-gated", [load, gate, train, register])


@pytest.fixture
def with_reference(sqlite_platform: Platform) -> Platform:
    run_id = sqlite_platform.tracking.create_run("data", capture=False)
    sqlite_platform.tracking.log_dataset(run_id, sample(1), name="churn-train")
    return sqlite_platform


def test_a_failing_gate_stops_the_pipeline_before_training(with_reference: Platform,
                                                           executor: Executor) -> None:
    pipelines = Pipelines(with_reference, executor=executor)

    with pytest.raises(StepFailedError) as raised:
        pipelines.run(churn(), {"corrupt": True})

    message = str(raised.value)
    assert "Pipeline 'churn-gated' failed at step 'data-quality'" in message
    assert "GateFailedError: Gate 'data-quality' failed" in message
    assert "column 'age' null_rate: expected <= 0.05" in message and "actual 0.3" in message
    run = raised.value.result
    assert {s.step: s.status.value for s in run.steps} == {"load": "succeeded",
                                                           "data-quality": "failed"}
    logs = pipelines.step_logs(run.steps[1])
    assert "column 'age' null_rate: expected <= 0.05" in logs and "GateFailedError" in logs
    assert with_reference.registry.list_models() == []  # nothing registered


def test_a_passing_gate_lets_training_run_and_always_runs_again(
        with_reference: Platform, executor: Executor) -> None:
    pipelines = Pipelines(with_reference, executor=executor)
    first = pipelines.run(churn())
    second = pipelines.run(churn())

    assert [s.step for s in first.steps] == ["load", "data-quality", "train", "register"]
    report = pipelines.load_output(first.run_id, "data_gate")
    assert report["passed"] is True and report["gate"] == "data-quality"
    assert report["context"]["against"].startswith("dataset:churn-train")
    assert {s.step: s.status.value for s in second.steps} == {
        "load": "cached", "data-quality": "succeeded", "train": "cached",
        "register": "cached"}
    assert [m["name"] for m in with_reference.registry.list_models()] == ["churn"]


def test_the_gate_code_version_follows_its_configuration() -> None:
    a = data_gate(reference="dataset:x", checks=DataChecks(max_null_rate_increase=0.05))
    b = data_gate(reference="dataset:x", checks=DataChecks(max_null_rate_increase=0.05))
    c = data_gate(reference="dataset:x", checks=DataChecks(max_null_rate_increase=0.10))
    d = data_gate(reference="dataset:y", checks=DataChecks(max_null_rate_increase=0.05))
    assert a.code_version == b.code_version
    assert len({a.code_version, c.code_version, d.code_version}) == 3
    assert [i.name for i in a.inputs] == ["data"] and a.outputs == ("data_gate",)


def test_a_gate_outside_a_run_says_how_to_get_a_platform() -> None:
    gate = data_gate(reference="dataset:churn-train")
    with pytest.raises(Exception, match="platform running the pipeline"):
        gate.fn(data=sample(2))
    with pytest.raises(GateFailedError, match="null_rate"):
        data_gate(reference=sample(1), clock=FixedClock(NOW_MS)).fn(data=_nulls_in_age(sample(2)))
