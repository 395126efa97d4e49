"""Evidently runner: `Report([DataDriftPreset()]).run(current, reference)` (Evidently 0.7 API).

A `DataDefinition` names the 20 numeric and 5 categorical columns. Default per-column tests
(more than 1000 rows): Wasserstein distance normed by the reference std for numeric columns,
Jensen-Shannon distance for categorical ones, threshold 0.1 each; flagged = score >= threshold.
`compute_s` = `Dataset.from_pandas` of both sets + `report.run()` (`run_s` alone).
"""

from __future__ import annotations

import time

import evidently
from common import load_pandas, meta, parse_args, write_result
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def main() -> None:
    args = parse_args()
    m = meta(args.data_dir)
    ref, cur, load_s = load_pandas(args.data_dir)
    t0 = time.perf_counter()
    definition = DataDefinition(numerical_columns=m["numeric"],
                                categorical_columns=m["categorical"])
    ref_ds = Dataset.from_pandas(ref, data_definition=definition)
    cur_ds = Dataset.from_pandas(cur, data_definition=definition)
    t1 = time.perf_counter()
    snapshot = Report([DataDriftPreset()]).run(cur_ds, ref_ds)
    t2 = time.perf_counter()
    per_feature = {}
    drifted_count = None
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            score, threshold = float(metric["value"]), float(config["threshold"])
            per_feature[config["column"]] = {"method": config["method"], "score": score,
                                             "threshold": threshold,
                                             "drift": score >= threshold}
        elif config["type"].endswith(":DriftedColumnsCount"):
            drifted_count = metric["value"]
    flagged = sorted(c for c, v in per_feature.items() if v["drift"])
    write_result(args.out, "evidently", evidently.__version__, args.data_dir, load_s, t2 - t0,
                 flagged, run_s=round(t2 - t1, 4), drifted_columns_count=drifted_count,
                 per_feature=per_feature)


if __name__ == "__main__":
    main()
