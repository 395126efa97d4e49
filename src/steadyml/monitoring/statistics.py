"""Drift statistics as pure numpy functions: the definitions the drift checks are built on.

Counts are (bins × columns) matrices wherever several columns share one computation. The exact
two-sample kernels take sorted, finite samples and never merge them. The p-values are scipy's,
computed here from the same formulas in numpy for large samples (importing `scipy.stats`
costs about a second); small or unusual ones still come from scipy, imported on first use.
"""

from __future__ import annotations

import math

import numpy as np

PSI_EPS = 1e-4  # added to every bin's share so that an empty bin gives a large, finite PSI
KS_EXACT_MAX_N = 10_000  # below this, the KS p-value is scipy's exact one (as ks_2samp 'auto')
KS_TINY_P = 1e-6  # below this, the limiting distribution: scipy's finite-n one takes ~0.5 s
KS_BLOCK = 64  # current values per block of the KS search


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

    Both samples sorted and finite; the values are those of `scipy.stats.ks_2samp` and
    `scipy.stats.wasserstein_distance`, without merging the two samples (see `ks_statistic`
    and `wasserstein_sorted`).
    """
    if len(ref_sorted) == 0 or len(cur_sorted) == 0:
        return math.nan, math.nan
    return ks_statistic(ref_sorted, cur_sorted), wasserstein_sorted(ref_sorted, cur_sorted)


def ks_statistic(ref_sorted: np.ndarray, cur_sorted: np.ndarray, *,
                 block: int = KS_BLOCK) -> float:
    """Return the two-sample KS statistic of two sorted, finite samples, exactly.

    The largest gap between the empirical CDFs is found at a current value: just at it (the
    last of a run of equal values) or just before it (the first of the run), with the share of
    the reference at or below (or below) it found by binary search. Evaluating every current
    value costs one search each; instead the values go in blocks of `block`, the ends of each
    block bound every gap inside it, and only blocks whose bound reaches the largest gap known
    are searched value by value: usually a few per cent of them.
    """
    n, m = len(ref_sorted), len(cur_sorted)
    if n == 0 or m == 0:
        return math.nan
    first = np.arange(0, m, block)
    last = np.minimum(first + block, m) - 1
    below = np.searchsorted(ref_sorted, cur_sorted[first], side="left")
    at_or_below = np.searchsorted(ref_sorted, cur_sorted[last], side="right")
    # Inside a block every gap F_ref − F_cur lies in [below/n − (last+1)/m, at_or_below/n −
    # first/m]; the same division and subtraction in floats keep that order.
    bound = np.maximum(at_or_below / n - first / m, (last + 1) / m - below / n)
    top = int(np.argmax(bound))  # most likely to hold the largest gap: it sets the bar
    known = _ks_gaps(ref_sorted, cur_sorted, np.arange(first[top], last[top] + 1))
    open_blocks = np.flatnonzero(bound >= known)
    rows = (open_blocks[:, None] * block + np.arange(block)).ravel()
    return max(known, _ks_gaps(ref_sorted, cur_sorted, rows[rows < m]))


def _ks_gaps(ref_sorted: np.ndarray, cur_sorted: np.ndarray, rows: np.ndarray) -> float:
    """Return the largest CDF gap just at and just before the current values at `rows`."""
    if len(rows) == 0:
        return 0.0
    n, m = len(ref_sorted), len(cur_sorted)
    values = cur_sorted[rows]
    # Only the last of a run of equal values is the CDF's value there, only the first its
    # limit from the left.
    is_last = rows == m - 1
    is_last[~is_last] = cur_sorted[rows[~is_last] + 1] != values[~is_last]
    is_first = rows == 0
    is_first[~is_first] = cur_sorted[rows[~is_first] - 1] != values[~is_first]
    gap = 0.0
    if is_last.any():
        at = np.searchsorted(ref_sorted, values[is_last], side="right") / n
        at -= (rows[is_last] + 1) / m
        gap = float(np.abs(at).max())
    if is_first.any():
        before = np.searchsorted(ref_sorted, values[is_first], side="left") / n
        before -= rows[is_first] / m
        gap = max(gap, float(np.abs(before).max()))
    return gap


def wasserstein_sorted(ref_sorted: np.ndarray, cur_sorted: np.ndarray) -> float:
    """Return the Wasserstein-1 distance of two sorted samples, exactly.

    ∫|Q_ref(p) − Q_cur(p)| dp over the two quantile functions, steps of 1/n and 1/m: every
    step of the finer one meets at most two steps of the coarser, found by integer arithmetic,
    so nothing is merged or searched. Equal to ∫|F_ref − F_cur| dx (as scipy computes it).
    """
    coarse, fine = sorted((ref_sorted, cur_sorted), key=len)
    n, m = len(coarse), len(fine)
    if n == 0:
        return math.nan
    if m % n == 0:  # each fine step lies inside one coarse step: no weights needed
        gap = np.repeat(coarse, m // n)
        np.subtract(fine, gap, out=gap)
        return float(np.abs(gap, out=gap).sum()) / m
    # In units of 1/(n·m): the fine step j spans [j·n, j·n + n), the coarse step i [i·m, i·m + m).
    # In place where it can be: a fresh array of a million values costs as much as a pass.
    start = np.arange(m, dtype=np.int64)
    start *= n
    step = start // m
    inside = step + 1
    inside *= m
    inside -= start
    del start
    np.minimum(inside, n, out=inside)  # the part of fine step j inside coarse step `step`
    weight = inside.astype(np.float64)
    del inside
    gap = coarse.take(step)
    np.subtract(fine, gap, out=gap)
    total = float(np.dot(np.abs(gap, out=gap), weight))
    weight -= n  # minus the part inside coarse step `step` + 1
    if weight.any():
        step += 1
        np.minimum(step, n - 1, out=step)
        coarse.take(step, out=gap)
        np.subtract(fine, gap, out=gap)
        total -= float(np.dot(np.abs(gap, out=gap), weight))
    return total / n / m


def ks_pvalue(statistic: float, n: int, m: int, ref_sorted: np.ndarray | None = None,
              cur_sorted: np.ndarray | None = None) -> float:
    """Return the two-sided KS p-value as `scipy.stats.ks_2samp(method='auto')` does.

    Exact for small samples (when they are given; from scipy), else Smirnov's asymptotic
    distribution (`kstwo_sf`). A p-value under `KS_TINY_P` comes from the limiting Kolmogorov
    distribution instead: there scipy's finite-n tail takes about half a second per column,
    and both are far below any significance level (near 1e-6 they agree within 1 %; deep in
    the tail only the order of magnitude is meaningful).
    """
    if math.isnan(statistic) or n == 0 or m == 0:
        return math.nan
    if max(n, m) <= KS_EXACT_MAX_N and ref_sorted is not None and cur_sorted is not None:
        from scipy import stats

        return float(stats.ks_2samp(ref_sorted, cur_sorted).pvalue)
    big, small = max(n, m), min(n, m)
    en = int(np.round(big * small / (big + small)))
    limit = kolmogorov_sf(statistic * math.sqrt(en))
    if limit < KS_TINY_P:
        return limit
    return kstwo_sf(statistic, en)


def kolmogorov_sf(x: float) -> float:
    """Return P(K > x) for Kolmogorov's limiting distribution (`scipy.special.kolmogorov`)."""
    if math.isnan(x):
        return math.nan
    if x <= 0:
        return 1.0
    if x < 1:  # the theta-function form converges fast for small x
        k = np.arange(1, 9)
        cdf = math.sqrt(2 * math.pi) / x * np.exp(-((2 * k - 1) * math.pi / x) ** 2 / 8).sum()
        return float(1.0 - cdf)
    k = np.arange(1, 13)
    return float(min(1.0, 2 * (np.where(k % 2, 1.0, -1.0) * np.exp(-2 * (k * x) ** 2)).sum()))


def kstwo_sf(d: float, n: int) -> float:
    """Return P(D_n ≥ d) for the KS statistic of n samples, as `scipy.stats.kstwo.sf`.

    The branches of scipy's `_kolmogn` (Simard & L'Ecuyer 2011) for n > 140; its Durbin-matrix
    branch (n ≤ 100,000 with n·d^1.5 ≤ 1.4), small n and the one-sided Smirnov tail call scipy.
    """
    t = n * d
    if d >= 1.0:
        return 0.0
    if t <= 0.5:
        return 1.0
    if n <= 140:
        return _scipy_kstwo_sf(d, n)
    if t <= 1.0:  # Ruben-Gambino: 1 − n!/n^n · (2t − 1)^n, and n!/n^n < 1e-59 here
        return 1.0
    if t >= n - 1:
        return float(np.clip(2 * (1.0 - d) ** n, 0.0, 1.0))
    nd2 = t * d
    if d < 0.5 and nd2 >= 370.0:
        return 0.0
    if d >= 0.5 or nd2 >= 2.2:
        from scipy import special

        return float(np.clip(2 * special.smirnov(n, d), 0.0, 1.0))
    if n <= 100_000 and n * d ** 1.5 <= 1.4:
        return _scipy_kstwo_sf(d, n)
    return float(np.clip(1.0 - _pelz_good_cdf(n, d), 0.0, 1.0))


def _scipy_kstwo_sf(d: float, n: int) -> float:
    from scipy import stats

    return float(np.clip(stats.kstwo.sf(d, n), 0.0, 1.0))


def _pelz_good_cdf(n: int, x: float) -> float:
    """Return the Pelz-Good approximation of P(D_n ≤ x), as scipy's `_kolmogn_PelzGood`."""
    z = math.sqrt(n) * x
    z2, z3, z4, z6 = z ** 2, z ** 3, z ** 4, z ** 6
    qlog = -math.pi ** 2 / 8 / z2
    if qlog < -708:
        return 0.0
    q = math.exp(qlog)
    pi2, pi4, pi6 = math.pi ** 2, math.pi ** 4, math.pi ** 6
    k1a, k1b = -z2, pi2 / 4
    k2a, k2b, k2c = 6 * z6 + 2 * z4, (2 * z4 - 5 * z2) * pi2 / 4, pi4 * (1 - 2 * z2) / 16
    k3d = pi6 * (5 - 30 * z2) / 64
    k3c = pi4 * (-60 * z2 + 212 * z4) / 16
    k3b = pi2 * (135 * z4 - 96 * z6) / 4
    k3a = -30 * z6 - 90 * z ** 8
    terms = np.zeros(4)
    maxk = int(np.ceil(16 * z / np.pi))
    for k in range(maxk, 0, -1):  # Horner over the odd integers 2k − 1
        m2 = (2 * k - 1) ** 2
        terms *= np.power(q, 8 * k)
        terms += np.array([1.0, k1a + k1b * m2, k2a + k2b * m2 + k2c * m2 ** 2,
                           k3a + k3b * m2 + k3c * m2 ** 2 + k3d * m2 ** 3])
    terms *= q * math.sqrt(2 * math.pi)
    terms /= np.array([z, 6 * z4, 72 * z ** 7, 6480 * z ** 10])
    q = math.exp(-pi2 / 2 / z2)
    ks = np.arange(maxk, 0, -1)
    q_powers = q ** (ks ** 2)
    terms[2] += np.sum(ks ** 2 * q_powers) * pi2 * math.sqrt(2 * math.pi) / (-36 * z3)
    terms[3] += (np.sum((math.sqrt(3) * z + np.pi * ks) * (math.sqrt(3) * z - np.pi * ks)
                        * ks ** 2 * q_powers) * pi2 * math.sqrt(2 * math.pi) / (216 * z6))
    terms /= np.power(n * 1.0, np.arange(4) / 2.0)
    return float(sum(terms))


def chi2_sf(statistic: float, dof: int) -> float:
    """Return P(χ² > statistic) for integer degrees of freedom (`scipy.stats.chi2.sf`).

    Q(dof/2, x/2) in closed form: a finite sum of Poisson-like terms (plus erfc for odd dof),
    each positive, summed from logarithms so that large dof and x neither overflow nor cancel.
    """
    if math.isnan(statistic):
        return math.nan
    if statistic <= 0:
        return 1.0
    y = statistic / 2
    if dof % 2 == 0:  # e^{-y} Σ_{j<dof/2} y^j / j!
        j = np.arange(dof // 2, dtype=np.float64)
        log_terms = j * math.log(y) - y - np.concatenate(([0.0], np.cumsum(np.log(j[1:]))))
        return float(min(1.0, np.exp(log_terms).sum()))
    # erfc(√y) + e^{-y} Σ_{1≤j≤(dof−1)/2} y^{j−1/2} / Γ(j + 1/2)
    j = np.arange(1, (dof - 1) // 2 + 1, dtype=np.float64)
    log_gamma = math.lgamma(1.5) + np.concatenate(([0.0], np.cumsum(np.log(j[1:] - 0.5))))
    log_terms = (j - 0.5) * math.log(y) - y - log_gamma
    return float(min(1.0, math.erfc(math.sqrt(y)) + np.exp(log_terms).sum()))


def chi2_test(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Return the chi-square statistic and p-value of the 2 × k table of category counts.

    As `scipy.stats.chi2_contingency([ref, cur])`, after dropping categories empty in both.
    """
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
    return statistic, chi2_sf(statistic, dof)


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
