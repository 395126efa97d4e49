"""Every drift statistic against a direct scipy / numpy computation on seeded data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy import stats
from scipy.spatial.distance import jensenshannon

from steadyml.monitoring import statistics as st


def test_psi_matches_the_formula_per_column() -> None:
    rng = np.random.default_rng(1)
    ref = rng.integers(0, 500, size=(10, 4))
    cur = rng.integers(0, 500, size=(10, 4))
    ref[3, 1] = 0  # an empty bin stays finite
    for j in range(4):
        p = ref[:, j] / ref[:, j].sum() + st.PSI_EPS
        q = cur[:, j] / cur[:, j].sum() + st.PSI_EPS
        assert st.psi(ref, cur)[j] == pytest.approx(np.sum((q - p) * np.log(q / p)), rel=1e-12)
    assert st.psi(ref[:, 0], ref[:, 0]) == pytest.approx(0.0, abs=1e-15)


def test_js_distance_matches_scipy_base_2() -> None:
    rng = np.random.default_rng(2)
    ref = rng.integers(0, 100, size=(12, 3))
    cur = rng.integers(0, 100, size=(12, 3))
    cur[0, 2] = 0
    for j in range(3):
        assert st.js_distance(ref, cur)[j] == pytest.approx(
            jensenshannon(ref[:, j], cur[:, j], base=2), rel=1e-12)
    assert st.js_distance(np.array([1, 0]), np.array([0, 1])) == pytest.approx(1.0)


@pytest.mark.parametrize(("n", "m", "discrete"), [(1000, 700, False), (5000, 3000, True),
                                                  (40_000, 25_000, False), (1, 1, False),
                                                  (1000, 3000, False), (2000, 2000, True),
                                                  (30_000, 30_000, False)])
def test_ks_and_wasserstein_match_scipy(n: int, m: int, discrete: bool) -> None:
    rng = np.random.default_rng(n)
    a = rng.normal(0, 1, n)
    b = rng.normal(0.2, 1.3, m)
    if discrete:  # many ties
        a, b = np.round(a * 3), np.round(b * 3)
    ks, w = st.ks_wasserstein(np.sort(a), np.sort(b))
    expected = stats.ks_2samp(a, b)
    assert ks == pytest.approx(expected.statistic, abs=1e-12)
    assert w == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9)
    p = st.ks_pvalue(ks, n, m, np.sort(a), np.sort(b))
    if expected.pvalue < st.KS_TINY_P:  # the limiting distribution: tiny either way
        assert p < st.KS_TINY_P
    else:
        assert p == pytest.approx(expected.pvalue, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(hs.lists(hs.integers(-5, 5), min_size=1, max_size=40),
       hs.lists(hs.integers(-5, 5), min_size=1, max_size=40))
def test_ks_and_wasserstein_match_scipy_on_any_small_sample(a: list[int],
                                                            b: list[int]) -> None:
    x, y = np.sort(np.array(a, float)), np.sort(np.array(b, float))
    ks, w = st.ks_wasserstein(x, y)
    assert ks == pytest.approx(stats.ks_2samp(x, y).statistic, abs=1e-12)
    assert w == pytest.approx(stats.wasserstein_distance(x, y), abs=1e-12)


def test_large_sample_pvalues_follow_scipy_asymptotics() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 1, 60_000), rng.normal(0.01, 1, 50_000)  # a weak shift: p moderate
    ks, _ = st.ks_wasserstein(np.sort(a), np.sort(b))
    assert st.ks_pvalue(ks, len(a), len(b)) == pytest.approx(stats.ks_2samp(a, b).pvalue,
                                                             rel=1e-9)
    c = rng.normal(0.05, 1, 50_000)  # a clear shift: p tiny, from the limiting distribution
    ks, _ = st.ks_wasserstein(np.sort(a), np.sort(c))
    expected = stats.ks_2samp(a, c).pvalue
    assert expected < st.KS_TINY_P
    assert st.ks_pvalue(ks, len(a), len(c)) == pytest.approx(expected, rel=0.05)


@pytest.mark.parametrize("k", [2, 3, 8])
def test_chi2_matches_chi2_contingency(k: int) -> None:
    rng = np.random.default_rng(k)
    ref = rng.integers(5, 300, k)
    cur = rng.integers(5, 300, k)
    expected = stats.chi2_contingency(np.vstack([ref, cur]))
    statistic, p = st.chi2_test(ref, cur)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_chi2_drops_categories_empty_in_both_and_handles_one_category() -> None:
    ref, cur = np.array([10, 0, 30]), np.array([12, 0, 25])
    expected = stats.chi2_contingency(np.vstack([[10, 30], [12, 25]]))
    assert st.chi2_test(ref, cur)[1] == pytest.approx(expected.pvalue)
    assert st.chi2_test(np.array([5]), np.array([9])) == (0.0, 1.0)


def test_holm_matches_a_brute_force_step_down() -> None:
    rng = np.random.default_rng(4)
    p = rng.random(15) ** 3
    p[4] = np.nan
    adjusted = st.holm(p)
    valid = [i for i in range(15) if not np.isnan(p[i])]
    order = sorted(valid, key=lambda i: p[i])
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        assert adjusted[i] == pytest.approx(running)
    assert np.isnan(adjusted[4])


def test_sketch_and_binned_statistics_stay_close_to_the_exact_ones() -> None:
    rng = np.random.default_rng(5)
    ref = np.sort(rng.lognormal(0, 0.7, 200_000))
    cur = np.sort(rng.lognormal(0.1, 0.7, 150_000))
    ks, w = st.ks_wasserstein(ref, cur)
    grid = np.quantile(ref, np.linspace(0, 1, 1001))
    grid_cdf = np.searchsorted(ref, grid, side="right") / len(ref)
    ks_s, w_s = st.interpolated_ks_wasserstein(grid, grid_cdf, cur)
    assert abs(ks_s - ks) < 2e-3 and w_s == pytest.approx(w, rel=0.05)
    cur_cdf = np.searchsorted(cur, grid, side="right") / len(cur)
    ks_b, w_b = st.binned_ks_wasserstein(grid, grid_cdf, cur_cdf, cur[0], cur[-1])
    assert abs(ks_b - ks) < 2e-3 and w_b == pytest.approx(w, rel=0.05)


@settings(max_examples=200, deadline=None)
@given(hs.lists(hs.one_of(hs.integers(-6, 6).map(float), hs.floats(-3, 3)), min_size=1,
                max_size=150),
       hs.lists(hs.one_of(hs.integers(-6, 6).map(float), hs.floats(-3, 3)), min_size=1,
                max_size=150),
       hs.integers(1, 9))
def test_ks_blocks_never_miss_the_largest_gap(a: list[float], b: list[float],
                                              block: int) -> None:
    x, y = np.sort(np.array(a)), np.sort(np.array(b))
    assert st.ks_statistic(x, y, block=block) == pytest.approx(
        stats.ks_2samp(x, y).statistic, abs=1e-12)
    assert st.wasserstein_sorted(x, y) == pytest.approx(stats.wasserstein_distance(x, y),
                                                        rel=1e-9, abs=1e-12)


def test_kolmogorov_sf_matches_scipy_special() -> None:
    from scipy import special

    for x in np.linspace(0.01, 6, 600):
        assert st.kolmogorov_sf(x) == pytest.approx(special.kolmogorov(x), rel=1e-12)


@pytest.mark.parametrize("n", [150, 20_000, 100_001, 500_000, 2_500_000])
def test_kstwo_sf_matches_scipy(n: int) -> None:
    for d in np.geomspace(0.3 / n, 0.99, 60):
        if n == 500_000 and n * d * d >= 2.2:  # scipy's Smirnov sum: half a second a call
            continue
        expected = float(stats.kstwo.sf(d, n))
        assert st.kstwo_sf(d, n) == pytest.approx(expected, rel=1e-12, abs=1e-300)


def test_large_sample_pvalues_need_no_durbin_matrix() -> None:
    rng = np.random.default_rng(6)
    a, b = rng.normal(0, 1, 400_000), rng.normal(0.004, 1, 300_000)
    ks, _ = st.ks_wasserstein(np.sort(a), np.sort(b))
    assert st.ks_pvalue(ks, len(a), len(b)) == pytest.approx(stats.ks_2samp(a, b).pvalue,
                                                             rel=1e-9)


@pytest.mark.parametrize("dof", [1, 2, 3, 7, 30, 101, 1000, 4999])
def test_chi2_sf_matches_scipy(dof: int) -> None:
    for x in np.geomspace(1e-3, 20 * dof + 100, 80):
        expected = stats.chi2.sf(x, dof)
        if expected > 1e-280:
            assert st.chi2_sf(x, dof) == pytest.approx(expected, rel=1e-9)
