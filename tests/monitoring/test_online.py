"""Online metrics, checked against scikit-learn and scipy on seeded samples."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata
from sklearn import metrics as skm

from steadyml.core.errors import InvalidInputError
from steadyml.monitoring.online import (
    _average_ranks,
    business_metric,
    classification_metrics,
    load_business_metric,
    regression_metrics,
)

TOL = 1e-9


def _binary_sample(seed: int, n: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    # Rounded scores give many ties, which the rank formula must average.
    score = np.clip(np.round(0.3 * y + rng.uniform(0.01, 0.69, n), 2), 0.01, 0.99)
    pred = (score >= 0.5).astype(int)
    return y, pred, score


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_metrics_match_sklearn(seed: int) -> None:
    y, pred, score = _binary_sample(seed)
    got = classification_metrics(y, pred, score)
    assert got["n"] == len(y) and got["dropped"] == 0
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=TOL)
    assert got["precision"] == pytest.approx(skm.precision_score(y, pred), abs=TOL)
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred), abs=TOL)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y, score), abs=TOL)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, score), abs=TOL)


def test_string_labels_with_explicit_positive_match_sklearn() -> None:
    y, pred, score = _binary_sample(3)
    names = np.array(["fraud", "ok"])
    # "fraud" sorts first, so scores are P(fraud) = 1 - P(ok).
    got = classification_metrics(names[y], names[pred], 1 - score, positive="fraud")
    y_fraud = (names[y] == "fraud").astype(int)
    assert got["precision"] == pytest.approx(
        skm.precision_score(names[y], names[pred], pos_label="fraud"), abs=TOL)
    assert got["recall"] == pytest.approx(
        skm.recall_score(names[y], names[pred], pos_label="fraud"), abs=TOL)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y_fraud, 1 - score), abs=TOL)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y_fraud, 1 - score), abs=TOL)


def test_default_positive_is_the_larger_label_or_one_or_true() -> None:
    y, pred, score = _binary_sample(4)
    names = np.array(["no", "yes"])
    as_strings = classification_metrics(names[y], names[pred], score)
    as_ints = classification_metrics(y, pred, score)
    as_bools = classification_metrics(y.astype(bool), pred.astype(bool), score)
    as_floats = classification_metrics(y.astype(float), pred.astype(float), score)
    for got in (as_strings, as_bools, as_floats):
        assert got == as_ints
    assert as_ints["recall"] == pytest.approx(skm.recall_score(y, pred, pos_label=1), abs=TOL)


def test_window_with_only_negatives_still_treats_one_as_positive() -> None:
    got = classification_metrics([0, 0, 0], [0, 1, 0], [0.1, 0.6, 0.2])
    assert got["accuracy"] == pytest.approx(2 / 3)
    assert got["precision"] == 0.0
    assert got["recall"] is None  # no positive outcome in the window
    assert got["roc_auc"] is None  # one class only
    assert got["log_loss"] == pytest.approx(skm.log_loss([0, 0, 0], [0.1, 0.6, 0.2],
                                                         labels=[0, 1]), abs=TOL)


def test_undefined_metrics_are_none_not_errors() -> None:
    nothing_predicted_positive = classification_metrics([0, 1, 1], [0, 0, 0])
    assert nothing_predicted_positive["precision"] is None
    assert nothing_predicted_positive["recall"] == 0.0
    assert nothing_predicted_positive["roc_auc"] is None  # no scores
    assert nothing_predicted_positive["log_loss"] is None
    one_unknown_class = classification_metrics(["ok", "ok"], ["ok", "ok"], [0.2, 0.3])
    assert one_unknown_class["accuracy"] == 1.0
    assert [one_unknown_class[k] for k in ("precision", "recall", "roc_auc", "log_loss")] == [
        None] * 4
    scores_only = classification_metrics([0, 1, 1, 0], y_score=[0.2, 0.8, 0.4, 0.5])
    assert scores_only["accuracy"] is None and scores_only["roc_auc"] == 0.75


def test_nan_outcomes_are_dropped_and_counted() -> None:
    y, pred, score = _binary_sample(5, n=500)
    outcomes = y.astype(float)
    outcomes[::7] = np.nan
    keep = ~np.isnan(outcomes)
    got = classification_metrics(outcomes, pred, score)
    assert got == classification_metrics(y[keep], pred[keep], score[keep]) | {
        "dropped": int((~keep).sum())}
    assert got["n"] == keep.sum()
    names = np.array(["no", "yes"], dtype=object)
    strings = names[y]
    strings[::7] = None
    assert classification_metrics(strings, names[pred], score) == got


def test_all_outcomes_missing_gives_no_metrics() -> None:
    got = classification_metrics([np.nan, np.nan], [0, 1], [0.2, 0.7])
    assert got == {"n": 0, "dropped": 2, "accuracy": None, "precision": None, "recall": None,
                   "roc_auc": None, "log_loss": None}


def _multiclass_sample(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    classes = np.array(["bird", "cat", "dog", "fish"])
    y = rng.integers(0, 4, n)
    proba = rng.dirichlet(np.ones(4), n)
    proba[np.arange(n), y] += 1.0
    proba /= proba.sum(axis=1, keepdims=True)
    return classes[y], classes[proba.argmax(axis=1)], proba


@pytest.mark.parametrize("seed", [0, 1])
def test_multiclass_macro_metrics_and_log_loss_match_sklearn(seed: int) -> None:
    y, pred, proba = _multiclass_sample(seed)
    got = classification_metrics(y, pred, proba)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, pred), abs=TOL)
    assert got["precision"] == pytest.approx(
        skm.precision_score(y, pred, average="macro"), abs=TOL)
    assert got["recall"] == pytest.approx(skm.recall_score(y, pred, average="macro"), abs=TOL)
    assert got["log_loss"] == pytest.approx(skm.log_loss(y, proba), abs=TOL)
    assert got["roc_auc"] is None  # binary only


def test_macro_average_leaves_out_undefined_classes_like_sklearn_nan() -> None:
    y = np.array([0, 1, 2, 2, 1, 0, 2, 1])
    pred = np.array([0, 2, 2, 2, 0, 0, 2, 0])  # class 1 is never predicted
    got = classification_metrics(y, pred)
    assert got["precision"] == pytest.approx(
        skm.precision_score(y, pred, average="macro", zero_division=np.nan), abs=TOL)
    assert got["recall"] == pytest.approx(
        skm.recall_score(y, pred, average="macro", zero_division=np.nan), abs=TOL)


def test_labels_give_the_column_order_when_a_class_is_absent() -> None:
    y, pred, proba = _multiclass_sample(2, n=400)
    present = y != "fish"
    labels = ["bird", "cat", "dog", "fish"]
    got = classification_metrics(y[present], pred[present], proba[present], labels=labels)
    assert got["log_loss"] == pytest.approx(
        skm.log_loss(y[present], proba[present], labels=labels), abs=TOL)
    assert got["precision"] == pytest.approx(skm.precision_score(
        y[present], pred[present], labels=labels, average="macro", zero_division=np.nan),
        abs=TOL)
    without_labels = classification_metrics(y[present], pred[present], proba[present])
    if "fish" not in pred[present]:
        assert without_labels["log_loss"] is None  # 4 columns, 3 classes seen: cannot map


def test_binary_probability_matrix_equals_positive_column() -> None:
    y, pred, score = _binary_sample(6, n=300)
    matrix = np.column_stack([1 - score, score])
    by_matrix = classification_metrics(y, pred, matrix)
    by_vector = classification_metrics(y, pred, score)
    assert by_matrix["roc_auc"] == by_vector["roc_auc"]
    assert by_matrix["log_loss"] == pytest.approx(by_vector["log_loss"], abs=TOL)


def test_log_loss_clips_certain_mistakes() -> None:
    got = classification_metrics([0, 1], y_score=[1.0, 0.0])
    clipped = np.float64(1 - 1e-15)
    assert got["log_loss"] == pytest.approx(-(np.log(1 - clipped) + np.log(1e-15)) / 2, abs=TOL)


def test_average_ranks_match_scipy() -> None:
    values = np.random.default_rng(7).integers(0, 20, 1000).astype(float)
    np.testing.assert_array_equal(_average_ranks(values), rankdata(values))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 5)), min_size=2, max_size=40))
def test_roc_auc_matches_sklearn_on_arbitrary_ties(rows: list[tuple[bool, int]]) -> None:
    y = np.array([r[0] for r in rows])
    score = np.array([r[1] for r in rows]) / 5
    got = classification_metrics(y, y_score=score)["roc_auc"]
    if y.all() or not y.any():
        assert got is None
    else:
        assert got == pytest.approx(skm.roc_auc_score(y, score), abs=TOL)


@pytest.mark.parametrize(("kwargs", "fragment"), [
    ({"y_true": [], "y_pred": []}, "y_true is empty"),
    ({"y_true": [0, 1], "y_pred": [0]}, "y_pred has 1 rows but the outcomes have 2"),
    ({"y_true": [0, 1], "y_score": [0.1, 0.2, 0.3]}, "y_score has 3 rows"),
    ({"y_true": [0, 1]}, "pass y_pred"),
    ({"y_true": [0, 1], "y_pred": ["a", "b"]}, "numbers and strings are mixed"),
    ({"y_true": [0, 1, 2], "y_score": [0.1, 0.2, 0.3]}, "1-D y_score"),
    ({"y_true": [0, 1], "y_score": [0.1, 1.2]}, "in [0, 1]"),
    ({"y_true": [0, 1], "y_score": [0.1, np.nan]}, "NaN"),
    ({"y_true": [0, 1], "y_pred": [0.0, np.nan]}, "missing predictions"),
    ({"y_true": [0, 1, 2], "y_pred": [0, 1, 2], "positive": 1}, "applies to two classes"),
    ({"y_true": ["a", "z"], "y_pred": ["a", "b"], "labels": ["a", "b"]}, "'z'"),
    ({"y_true": [[0, 1]], "y_pred": [[0, 1]]}, "one-dimensional"),
])
def test_bad_input_is_rejected_with_the_problem_named(kwargs: dict, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        classification_metrics(**kwargs)
    assert fragment in str(caught.value)


def test_regression_metrics_match_sklearn_and_drop_missing_outcomes() -> None:
    rng = np.random.default_rng(8)
    y = rng.normal(100, 15, 5000)
    pred = y + rng.normal(0, 4, 5000)
    outcomes = y.copy()
    outcomes[::11] = np.nan
    keep = ~np.isnan(outcomes)
    got = regression_metrics(outcomes, pred)
    assert got["n"] == keep.sum() and got["dropped"] == (~keep).sum()
    assert got["mae"] == pytest.approx(skm.mean_absolute_error(y[keep], pred[keep]), abs=TOL)
    assert got["rmse"] == pytest.approx(
        skm.root_mean_squared_error(y[keep], pred[keep]), abs=TOL)
    assert regression_metrics([None, None], [1, 2]) == {"n": 0, "dropped": 2, "mae": None,
                                                        "rmse": None}


@pytest.mark.parametrize(("y_true", "y_pred", "fragment"), [
    ([], [], "y_true is empty"),
    ([1.0, 2.0], [1.0], "y_pred has 1 rows"),
    ([1.0, 2.0], [1.0, np.inf], "non-finite predictions"),
    (["a", "b"], [1.0, 2.0], "must hold numbers"),
])
def test_regression_bad_input(y_true: list, y_pred: list, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        regression_metrics(y_true, y_pred)
    assert fragment in str(caught.value)


@pytest.fixture
def metrics_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "shop_metrics.py").write_text(textwrap.dedent("""
        import numpy as np

        COST = 5.0

        def profit(predictions, outcomes):
            return float(np.sum((predictions == 1) & (outcomes == 1)) * 10 - COST)

        def broken(predictions, outcomes):
            raise ZeroDivisionError("no customers")

        def not_a_number(predictions, outcomes):
            return "lots"

        def nothing(predictions, outcomes):
            return None

        class Metrics:
            @staticmethod
            def rows(predictions, outcomes):
                return len(outcomes)
    """))
    (tmp_path / "needs_missing_dep.py").write_text("import no_such_dependency_xyz\n")
    (tmp_path / "fails_on_import.py").write_text("raise RuntimeError('bad config')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return "shop_metrics"


def test_business_metric_is_loaded_and_called(metrics_module: str) -> None:
    profit = load_business_metric(f"{metrics_module}:profit")
    assert business_metric(profit, [1, 1, 0, 1], [1, 0, 0, 1]) == 15.0
    rows = load_business_metric(f"{metrics_module}:Metrics.rows")
    assert business_metric(rows, [1, 1, 0], [1.0, np.nan, 0.0]) == 2.0  # NaN outcome dropped
    assert business_metric(rows, [1, 1], [np.nan, np.nan]) is None
    assert business_metric(load_business_metric(f"{metrics_module}:nothing"), [1], [1]) is None


@pytest.mark.parametrize(("spec", "fragment"), [
    ("shop_metrics", "not of the form 'module:function'"),
    ("shop_metrics:", "not of the form"),
    ("no_such_module_xyz:profit", "module 'no_such_module_xyz' cannot be found"),
    ("shop_metrics:missing", "has no attribute 'missing'"),
    ("shop_metrics:COST", "is a float, not a function"),
    ("needs_missing_dep:f", "needs 'no_such_dependency_xyz', which is not installed"),
    ("fails_on_import:f", "importing 'fails_on_import' failed: RuntimeError: bad config"),
])
def test_load_business_metric_explains_bad_specs(metrics_module: str, spec: str,
                                                 fragment: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        load_business_metric(spec)
    assert fragment in str(caught.value)


def test_business_metric_failures_name_the_function(metrics_module: str) -> None:
    broken = load_business_metric(f"{metrics_module}:broken")
    with pytest.raises(InvalidInputError, match=r"shop_metrics:broken failed.*no customers") as c:
        business_metric(broken, [1], [1])
    assert isinstance(c.value.__cause__, ZeroDivisionError)
    with pytest.raises(InvalidInputError, match=r"shop_metrics:not_a_number returned 'lots'"):
        business_metric(load_business_metric(f"{metrics_module}:not_a_number"), [1], [1])
    with pytest.raises(InvalidInputError, match="predictions has 1 rows"):
        business_metric(broken, [1], [1, 0])


def test_importing_online_metrics_needs_neither_sklearn_nor_scipy() -> None:
    code = ("import sys, steadyml.monitoring.online as m; "
            "m.classification_metrics([0, 1], [0, 1], [0.2, 0.9]); "
            "print(sorted(n for n in ('sklearn', 'scipy') if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
