"""What storing one 1M-row DataFrame output costs, and what other Parquet settings would cost.

Run by bench_pipelines.py (part `encode`) in the project venv:

    .venv/bin/python benchmarks/pipelines/run_encode.py PARQUET OUT.json [REPEAT]

Times, on the training set read with pandas (median of REPEAT): each stage of
`steadyml.pipelines.values.encode` as the runner calls it (DataFrame -> Arrow, normalise,
content fingerprint, Parquet zstd), the artifact write (sha256 + file + fsync), and the
same table written with other Parquet options (size and time), to say what a change buys.
"""

from __future__ import annotations

import hashlib
import io
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    path, out_path = sys.argv[1], sys.argv[2]
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from steadyml.pipelines import values
    from steadyml.store.artifacts import ArtifactStore
    from steadyml.tracking import datasets as ds

    frame = pd.read_parquet(path)
    stages: dict[str, float] = {}
    stages["to_arrow_s"], table = timed(lambda: pa.Table.from_pandas(frame), repeat)
    stages["normalise_s"], normal = timed(lambda: ds.normalise(table), repeat)
    stages["fingerprint_s"], _ = timed(lambda: ds.fingerprint(normal), repeat)
    stages["parquet_zstd_s"], data = timed(lambda: values._parquet(table), repeat)
    stages["sha256_s"], _ = timed(lambda: hashlib.sha256(data).hexdigest(), repeat)
    stages["encode_total_s"], _ = timed(lambda: values.encode(frame), 1)
    with tempfile.TemporaryDirectory(prefix="bench-pl-enc-") as home:
        store = ArtifactStore(home)
        t0 = time.perf_counter()
        store.put_bytes(data)
        stages["put_bytes_s"] = time.perf_counter() - t0

    def parquet(**options: Any) -> bytes:
        sink = io.BytesIO()
        pq.write_table(table, sink, store_schema=True, **options)
        return sink.getvalue()

    variants = {
        "zstd (current)": {"compression": "zstd"},
        "zstd, no dictionary": {"compression": "zstd", "use_dictionary": False},
        "zstd level 1, no dictionary": {"compression": "zstd", "compression_level": 1,
                                        "use_dictionary": False},
        "lz4, no dictionary": {"compression": "lz4", "use_dictionary": False},
        "none, no dictionary": {"compression": "none", "use_dictionary": False},
    }
    rows = []
    for name, options in variants.items():
        secs, blob = timed(lambda options=options: parquet(**options), repeat)
        rows.append({"variant": name, "options": options, "encode_s": round(secs, 3),
                     "mib": round(len(blob) / 2**20, 1)})
    result = {"rows": len(frame), "columns": len(frame.columns),
              "in_memory_mib": round(frame.memory_usage(deep=True).sum() / 2**20, 1),
              "stages": {k: round(v, 3) for k, v in stages.items()},
              "parquet_mib": round(len(data) / 2**20, 1), "variants": rows,
              "repeat": repeat}
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
