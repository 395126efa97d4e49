"""The realistic pipeline's training set: 1M rows x 20 float features + a binary target.

Fixed seed, written once to benchmarks/.data/pipelines/train_<rows>.parquet (git-ignored):

    .venv/bin/python benchmarks/pipelines/training_set.py [ROWS]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BENCH_DIR / ".data" / "pipelines"
SEED = 20261122
FEATURES = 20
ROWS = 1_000_000


def path_of(rows: int = ROWS) -> Path:
    return DATA_DIR / f"train_{rows}.parquet"


def ensure(rows: int = ROWS, log=print) -> Path:
    """Write the training set unless it is there; return its path."""
    path = path_of(rows)
    if path.exists():
        return path
    import numpy as np
    import pandas as pd

    log(f"[data] writing {path} ({rows:,} rows x {FEATURES} features)")
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((rows, FEATURES)).astype(np.float64)
    weights = rng.normal(0.0, 1.0, FEATURES) * (rng.random(FEATURES) < 0.6)
    # A non-linear signal (interactions, a threshold) so boosting has something to learn.
    logit = x @ weights * 0.5 + 0.8 * x[:, 0] * x[:, 1] - 1.2 * (x[:, 2] > 0.5)
    target = (rng.random(rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int8)
    frame = pd.DataFrame(x, columns=[f"f{j:02d}" for j in range(FEATURES)])
    frame["target"] = target
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp, index=False)
    tmp.rename(path)
    path.with_suffix(".json").write_text(json.dumps(
        {"rows": rows, "features": FEATURES, "seed": SEED,
         "positive_rate": round(float(target.mean()), 4), "bytes": path.stat().st_size}))
    return path


if __name__ == "__main__":
    print(ensure(int(sys.argv[1]) if len(sys.argv) > 1 else ROWS))
