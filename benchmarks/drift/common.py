"""Shared by every drift runner (each runs in its own venv): arguments, loading, the result file.

Standard library + pandas only. A runner is called as

    <venv python> benchmarks/drift/run_<tool>.py DATA_DIR OUT_JSON [--variant V]

where DATA_DIR holds reference.parquet, current.parquet and meta.json (from gen_data.py). It
loads both tables with pandas (timed as `load_s`, not part of `compute_s`), does its tool's
drift computation (timed as `compute_s`) and writes one JSON object to OUT_JSON.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

ALPHA = 0.05


def parse_args(variants: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir", type=Path)
    ap.add_argument("out", type=Path)
    if variants:
        ap.add_argument("--variant", choices=variants, default=variants[0])
    return ap.parse_args()


def meta(data_dir: Path) -> dict[str, Any]:
    return json.loads((data_dir / "meta.json").read_text())


def load_pandas(data_dir: Path):
    """(reference, current, load seconds) as pandas DataFrames."""
    import pandas as pd

    t0 = time.perf_counter()
    ref = pd.read_parquet(data_dir / "reference.parquet")
    cur = pd.read_parquet(data_dir / "current.parquet")
    return ref, cur, time.perf_counter() - t0


def bonferroni(p_values: dict[str, float], alpha: float = ALPHA) -> list[str]:
    cut = alpha / max(len(p_values), 1)
    return sorted(c for c, p in p_values.items() if p < cut)


def write_result(out: Path, tool: str, version: str, data_dir: Path, load_s: float,
                 compute_s: float, flagged: list[str], **extra: Any) -> None:
    m = meta(data_dir)
    rec = {
        "tool": tool,
        "version": version,
        "rows_reference": m["rows_reference"],
        "rows_current": m["rows_current"],
        "load_s": round(load_s, 4),
        "compute_s": round(compute_s, 4),
        "flagged": sorted(flagged),
        **extra,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rec, indent=1, default=_jsonable) + "\n")


def _jsonable(x: Any) -> Any:
    for attr in ("item", "tolist"):
        if hasattr(x, attr):
            return getattr(x, attr)()
    return str(x)
