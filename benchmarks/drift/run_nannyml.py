"""NannyML runner: `UnivariateDriftCalculator` (KS for numeric, chi2 for categorical columns).

NannyML has no single whole-set comparison: its alert thresholds are mean ± 3 std of the
metric over the reference chunks, so both sets are cut into `chunk_number=10` chunks.
`fit(reference)` + `calculate(current)` is `compute_s`. "flagged" = any current chunk alerts
(NannyML's own rule); `alt_flags.majority_of_chunks` = at least 5 of the 10 chunks alert.
"""

from __future__ import annotations

import time

import nannyml as nml
from common import load_pandas, meta, parse_args, write_result

CHUNKS = 10


def main() -> None:
    args = parse_args()
    m = meta(args.data_dir)
    ref, cur, load_s = load_pandas(args.data_dir)
    columns = m["numeric"] + m["categorical"]
    t0 = time.perf_counter()
    calc = nml.UnivariateDriftCalculator(
        column_names=columns,
        treat_as_categorical=m["categorical"],
        continuous_methods=["kolmogorov_smirnov"],
        categorical_methods=["chi2"],
        chunk_number=CHUNKS,
    )
    calc.fit(ref)
    result = calc.calculate(cur)
    compute_s = time.perf_counter() - t0
    df = result.filter(period="analysis").to_df()
    per_feature = {}
    for col in columns:
        method = "chi2" if col in m["categorical"] else "kolmogorov_smirnov"
        alerts = df[(col, method, "alert")].astype(bool)
        per_feature[col] = {
            "method": method,
            "chunks": len(alerts),
            "alerting_chunks": int(alerts.sum()),
            "values": [float(v) for v in df[(col, method, "value")]],
        }
    any_chunk = sorted(c for c, v in per_feature.items() if v["alerting_chunks"] > 0)
    majority = sorted(c for c, v in per_feature.items()
                      if v["alerting_chunks"] * 2 >= v["chunks"])
    write_result(args.out, "nannyml", nml.__version__, args.data_dir, load_s, compute_s,
                 any_chunk, alt_flags={"majority_of_chunks": majority},
                 per_feature=per_feature)


if __name__ == "__main__":
    main()
