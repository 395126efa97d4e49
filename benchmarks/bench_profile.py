"""Dataset fingerprint + profile speed: 1M rows x 25 columns (20 numeric, 5 categorical).

Baseline for comparison, on the same frame in the same process: what a user would write with
pandas alone (`describe()` with deciles, `value_counts()` per categorical column and
`np.histogram` per numeric column). Prints a markdown table; writes results/profile.json.

    python benchmarks/bench_profile.py [--rows 1000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from steadyml.tracking.datasets import fingerprint, to_table
from steadyml.tracking.profiles import profile_table

HERE = Path(__file__).resolve().parent


def make_frame(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f"x{i}": rng.normal(i, 1 + i / 10, rows) for i in range(20)})
    for i in range(5):
        frame[f"c{i}"] = rng.choice([f"v{j}" for j in range(10 + i)], rows)
    frame.loc[::13, "x3"] = np.nan
    return frame


def steadyml_profile(frame: pd.DataFrame) -> dict[str, float]:
    t0 = time.perf_counter()
    table, _ = to_table(frame)
    t1 = time.perf_counter()
    fingerprint(table)
    t2 = time.perf_counter()
    profile_table(table)
    t3 = time.perf_counter()
    return {"to_arrow_s": t1 - t0, "fingerprint_s": t2 - t1, "profile_s": t3 - t2,
            "total_s": t3 - t0}


def pandas_baseline(frame: pd.DataFrame) -> dict[str, float]:
    t0 = time.perf_counter()
    numeric = frame.select_dtypes("number")
    numeric.describe(percentiles=[i / 10 for i in range(1, 10)])
    for name in numeric.columns:
        values = numeric[name].dropna().to_numpy()
        np.histogram(values, bins=np.quantile(values, np.linspace(0, 1, 11)))
    for name in frame.select_dtypes(exclude="number").columns:
        frame[name].value_counts(dropna=False)
    return {"total_s": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    frame = make_frame(args.rows)
    ours = [steadyml_profile(frame) for _ in range(args.repeat)]
    base = [pandas_baseline(frame) for _ in range(args.repeat)]
    med = {k: statistics.median(r[k] for r in ours) for k in ours[0]}
    base_med = statistics.median(r["total_s"] for r in base)
    result = {"date": time.strftime("%Y-%m-%d"), "rows": args.rows, "columns": frame.shape[1],
              "python": platform.python_version(), "repeat": args.repeat,
              "steadyml_median_s": med, "pandas_baseline_median_s": base_med}
    out = HERE / "results" / "profile.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"| {args.rows:,} rows x {frame.shape[1]} columns | median of {args.repeat} |")
    print("|---|---|")
    print(f"| steadyml: to Arrow + fingerprint + profile | {med['total_s']:.2f} s "
          f"(Arrow {med['to_arrow_s']:.2f}, fingerprint {med['fingerprint_s']:.2f}, "
          f"profile {med['profile_s']:.2f}) |")
    print(f"| pandas describe + histograms + value_counts (no fingerprint) | {base_med:.2f} s |")


if __name__ == "__main__":
    main()
