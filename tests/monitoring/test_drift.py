"""Drift flags exactly the shifted features, on raw and profile references, in memory or streamed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from steadyml.core.errors import InvalidInputError
from steadyml.monitoring import DriftRule, FeatureRule, Reference, compute_drift
from steadyml.tracking.profiles import profile_table

SHIFTED = ["cat_b", "num_1", "num_3"]


def frame(n: int, seed: int, *, shift: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = {
        "num_0": rng.normal(10, 2, n),
        "num_1": rng.lognormal(0, 0.5, n),
        "num_2": rng.uniform(0, 5, n),
        "num_3": np.where(rng.random(n) < 0.5, rng.normal(-2, 1, n), rng.normal(3, 1, n)),
        "count": rng.poisson(3, n).astype(np.int64),
    }
    p = 1 / np.arange(1, 9)
    p /= p.sum()
    labels = np.array([f"v{i}" for i in range(8)])
    out["cat_a"] = labels[rng.choice(8, n, p=p)]
    out["cat_b"] = labels[rng.choice(8, n, p=p[::-1] if shift else p)]
    df = pd.DataFrame(out)
    if shift:
        df["num_1"] += 0.3 * df["num_1"].std()
        df["num_3"] += 0.5 * df["num_3"].std()
    return df


@pytest.fixture(scope="module")
def reference_frame() -> pd.DataFrame:
    return frame(40_000, 1)


def test_flags_exactly_the_shifted_features(reference_frame: pd.DataFrame) -> None:
    report = compute_drift(Reference.from_table(reference_frame), frame(30_000, 2, shift=True))
    assert report.flagged == SHIFTED
    assert report.rows == 30_000 and report.enough_samples
    for f in report.features:
        assert f.judged and f.method == "exact"
        assert f.reason


def test_statistics_in_the_report_match_scipy(reference_frame: pd.DataFrame) -> None:
    current = frame(30_000, 2, shift=True)
    report = compute_drift(Reference.from_table(reference_frame), current)
    num = report.feature("num_3")
    a, b = reference_frame["num_3"].to_numpy(), current["num_3"].to_numpy()
    assert num.ks == pytest.approx(stats.ks_2samp(a, b).statistic, abs=1e-12)
    assert num.wasserstein == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)
    assert num.wasserstein_norm == pytest.approx(num.wasserstein / np.std(a, ddof=1))
    edges = np.quantile(a, np.linspace(0, 1, 11))[1:-1]
    ref_counts = np.bincount(np.searchsorted(edges, a, side="right"), minlength=10)
    cur_counts = np.bincount(np.searchsorted(edges, b, side="right"), minlength=10)
    p, q = ref_counts / len(a) + 1e-4, cur_counts / len(b) + 1e-4
    assert num.psi == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-9)
    assert num.js == pytest.approx(jensenshannon(ref_counts, cur_counts, base=2), rel=1e-9)
    cat = report.feature("cat_b")
    ref_vc = reference_frame["cat_b"].value_counts()
    cur_vc = current["cat_b"].value_counts().reindex(ref_vc.index, fill_value=0)
    table = np.vstack([ref_vc.to_numpy(), cur_vc.to_numpy()])
    assert cat.chi2 == pytest.approx(stats.chi2_contingency(table).statistic, rel=1e-12)
    assert cat.js == pytest.approx(jensenshannon(table[0], table[1], base=2), rel=1e-9)
    assert cat.unseen_share == 0.0


def test_no_false_alarm_on_a_large_window_from_the_same_distribution() -> None:
    # With 200k rows every tiny difference is "significant"; the effect size keeps it quiet.
    report = compute_drift(Reference.from_table(frame(200_000, 3)), frame(200_000, 4))
    assert report.flagged == []
    assert min(f.p_adjusted for f in report.features if f.p_adjusted is not None) > 0


def test_a_small_window_is_not_enough_samples_not_an_alarm(
        reference_frame: pd.DataFrame) -> None:
    report = compute_drift(Reference.from_table(reference_frame),
                           frame(50, 5, shift=True), rule=DriftRule(min_samples=100))
    assert report.flagged == [] and not report.enough_samples
    assert "not enough samples" in report.feature("num_3").reason
    empty = compute_drift(Reference.from_table(reference_frame), frame(0, 5))
    assert empty.flagged == [] and empty.rows == 0
    # An idle window with no columns at all (no traffic, nothing logged) is not a schema alarm.
    idle = compute_drift(Reference.from_table(reference_frame), pa.table({}))
    assert idle.flagged == [] and not idle.enough_samples
    assert {f.kind for f in idle.features} <= {"missing", "numeric", "categorical"}
    assert all("not enough samples" in f.reason for f in idle.features)


def test_a_column_whose_type_changed_upstream_is_flagged_not_crashed_on(
        reference_frame: pd.DataFrame) -> None:
    current = frame(5_000, 6)
    current["num_0"] = current["num_0"].map(lambda v: f"{v:.2f} EUR")  # now text
    current = current.drop(columns=["num_2"])
    report = compute_drift(Reference.from_table(reference_frame), current)
    assert report.feature("num_0").kind == "type_changed"
    assert "numeric" in report.feature("num_0").reason
    assert report.feature("num_2").kind == "missing"
    assert report.flagged == ["num_0", "num_2"]


def test_missing_values_moving_is_flagged(reference_frame: pd.DataFrame) -> None:
    current = frame(20_000, 7)
    current.loc[current.index[:5_000], "num_2"] = np.nan
    current.loc[current.index[:5_000], "cat_a"] = None
    report = compute_drift(Reference.from_table(reference_frame), current)
    assert report.flagged == ["cat_a", "num_2"]
    assert report.feature("num_2").null_rate_cur == pytest.approx(0.25)
    assert "missing share" in report.feature("cat_a").reason


def test_unseen_categories_are_counted(reference_frame: pd.DataFrame) -> None:
    current = frame(10_000, 8)
    current.loc[current.index[:3_000], "cat_a"] = "brand-new"
    f = compute_drift(Reference.from_table(reference_frame), current).feature("cat_a")
    assert f.unseen_share == pytest.approx(0.3) and f.drifted


def test_streaming_in_counts_gives_the_same_flags(reference_frame: pd.DataFrame) -> None:
    current = pa.Table.from_pandas(frame(30_000, 2, shift=True), preserve_index=False)
    exact = compute_drift(Reference.from_table(reference_frame), current)
    streamed = compute_drift(Reference.from_table(reference_frame),
                             current.to_batches(max_chunksize=4_000), exact_rows=5_000)
    assert streamed.flagged == exact.flagged == SHIFTED
    for a, b in zip(exact.features, streamed.features, strict=True):
        if a.kind == "numeric":
            assert b.method == "binned"
            assert b.psi == pytest.approx(a.psi, rel=1e-9)  # same bins: identical counts
            assert abs(b.ks - a.ks) < 0.01  # one grid bin's share of the reference
        assert b.n_cur == a.n_cur


def test_a_profile_reference_flags_the_same_features(reference_frame: pd.DataFrame) -> None:
    profile = profile_table(pa.Table.from_pandas(reference_frame, preserve_index=False))
    reference = Reference.from_profile(profile, description="training")
    assert not reference.exact
    report = compute_drift(reference, frame(30_000, 2, shift=True))
    assert report.flagged == SHIFTED
    raw = compute_drift(Reference.from_table(reference_frame), frame(30_000, 2, shift=True))
    for a, b in zip(raw.features, report.features, strict=True):
        if a.kind == "numeric":
            assert b.method == "sketch" and abs(b.ks - a.ks) < 0.01
            assert b.psi == pytest.approx(a.psi, rel=1e-6)


def test_per_feature_overrides_and_ignores(reference_frame: pd.DataFrame) -> None:
    rule = DriftRule(features={"num_1": FeatureRule(ignore=True),
                               "num_3": FeatureRule(numeric_effect=5.0)})
    report = compute_drift(Reference.from_table(reference_frame),
                           frame(30_000, 2, shift=True), rule=rule)
    assert report.flagged == ["cat_b"]
    assert "num_1" not in [f.name for f in report.features]


def test_bad_rules_and_inputs_are_rejected(reference_frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="alpha"):
        DriftRule(alpha=1.5)
    with pytest.raises(InvalidInputError, match="no column"):
        Reference.from_table(reference_frame, columns=["nope"])
    with pytest.raises(InvalidInputError, match="DataFrame"):
        compute_drift(Reference.from_table(reference_frame), 42)


def test_the_report_is_json_ready(reference_frame: pd.DataFrame) -> None:
    import json

    report = compute_drift(Reference.from_table(reference_frame), frame(2_000, 9, shift=True))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["flagged"] == report.flagged
    hist = data["features"][0]["histogram"]
    assert len(hist["edges"]) == len(hist["reference"]) + 1
    assert sum(hist["current"]) == pytest.approx(1.0)


def test_a_duckdb_relation_streams_through(reference_frame: pd.DataFrame) -> None:
    import duckdb

    current = pa.Table.from_pandas(frame(30_000, 2, shift=True), preserve_index=False)
    con = duckdb.connect()
    con.register("window_t", current)
    report = compute_drift(Reference.from_table(reference_frame),
                           con.sql("SELECT * FROM window_t"))
    assert report.flagged == SHIFTED and report.rows == 30_000


def test_pandas_and_arrow_inputs_give_the_same_report(reference_frame: pd.DataFrame) -> None:
    def odd_columns(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df.loc[df.index[::7], "num_2"] = np.nan
        df.loc[df.index[::11], "num_0"] = np.inf
        df["cat_a"] = df["cat_a"].astype("category")
        df["cat_b"] = df["cat_b"].astype(object)
        df["flag"] = df["count"] > 2
        return df

    ref, cur = odd_columns(reference_frame), odd_columns(frame(30_000, 2, shift=True))
    as_arrow = [pa.Table.from_pandas(df, preserve_index=False) for df in (ref, cur)]
    from_pandas = compute_drift(Reference.from_table(ref), cur).to_dict()
    from_arrow = compute_drift(Reference.from_table(as_arrow[0]), as_arrow[1]).to_dict()
    assert from_pandas == from_arrow
    assert from_pandas["flagged"] == SHIFTED
    assert {f["name"]: f["kind"] for f in from_pandas["features"]}["flag"] == "categorical"


def test_a_large_window_imports_nothing_from_scipy() -> None:
    """Large samples take their p-values from numpy (importing scipy.stats costs ~1 s)."""
    import subprocess
    import sys

    code = """if True:
        import sys
        import numpy as np
        import pandas as pd
        from steadyml.monitoring import Reference, compute_drift
        rng = np.random.default_rng(0)
        n = 250_000
        def window(shift):
            return pd.DataFrame({"a": rng.normal(shift, 1, n), "b": rng.normal(0, 1, n),
                                 "c": rng.choice(["x", "y", "z"], n)})
        report = compute_drift(Reference.from_table(window(0.0)), window(0.2))
        print(report.flagged, sorted({m.split(".")[0] for m in sys.modules} & {"scipy"}))
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["['a']", "[]"]
