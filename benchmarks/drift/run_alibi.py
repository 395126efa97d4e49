"""alibi-detect runner: `TabularDrift` (KS per numeric, chi2 per categorical feature).

Categoricals are label-encoded first (`encode_s`, not part of `compute_s`; the codes follow the
sorted labels of both sets). `compute_s` = `TabularDrift(x_ref, p_val=0.05,
categories_per_feature=...)` + `predict(x_cur, drift_type='feature')` (p < 0.05 uncorrected per
feature). Outside `compute_s`, a second `predict(drift_type='batch')` gives the batch-level
`is_drift` (Bonferroni); `alt_flags.bonferroni` = features with p < 0.05 / 25.
"""

from __future__ import annotations

import time

import alibi_detect
import numpy as np
import pandas as pd
from alibi_detect.cd import TabularDrift
from common import ALPHA, bonferroni, load_pandas, meta, parse_args, write_result


def encode(ref: pd.DataFrame, cur: pd.DataFrame, numeric: list[str], categorical: list[str]):
    xr = np.empty((len(ref), len(numeric) + len(categorical)), dtype=np.float64)
    xc = np.empty((len(cur), xr.shape[1]), dtype=np.float64)
    xr[:, : len(numeric)] = ref[numeric].to_numpy(dtype=np.float64)
    xc[:, : len(numeric)] = cur[numeric].to_numpy(dtype=np.float64)
    for i, col in enumerate(categorical):
        labels = sorted(set(ref[col].unique()) | set(cur[col].unique()))
        dtype = pd.CategoricalDtype(labels)
        xr[:, len(numeric) + i] = ref[col].astype(dtype).cat.codes.to_numpy()
        xc[:, len(numeric) + i] = cur[col].astype(dtype).cat.codes.to_numpy()
    return xr, xc


def main() -> None:
    args = parse_args()
    m = meta(args.data_dir)
    numeric, categorical = m["numeric"], m["categorical"]
    names = numeric + categorical
    ref, cur, load_s = load_pandas(args.data_dir)
    t0 = time.perf_counter()
    xr, xc = encode(ref, cur, numeric, categorical)
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    cd = TabularDrift(xr, p_val=ALPHA,
                      categories_per_feature={len(numeric) + i: None
                                              for i in range(len(categorical))})
    pred = cd.predict(xc, drift_type="feature", return_p_val=True, return_distance=True)
    compute_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    batch = cd.predict(xc, drift_type="batch")
    batch_s = time.perf_counter() - t0
    data = pred["data"]
    p_values = {c: float(p) for c, p in zip(names, data["p_val"], strict=True)}
    flagged = sorted(c for c, d in zip(names, data["is_drift"], strict=True) if d)
    per_feature = {c: {"test": "chi2" if c in categorical else "ks", "p_value": p_values[c],
                       "distance": float(dist)}
                   for c, dist in zip(names, data["distance"], strict=True)}
    write_result(args.out, "alibi", alibi_detect.__version__, args.data_dir, load_s, compute_s,
                 flagged, encode_s=round(encode_s, 4), batch_predict_s=round(batch_s, 4),
                 batch_is_drift=int(batch["data"]["is_drift"]),
                 alt_flags={"bonferroni": bonferroni(p_values)}, per_feature=per_feature)


if __name__ == "__main__":
    main()
