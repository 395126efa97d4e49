"""Drift statistics as pure numpy functions: the definitions the drift checks are built on.

Counts are (bins × columns) matrices wherever several columns share one computation. The exact
two-sample kernels take sorted, finite samples and make one merge pass over both.
"""

from __future__ import annotations

import math

import numpy as np

PSI_EPS = 1e-4  # added to every bin's share so that an empty bin gives a large, finite PSI
KS_EXACT_MAX_N = 10_000  # below this, the KS p-value is scipy's exact one (as ks_2samp 'auto')
KS_TINY_P = 1e-6  # below this, the limiting distribution: scipy's finite-n one takes ~0.5 s


def proportions(counts: np.ndarray) -> np.ndarray:
    """Return counts as shares of their column total (a zero column stays zero)."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=0)
    return counts / np.where(total > 0, total, 1.0)


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float = PSI_EPS) -> np.ndarray:
    """Return the population stability index per column (rows: bins, columns: features).

    PSI = Σ (cur − ref) · ln(cur / ref) over the shares of each bin, each share plus `eps`.
    """
    ref = proportions(ref_counts) + eps
    cur = proportions(cur_counts) + eps
    return ((cur - ref) * np.log(cur / ref)).sum(axis=0)


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> np.ndarray:
    """Return the Jensen–Shannon distance per column, base 2 (0 = same, 1 = disjoint).

    The square root of the JS divergence, as `scipy.spatial.distance.jensenshannon(p, q, 2)`.
    """
    p, q = proportions(ref_counts), proportions(cur_counts)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=0)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=0)
    return np.sqrt(np.clip((kl_p + kl_q) / 2, 0.0, None))


def ks_wasserstein(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> tuple[float, float]:
    """Return the two-sample KS statistic and the Wasserstein-1 distance, exactly.

    Both samples sorted and finite. One stable merge of the two sorted runs (linear time) gives
    both empirical CDFs at every distinct value: KS is their largest gap, Wasserstein the area
    between them (as `scipy.stats.ks_2samp` and `scipy.stats.wasserstein_distance`).
    """
    n, m = len(ref_sorted), len(cur_sorted)
    if n == 0 or m == 0:
        return math.nan, math.nan
    values = np.concatenate((ref_sorted, cur_sorted))
    order = np.argsort(values, kind="stable")  # timsort: two runs, one merge
    merged = values[order]
    cur_seen = np.cumsum((order >= n).view(np.int8), dtype=np.int64)
    ref_seen = np.arange(1, n + m + 1, dtype=np.int64)
    ref_seen -= cur_seen
    distinct = merged[1:] != merged[:-1]
    if not distinct.all():  # ties: the CDFs step at the last of each run of equal values
        last = np.append(distinct, True)
        cur_seen, ref_seen, merged = cur_seen[last], ref_seen[last], merged[last]
    gap = ref_seen / n
    gap -= cur_seen / m
    np.abs(gap, out=gap)
    return float(gap.max()), float(np.dot(gap[:-1], np.diff(merged)))


def ks_pvalue(statistic: float, n: int, m: int, ref_sorted: np.ndarray | None = None,
              cur_sorted: np.ndarray | None = None) -> float:
    """Return the two-sided KS p-value as `scipy.stats.ks_2samp(method='auto')` does.

    Exact for small samples (when they are given), else Smirnov's asymptotic distribution.
    A p-value under `KS_TINY_P` comes from the limiting Kolmogorov distribution instead: there
    scipy's finite-n tail takes about half a second per column, and both are far below any
    significance level (near 1e-6 they agree within 1 %; deep in the tail only the order of
    magnitude is meaningful).
    """
    from scipy import stats

    if math.isnan(statistic) or n == 0 or m == 0:
        return math.nan
    if max(n, m) <= KS_EXACT_MAX_N and ref_sorted is not None and cur_sorted is not None:
        return float(stats.ks_2samp(ref_sorted, cur_sorted).pvalue)
    big, small = max(n, m), min(n, m)
    en = big * small / (big + small)
    limit = float(stats.kstwobign.sf(statistic * math.sqrt(np.round(en))))
    if limit < KS_TINY_P:
        return limit
    return float(np.clip(stats.kstwo.sf(statistic, np.round(en)), 0.0, 1.0))


def chi2_test(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Return the chi-square statistic and p-value of the 2 × k table of category counts.

    As `scipy.stats.chi2_contingency([ref, cur])`, after dropping categories empty in both.
    """
    from scipy import stats

    table = np.vstack((ref_counts, cur_counts)).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return (0.0, 1.0) if table.shape[1] < 2 else (math.nan, math.nan)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    dof = table.shape[1] - 1
    observed = table
    if dof == 1:  # Yates' continuity correction, as chi2_contingency(correction=True)
        direction = np.sign(expected - observed)
        magnitude = np.minimum(0.5, np.abs(expected - observed))
        observed = observed + direction * magnitude
    statistic = float(((observed - expected) ** 2 / expected).sum())
    return statistic, float(stats.chi2.sf(statistic, dof))


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Return Holm–Bonferroni adjusted p-values (NaN stays NaN), controlling the family error."""
    p = np.asarray(pvalues, dtype=np.float64)
    adjusted = np.full_like(p, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    if len(valid) == 0:
        return adjusted
    order = valid[np.argsort(p[valid], kind="stable")]
    k = len(order)
    scaled = p[order] * (k - np.arange(k))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def interpolated_ks_wasserstein(grid: np.ndarray, grid_cdf: np.ndarray,
                                cur_sorted: np.ndarray, *,
                                steps: bool = False) -> tuple[float, float]:
    """Return KS and Wasserstein-1 against a reference known by quantiles (a sketch).

    The reference CDF is the piecewise-linear curve through (`grid`, `grid_cdf`), or with
    `steps` (a discrete column) the staircase that jumps at each grid value; the current
    sample is exact. KS is exact for that curve; Wasserstein is ∫|Q_ref − Q_cur| dp by the
    midpoint rule over the current sample's m ranks.
    """
    m = len(cur_sorted)
    if m == 0 or len(grid) == 0:
        return math.nan, math.nan
    ranks = np.arange(1, m + 1) / m
    midpoints = (np.arange(m) + 0.5) / m
    cur_at_grid = np.searchsorted(cur_sorted, grid, side="right") / m
    gap = float(np.abs(grid_cdf - cur_at_grid).max())
    if steps:
        at = np.searchsorted(grid, cur_sorted, side="right") - 1
        ref_at_cur = np.where(at >= 0, grid_cdf[np.maximum(at, 0)], 0.0)
        last = np.append(cur_sorted[1:] != cur_sorted[:-1], True)
        gap = max(gap, float(np.abs(ref_at_cur[last] - ranks[last]).max()))
        rank = np.minimum(np.searchsorted(grid_cdf, midpoints, side="left"), len(grid) - 1)
        ref_quantiles = grid[rank]
    else:
        ref_at_cur = np.interp(cur_sorted, grid, grid_cdf, left=0.0, right=1.0)
        gap = max(gap, float(np.abs(ref_at_cur - ranks).max()),
                  float(np.abs(ref_at_cur - (ranks - 1 / m)).max()),
                  float(np.abs(grid_cdf - np.searchsorted(cur_sorted, grid, side="left") / m)
                        .max()))
        ref_quantiles = np.interp(midpoints, grid_cdf, grid)
    return gap, float(np.abs(ref_quantiles - cur_sorted).mean())


def binned_ks_wasserstein(grid: np.ndarray, grid_cdf: np.ndarray, cur_cdf: np.ndarray,
                          cur_min: float, cur_max: float, *,
                          steps: bool = False) -> tuple[float, float]:
    """Return KS and Wasserstein-1 from both CDFs known only at the same grid points.

    For windows streamed in counts: KS is the largest gap at the grid points (a lower bound,
    short of the exact value by at most one grid bin's share); Wasserstein integrates the gap
    between the two piecewise-linear CDFs (staircases with `steps`), the tails out to the
    current sample's min and max.
    """
    if len(grid) == 0:
        return math.nan, math.nan
    xs = grid
    ref, cur = grid_cdf, cur_cdf
    if cur_min < grid[0]:
        xs, ref, cur = np.r_[cur_min, xs], np.r_[0.0, ref], np.r_[0.0, cur]
    if cur_max > grid[-1]:
        xs, ref, cur = np.r_[xs, cur_max], np.r_[ref, 1.0], np.r_[cur, 1.0]
    gap = ref - cur
    a, b, width = gap[:-1], gap[1:], np.diff(xs)
    if steps:  # both CDFs flat between grid values
        return float(np.abs(gap).max()), float((np.abs(a) * width).sum())
    same = np.sign(a) * np.sign(b) >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = np.where(np.abs(a) + np.abs(b) > 0, (a * a + b * b) /
                            (2 * (np.abs(a) + np.abs(b))), 0.0)
    area = np.where(same, (np.abs(a) + np.abs(b)) / 2, crossing) * width
    return float(np.abs(gap).max()), float(area.sum())
