from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from steadyml.tracking.profiles import profile_table


def test_numeric_profile_matches_numpy() -> None:
    rng = np.random.default_rng(42)
    n = 50_000
    x = rng.normal(10, 3, n)
    x[rng.random(n) < 0.05] = np.nan
    k = rng.integers(0, 1000, n)
    table = pa.table({"x": pa.array(x, from_pandas=True), "k": k})
    prof = profile_table(table)["columns"]
    valid = x[~np.isnan(x)]
    px = prof["x"]
    assert px["null_rate"] == pytest.approx(np.isnan(x).mean())
    assert px["mean"] == pytest.approx(valid.mean())
    assert px["std"] == pytest.approx(valid.std(ddof=1))
    assert (px["min"], px["max"]) == (valid.min(), valid.max())
    np.testing.assert_allclose(px["edges"], np.quantile(valid, np.linspace(0, 1, 11)))
    expected_counts, _ = np.histogram(valid, bins=np.asarray(px["edges"]))
    assert px["counts"] == expected_counts.tolist()  # numpy's last bin is closed too
    assert sum(px["counts"]) == len(valid) == px["count"]
    pk = prof["k"]
    assert len(pk["edges"]) >= 11 and sum(pk["counts"]) == n


def test_constant_and_discrete_columns_dedupe_edges() -> None:
    table = pa.table({"c": np.full(100, 3.0), "b": np.repeat([0.0, 1.0], [90, 10])})
    prof = profile_table(table)["columns"]
    assert prof["c"]["edges"] == [3.0] and prof["c"]["counts"] == [100]
    b = table.column("b").to_numpy()
    assert prof["b"]["edges"] == np.unique(np.quantile(b, np.linspace(0, 1, 11))).tolist()
    assert prof["b"]["counts"] == [90, 10]


def test_categorical_profile_counts_and_caps() -> None:
    values = ["a"] * 50 + ["b"] * 30 + [None] * 20 + [f"r{i}" for i in range(10)]
    prof = profile_table(pa.table({"s": values}), max_categories=3)["columns"]["s"]
    assert prof["kind"] == "categorical"
    assert prof["null_rate"] == pytest.approx(20 / 110)
    assert prof["frequencies"]["a"] == 50 and prof["frequencies"]["b"] == 30
    assert len(prof["frequencies"]) == 3 and prof["other"] == 9
    assert prof["unique"] == 12


def test_all_null_and_empty_columns() -> None:
    table = pa.table({"x": pa.array([None, None], pa.float64()), "s": pa.array([None, None],
                                                                                pa.string())})
    prof = profile_table(table)["columns"]
    assert prof["x"]["null_rate"] == 1.0 and prof["x"]["edges"] == []
    assert prof["s"]["null_rate"] == 1.0 and prof["s"]["frequencies"] == {}
    empty = profile_table(pa.table({"x": pa.array([], pa.float64())}))
    assert empty["columns"]["x"]["count"] == 0
