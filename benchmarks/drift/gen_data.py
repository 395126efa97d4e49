"""Synthetic reference/current tables for the drift benchmark (Part 1 of the drift anchors).

20 numeric columns num_00..num_19 cycle through four kinds (normal, lognormal, uniform, bimodal
normal mixture), each with its own parameters; 5 categorical columns cat_0..cat_4 have 10, 20,
30, 40, 50 string labels with Zipf-like frequencies. The current set is drawn from the same
distributions (another seed) and then changed:

- num_00, num_04, num_08, num_12, num_16: mean shift of 0.15, 0.25, 0.5, 0.75, 1.0 times the
  reference column's standard deviation;
- cat_1: frequency order reversed (the most frequent label becomes the rarest);
- cat_3: half the top label's probability mass moves to the 10 rarest labels.

Everything else is unchanged, so the ground truth is exactly those 7 columns. numpy
`default_rng` with fixed seeds, so the files are the same on every run. Written as Parquet
(categoricals as plain strings) under `benchmarks/.data/` (git-ignored):

    python benchmarks/drift/gen_data.py 100000 1000000        # both sizes
    python benchmarks/drift/gen_data.py 100000 --force         # rewrite
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

BENCH_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BENCH_DIR / ".data"

SEED_REFERENCE = 20261122
SEED_CURRENT = 20261123
GEN_VERSION = 1  # bump when the generator changes, so cached files are regenerated

NUMERIC = [f"num_{i:02d}" for i in range(20)]
CATEGORICAL = [f"cat_{k}" for k in range(5)]
N_LABELS = {f"cat_{k}": 10 * (k + 1) for k in range(5)}
ZIPF_S = 1.1
SHIFTS = {"num_00": 0.15, "num_04": 0.25, "num_08": 0.5, "num_12": 0.75, "num_16": 1.0}
CHANGED_CATEGORICAL = ["cat_1", "cat_3"]
GROUND_TRUTH = sorted([*SHIFTS, *CHANGED_CATEGORICAL])


def _numeric(rng: np.random.Generator, i: int, n: int) -> np.ndarray:
    """Column num_i: kind = i % 4, its parameters vary with j = i // 4."""
    kind, j = i % 4, i // 4
    if kind == 0:  # normal
        return rng.normal(loc=3.0 * j - 2.0, scale=1.0 + 0.5 * j, size=n)
    if kind == 1:  # lognormal
        return rng.lognormal(mean=0.2 * j, sigma=0.5 + 0.1 * j, size=n)
    if kind == 2:  # uniform
        return rng.uniform(low=-1.0 * j, high=2.0 + 3.0 * j, size=n)
    # bimodal normal mixture
    weight = 0.3 + 0.1 * j
    first = rng.random(n) < weight
    a = rng.normal(loc=-2.0 - j, scale=1.0, size=n)
    b = rng.normal(loc=2.0 + j, scale=0.5 + 0.25 * j, size=n)
    return np.where(first, a, b)


def zipf_probs(k: int, s: float = ZIPF_S) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1, dtype=np.float64) ** s
    return p / p.sum()


def label_names(col: str) -> list[str]:
    return [f"{col}_v{v:02d}" for v in range(N_LABELS[col])]


def category_probs(col: str, current: bool) -> np.ndarray:
    p = zipf_probs(N_LABELS[col])
    if current and col == "cat_1":
        p = p[::-1].copy()
    elif current and col == "cat_3":
        p = p.copy()
        moved = p[0] / 2.0
        p[0] -= moved
        p[-10:] += moved / 10.0
    return p


def _categorical(rng: np.random.Generator, col: str, n: int, current: bool) -> pa.Array:
    codes = rng.choice(N_LABELS[col], size=n, p=category_probs(col, current)).astype(np.int32)
    dictionary = pa.array(label_names(col), type=pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(codes), dictionary).cast(pa.string())


def make_tables(n: int) -> tuple[pa.Table, pa.Table, dict[str, float]]:
    """(reference, current, {shifted column: shift in reference-std units and absolute})."""
    ref_rng = np.random.default_rng(SEED_REFERENCE)
    cur_rng = np.random.default_rng(SEED_CURRENT)
    ref_cols: dict[str, pa.Array | np.ndarray] = {}
    cur_cols: dict[str, pa.Array | np.ndarray] = {}
    shifts: dict[str, float] = {}
    for i, col in enumerate(NUMERIC):
        ref = _numeric(ref_rng, i, n)
        cur = _numeric(cur_rng, i, n)
        if col in SHIFTS:
            delta = SHIFTS[col] * float(ref.std())
            cur = cur + delta
            shifts[col] = delta
        ref_cols[col] = ref
        cur_cols[col] = cur
    for col in CATEGORICAL:
        ref_cols[col] = _categorical(ref_rng, col, n, current=False)
        cur_cols[col] = _categorical(cur_rng, col, n, current=True)
    return pa.table(ref_cols), pa.table(cur_cols), shifts


def paths(n: int, data_dir: Path = DATA_DIR) -> tuple[Path, Path, Path]:
    base = data_dir / f"drift_{n}"
    return base / "reference.parquet", base / "current.parquet", base / "meta.json"


def ensure(n: int, data_dir: Path = DATA_DIR, force: bool = False, log=print) -> dict:
    """Write the two Parquet files of size `n` unless they are already there; return the meta."""
    ref_path, cur_path, meta_path = paths(n, data_dir)
    if not force and ref_path.exists() and cur_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("gen_version") == GEN_VERSION:
            return meta
    t0 = time.perf_counter()
    ref_path.parent.mkdir(parents=True, exist_ok=True)
    ref, cur, shifts = make_tables(n)
    pq.write_table(ref, ref_path)
    pq.write_table(cur, cur_path)
    meta = {
        "gen_version": GEN_VERSION,
        "rows_reference": n,
        "rows_current": n,
        "seeds": {"reference": SEED_REFERENCE, "current": SEED_CURRENT},
        "numeric": NUMERIC,
        "categorical": CATEGORICAL,
        "ground_truth": GROUND_TRUTH,
        "shift_in_reference_std": SHIFTS,
        "shift_absolute": shifts,
        "changed_categorical": {
            "cat_1": "frequency order reversed",
            "cat_3": "half the top label's mass moved to the 10 rarest labels",
        },
        "zipf_s": ZIPF_S,
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    log(f"[data] wrote {ref_path.parent} ({n:,}+{n:,} rows) in {time.perf_counter() - t0:.1f} s")
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    ap.add_argument("--data-dir", type=Path, default=DATA_DIR)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    for n in args.sizes:
        ensure(n, args.data_dir, force=args.force)


if __name__ == "__main__":
    main()
