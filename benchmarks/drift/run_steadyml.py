"""steadyml runner (project venv): `Reference.from_table` + `compute_drift`.

`--variant pandas` (the default) passes the same pandas DataFrames the peers get; `--variant
arrow` reads the Parquet files with pyarrow and passes Arrow tables. Both loads are outside
`compute_s`. `reference_s` (building the Reference) and `compare_s` (compute_drift) are timed
separately; `compute_s` is their sum. It is the first call in the process, as for every peer,
so it includes whatever steadyml imports lazily on first use (`lazy_imports` lists the top-level
packages first imported during it). `--variant warm` (a diagnostic): pandas in, one untimed
call first (`first_*`), then `compute_s` etc. are those of a second, identical call.
"flagged" = `report.flagged`; the per-feature statistics are `report.to_dict()`.
"""

from __future__ import annotations

import sys
import time

from common import load_pandas, parse_args, write_result

import steadyml
from steadyml.monitoring import Reference, compute_drift


def load_arrow(data_dir):
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    ref = pq.read_table(data_dir / "reference.parquet")
    cur = pq.read_table(data_dir / "current.parquet")
    return ref, cur, time.perf_counter() - t0


def timed_drift(ref_table, cur_table):
    """(report, reference seconds, compare seconds, packages first imported meanwhile)."""
    before = {m.split(".")[0] for m in sys.modules}
    t0 = time.perf_counter()
    ref = Reference.from_table(ref_table)
    t1 = time.perf_counter()
    report = compute_drift(ref, cur_table)
    t2 = time.perf_counter()
    lazy = sorted({m.split(".")[0] for m in sys.modules} - before)
    return report, t1 - t0, t2 - t1, [m for m in lazy if m and not m.startswith("_")]


def main() -> None:
    args = parse_args(["pandas", "arrow", "warm"])
    loader = load_arrow if args.variant == "arrow" else load_pandas
    ref_table, cur_table, load_s = loader(args.data_dir)
    extra = {}
    if args.variant == "warm":
        first, ref_s, cmp_s, lazy = timed_drift(ref_table, cur_table)
        extra = {"first_compute_s": round(ref_s + cmp_s, 4), "first_reference_s": round(ref_s, 4),
                 "first_compare_s": round(cmp_s, 4), "first_lazy_imports": lazy,
                 "first_flagged": list(first.flagged)}
        del first
    report, ref_s, cmp_s, lazy = timed_drift(ref_table, cur_table)
    tool = "steadyml" if args.variant == "pandas" else f"steadyml_{args.variant}"
    write_result(args.out, tool, steadyml.__version__, args.data_dir, load_s, ref_s + cmp_s,
                 list(report.flagged), reference_s=round(ref_s, 4), compare_s=round(cmp_s, 4),
                 lazy_imports=lazy, input="arrow" if args.variant == "arrow" else "pandas",
                 **extra, report=report.to_dict())


if __name__ == "__main__":
    main()
