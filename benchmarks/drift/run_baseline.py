"""numpy/scipy drift baselines (project venv), as described in the drift anchors.

`--variant loop`: per numeric column `scipy.stats.ks_2samp` + PSI over 10 reference-quantile
bins; per categorical column `scipy.stats.chi2_contingency` on the 2×K counts + PSI.

`--variant vec`: one pass: `np.quantile(axis=0)` gives 99 percentile edges per numeric column,
`np.searchsorted` per column (20 calls) fills one int code matrix, one `np.bincount` counts all
numeric and categorical bins of both sets; from the counts: decile PSI, binned KS (largest CDF
gap at the 99 percentiles, asymptotic p-value), chi-square and PSI for the categoricals.

Categorical strings are encoded with `pd.factorize` inside `compute_s` in both variants.
Flag: p < 0.05 (also reported: Bonferroni p < 0.05/25, PSI > 0.1, PSI > 0.2).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import scipy
from common import ALPHA, bonferroni, load_pandas, meta, parse_args, write_result
from scipy import stats

PSI_EPS = 1e-4


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> np.ndarray:
    """PSI along the last axis (bins), each share plus PSI_EPS."""
    r = ref_counts / ref_counts.sum(axis=-1, keepdims=True) + PSI_EPS
    c = cur_counts / cur_counts.sum(axis=-1, keepdims=True) + PSI_EPS
    return ((c - r) * np.log(c / r)).sum(axis=-1)


def encode(ref: pd.Series, cur: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    codes, uniques = pd.factorize(pd.concat([ref, cur], ignore_index=True))
    return codes[: len(ref)], codes[len(ref):], len(uniques)


def loop(ref: pd.DataFrame, cur: pd.DataFrame, numeric: list[str], categorical: list[str]):
    out: dict[str, dict[str, float]] = {}
    deciles = np.linspace(0.1, 0.9, 9)
    for col in numeric:
        r, c = ref[col].to_numpy(), cur[col].to_numpy()
        res = stats.ks_2samp(r, c)
        edges = np.quantile(r, deciles)
        rc = np.bincount(np.searchsorted(edges, r, side="right"), minlength=10)
        cc = np.bincount(np.searchsorted(edges, c, side="right"), minlength=10)
        out[col] = {"test": "ks", "statistic": float(res.statistic), "p_value": float(res.pvalue),
                    "psi": float(psi(rc, cc))}
    for col in categorical:
        rcodes, ccodes, k = encode(ref[col], cur[col])
        rc = np.bincount(rcodes, minlength=k)
        cc = np.bincount(ccodes, minlength=k)
        table = np.vstack([rc, cc])
        table = table[:, table.sum(axis=0) > 0]
        chi2, p, _, _ = stats.chi2_contingency(table)
        out[col] = {"test": "chi2", "statistic": float(chi2), "p_value": float(p),
                    "psi": float(psi(rc, cc))}
    return out


def vec(ref: pd.DataFrame, cur: pd.DataFrame, numeric: list[str], categorical: list[str]):
    n, m = len(ref), len(cur)
    xr = ref[numeric].to_numpy(dtype=np.float64)
    xc = cur[numeric].to_numpy(dtype=np.float64)
    nb = 100
    edges = np.quantile(xr, np.arange(1, nb) / nb, axis=0)  # (99, n_numeric)
    cat_codes = [encode(ref[c], cur[c]) for c in categorical]
    widths = [nb] * len(numeric) + [k for _, _, k in cat_codes]
    offsets = np.concatenate([[0], np.cumsum(widths)])
    total = int(offsets[-1])
    ncols = len(widths)
    codes = np.empty((ncols, n + m), dtype=np.int64)
    for j in range(len(numeric)):
        codes[j, :n] = np.searchsorted(edges[:, j], xr[:, j], side="right")
        codes[j, n:] = np.searchsorted(edges[:, j], xc[:, j], side="right")
    for i, (rcodes, ccodes, _) in enumerate(cat_codes):
        codes[len(numeric) + i, :n] = rcodes
        codes[len(numeric) + i, n:] = ccodes
    codes += offsets[:-1, None]
    codes[:, n:] += total  # current-set counts after the reference ones
    counts = np.bincount(codes.ravel(), minlength=2 * total)
    rcounts, ccounts = counts[:total], counts[total:]

    out: dict[str, dict[str, float]] = {}
    nn = len(numeric)
    rnum = rcounts[: nn * nb].reshape(nn, nb).astype(np.float64)
    cnum = ccounts[: nn * nb].reshape(nn, nb).astype(np.float64)
    dec_psi = psi(rnum.reshape(nn, 10, 10).sum(axis=2), cnum.reshape(nn, 10, 10).sum(axis=2))
    gap = np.abs(np.cumsum(rnum, axis=1)[:, :-1] / n - np.cumsum(cnum, axis=1)[:, :-1] / m)
    d = gap.max(axis=1)
    p = stats.kstwobign.sf(d * np.sqrt(n * m / (n + m)))
    for j, col in enumerate(numeric):
        out[col] = {"test": "binned_ks", "statistic": float(d[j]), "p_value": float(p[j]),
                    "psi": float(dec_psi[j])}
    for i, col in enumerate(categorical):
        lo, hi = offsets[nn + i], offsets[nn + i + 1]
        table = np.vstack([rcounts[lo:hi], ccounts[lo:hi]]).astype(np.float64)
        table = table[:, table.sum(axis=0) > 0]
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
        chi2 = float(((table - expected) ** 2 / expected).sum())
        dof = table.shape[1] - 1
        out[col] = {"test": "chi2", "statistic": chi2, "p_value": float(stats.chi2.sf(chi2, dof)),
                    "psi": float(psi(table[0], table[1]))}
    return out


def main() -> None:
    args = parse_args(["loop", "vec"])
    m = meta(args.data_dir)
    ref, cur, load_s = load_pandas(args.data_dir)
    fn = loop if args.variant == "loop" else vec
    t0 = time.perf_counter()
    per_feature = fn(ref, cur, m["numeric"], m["categorical"])
    compute_s = time.perf_counter() - t0
    p_values = {c: v["p_value"] for c, v in per_feature.items()}
    flagged = sorted(c for c, p in p_values.items() if p < ALPHA)
    write_result(
        args.out, f"baseline_{args.variant}",
        f"numpy {np.__version__}, scipy {scipy.__version__}, pandas {pd.__version__}",
        args.data_dir, load_s, compute_s, flagged,
        alt_flags={
            "bonferroni": bonferroni(p_values),
            "psi_gt_0.1": sorted(c for c, v in per_feature.items() if v["psi"] > 0.1),
            "psi_gt_0.2": sorted(c for c, v in per_feature.items() if v["psi"] > 0.2),
        },
        per_feature=per_feature,
    )


if __name__ == "__main__":
    main()
