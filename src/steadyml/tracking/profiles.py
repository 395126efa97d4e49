"""Dataset profiles: the per-column summary that later drift checks compare against.

Numeric columns: quantile bin edges (`bins` + 1, de-duplicated) and the count in each bin,
a sketch of `QUANTILE_POINTS` quantiles (the drift reference for KS and Wasserstein),
mean, std, min, max, null rate. Categorical columns: category frequencies (the most frequent
`max_categories`, the rest summed as `other`) and null rate. All numeric columns are summarised
together in one (rows x columns) matrix: one sort per column, no per-row Python.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

DEFAULT_BINS = 10
QUANTILE_POINTS = 201  # the quantile sketch drift checks use for KS and Wasserstein (0.5 % steps)
MAX_CATEGORIES = 200


class ColumnKind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    TEMPORAL = "temporal"


def kind_of(dtype: pa.DataType) -> ColumnKind:
    """Return how a column of this Arrow type is profiled."""
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return ColumnKind.NUMERIC
    if pa.types.is_temporal(dtype):
        return ColumnKind.TEMPORAL
    return ColumnKind.CATEGORICAL


def profile_table(table: pa.Table, *, bins: int = DEFAULT_BINS,
                  max_categories: int = MAX_CATEGORIES) -> dict[str, Any]:
    """Return the profile of every column of `table`."""
    columns: dict[str, Any] = {}
    numeric = [n for n in table.column_names if kind_of(table.schema.field(n).type)
               is ColumnKind.NUMERIC]
    columns.update(_numeric_profiles(table, numeric, bins))
    for name in table.column_names:
        kind = kind_of(table.schema.field(name).type)
        if kind is ColumnKind.CATEGORICAL:
            columns[name] = _categorical_profile(table.column(name), max_categories)
        elif kind is ColumnKind.TEMPORAL:
            columns[name] = _temporal_profile(table.column(name))
    ordered = {name: columns[name] for name in table.column_names}
    return {"version": 1, "num_rows": table.num_rows, "columns": ordered}


def _numeric_profiles(table: pa.Table, names: list[str], bins: int) -> dict[str, Any]:
    if not names:
        return {}
    n = table.num_rows
    matrix = np.empty((n, len(names)), dtype=np.float64, order="F")  # columns contiguous
    for j, name in enumerate(names):
        column = table.column(name)
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        matrix[:, j] = column.to_numpy(zero_copy_only=False)  # nulls arrive as NaN
    finite = np.isfinite(matrix)
    nulls = np.isnan(matrix).sum(axis=0)
    valid = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        clean = np.where(finite, matrix, 0.0)
        mean = clean.sum(axis=0) / np.maximum(valid, 1)
        var = (np.where(finite, matrix - mean, 0.0) ** 2).sum(axis=0) / np.maximum(valid - 1, 1)
    # Sort once: NaN and +inf go last, so the first `valid` values of each column are finite.
    ordered = np.sort(np.where(finite, matrix, np.inf), axis=0)
    qs = np.linspace(0.0, 1.0, bins + 1)
    out: dict[str, Any] = {}
    for j, name in enumerate(names):
        k = int(valid[j])
        entry: dict[str, Any] = {"kind": ColumnKind.NUMERIC.value, "count": k,
                                 "null_rate": float(nulls[j]) / n if n else 0.0}
        if k == 0:
            entry.update(edges=[], counts=[], mean=None, std=None, min=None, max=None)
            out[name] = entry
            continue
        col = ordered[:k, j]
        edges = np.unique(_quantiles(col, qs))
        if len(edges) == 1:
            counts = np.array([k])
        else:
            # Bins are [e0, e1), [e1, e2), ..., [e_{m-1}, e_m]: the last one is closed.
            cuts = np.searchsorted(col, edges[1:-1], side="left")
            counts = np.diff(np.concatenate(([0], cuts, [k])))
        sketch = _quantiles(col, np.linspace(0.0, 1.0, QUANTILE_POINTS if k > 1 else 1))
        entry.update(edges=edges.tolist(), counts=counts.tolist(), mean=float(mean[j]),
                     quantiles=sketch.tolist(),
                     std=float(np.sqrt(var[j])) if k > 1 else 0.0,
                     min=float(col[0]), max=float(col[k - 1]),
                     infinite=int((~finite[:, j]).sum() - nulls[j]))
        out[name] = entry
    return out


def _quantiles(ordered: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Return quantiles of a sorted column, interpolated linearly (as numpy.quantile)."""
    positions = probabilities * (len(ordered) - 1)
    lo = np.floor(positions).astype(np.int64)
    hi = np.minimum(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (positions - lo)


def _categorical_profile(column: pa.ChunkedArray, max_categories: int) -> dict[str, Any]:
    n = len(column)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string()) if pa.types.is_boolean(column.type) else column
    nulls = column.null_count
    counts = pc.value_counts(column.drop_null()) if n - nulls else pa.array([], pa.struct([]))
    values = counts.field("values").to_pylist() if len(counts) else []
    freqs = counts.field("counts").to_numpy() if len(counts) else np.array([], dtype=np.int64)
    order = np.argsort(-freqs, kind="stable")
    top = order[:max_categories]
    frequencies = {str(values[i]): int(freqs[i]) for i in top}
    other = int(freqs[order[max_categories:]].sum()) if len(order) > max_categories else 0
    return {"kind": ColumnKind.CATEGORICAL.value, "count": n - nulls,
            "null_rate": nulls / n if n else 0.0, "unique": len(values),
            "frequencies": frequencies, "other": other}


def _temporal_profile(column: pa.ChunkedArray) -> dict[str, Any]:
    n = len(column)
    nulls = column.null_count
    bounds = pc.min_max(column)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return {"kind": ColumnKind.TEMPORAL.value, "count": n - nulls,
            "null_rate": nulls / n if n else 0.0,
            "min": None if low is None else str(low), "max": None if high is None else str(high)}
