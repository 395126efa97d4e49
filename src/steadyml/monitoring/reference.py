"""Drift references: what a window of production data is compared against.

A reference is built from raw rows (`Reference.from_table`: a production window, or training
data at hand), which keeps each numeric column sorted so that KS and Wasserstein are exact, or
from a stored dataset profile (`Reference.from_profile`: the training data's, the default),
which keeps quantiles only. Either way each numeric column carries its PSI bins (reference
quantiles) and a fine quantile grid, and each categorical column its category counts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steadyml.core.errors import InvalidInputError
from steadyml.monitoring.columns import (
    Categories,
    Kind,
    arrow_kind,
    categories,
    numeric_values,
    sorted_finite,
    to_arrow,
)

PSI_BINS = 10
GRID_POINTS = 1000  # quantile grid of a raw reference, for windows streamed in counts


@dataclass(frozen=True, slots=True)
class NumericReference:
    """One numeric column of a reference. `sorted_values` only when built from raw rows."""

    name: str
    total: int  # rows, missing included
    missing: int  # null, NaN or infinite
    mean: float
    std: float
    bin_edges: np.ndarray  # inner PSI bin edges: bins (-inf, e1), [e1, e2), ..., [ek, inf)
    bin_counts: np.ndarray
    grid: np.ndarray  # increasing quantile values ...
    grid_cdf: np.ndarray  # ... and the share of the reference at or below each
    minimum: float
    maximum: float
    sorted_values: np.ndarray | None = None
    steps: bool = False  # few distinct values (counts, codes): the CDF is a staircase


    kind = Kind.NUMERIC

    @property
    def count(self) -> int:
        return self.total - self.missing


@dataclass(frozen=True, slots=True)
class CategoricalReference:
    """One categorical column: counts of its known categories, plus those summed as other."""

    name: str
    total: int
    missing: int
    categories: tuple[str, ...]
    counts: np.ndarray
    other: int = 0  # categories a profile did not list one by one
    index: dict[str, int] = field(default_factory=dict, compare=False)

    kind = Kind.CATEGORICAL

    @property
    def count(self) -> int:
        return self.total - self.missing


ColumnReference = NumericReference | CategoricalReference


@dataclass(frozen=True)
class Reference:
    """Per-column references, in column order, with a line saying where they came from."""

    columns: dict[str, ColumnReference]
    description: str = ""
    exact: bool = True  # built from raw rows (exact KS and Wasserstein)

    @property
    def rows(self) -> int:
        return max((c.total for c in self.columns.values()), default=0)

    @classmethod
    def from_table(cls, data: Any, *, columns: Sequence[str] | None = None,
                   description: str = "", bins: int = PSI_BINS,
                   grid_points: int = GRID_POINTS) -> Reference:
        """Build a reference from raw rows (pandas, Arrow); strings are categorical."""
        table = to_arrow(data)
        names = list(columns) if columns is not None else table.column_names
        missing = [n for n in names if n not in table.column_names]
        if missing:
            raise InvalidInputError(f"The reference data has no column(s) {missing}; it has "
                                    f"{table.column_names}.")
        kinds = {n: arrow_kind(table.schema.field(n).type) for n in names}

        def build(name: str) -> ColumnReference | None:
            if kinds[name] is Kind.NUMERIC:
                return _numeric(name, numeric_values(table.column(name)), bins, grid_points)
            if kinds[name] is Kind.CATEGORICAL:
                return _categorical(name, categories(table.column(name)))
            return None

        with ThreadPoolExecutor() as pool:  # numpy sorts release the GIL
            built = list(pool.map(build, names))
        return cls({n: c for n, c in zip(names, built, strict=True) if c is not None},
                   description=description or f"{table.num_rows} rows", exact=True)

    @classmethod
    def from_profile(cls, profile: Mapping[str, Any], *, description: str = "") -> Reference:
        """Build a reference from a stored dataset profile (quantiles, not raw rows)."""
        try:
            total = int(profile["num_rows"])
            entries = profile["columns"]
        except (KeyError, TypeError, ValueError):
            raise InvalidInputError("Not a dataset profile: it needs 'num_rows' and "
                                    "'columns'.") from None
        out: dict[str, ColumnReference] = {}
        for name, entry in entries.items():
            kind = entry.get("kind")
            missing = int(round(float(entry.get("null_rate", 0.0)) * total))
            if kind == Kind.NUMERIC.value and entry.get("edges"):
                out[name] = _numeric_from_profile(name, entry, total, missing)
            elif kind == Kind.CATEGORICAL.value:
                freqs = entry.get("frequencies", {})
                out[name] = _with_index(CategoricalReference(
                    name, total, missing, tuple(freqs), np.array(list(freqs.values()),
                                                                  dtype=np.int64),
                    int(entry.get("other", 0))))
        return cls(out, description=description or f"profile of {total} rows", exact=False)


def _numeric(name: str, values: np.ndarray, bins: int, grid_points: int) -> NumericReference:
    ordered = sorted_finite(values)
    n = len(ordered)
    if n == 0:
        empty = np.zeros(0)
        return NumericReference(name, len(values), len(values), np.nan, np.nan, empty,
                                np.zeros(1, dtype=np.int64), empty, empty, np.nan, np.nan,
                                ordered)
    inner = np.unique(quantiles(ordered, np.linspace(0, 1, bins + 1)[1:-1]))
    cuts = np.searchsorted(ordered, inner, side="left")
    counts = np.diff(np.concatenate(([0], cuts, [n])))
    grid = np.unique(quantiles(ordered, np.linspace(0, 1, grid_points + 1)))
    grid_cdf = np.searchsorted(ordered, grid, side="right") / n
    mean = float(ordered.mean())
    centered = ordered - mean
    std = math.sqrt(float(np.dot(centered, centered)) / (n - 1)) if n > 1 else 0.0
    return NumericReference(name, len(values), len(values) - n, mean, std, inner, counts, grid,
                            grid_cdf, float(ordered[0]), float(ordered[-1]), ordered,
                            steps=_is_staircase(grid, grid_points + 1))


def _is_staircase(grid: np.ndarray, points: int) -> bool:
    """Tell a discrete column (most quantiles repeat) from a continuous one."""
    return len(grid) < points / 2


def quantiles(ordered: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Return quantiles of a sorted sample, interpolated linearly (as numpy.quantile)."""
    positions = probabilities * (len(ordered) - 1)
    lo = np.floor(positions).astype(np.int64)
    hi = np.minimum(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (positions - lo)


def _numeric_from_profile(name: str, entry: Mapping[str, Any], total: int,
                          missing: int) -> NumericReference:
    edges = np.asarray(entry["edges"], dtype=np.float64)
    counts = np.asarray(entry["counts"], dtype=np.int64)
    n = int(counts.sum())
    if "quantiles" in entry and len(entry["quantiles"]) > 1:
        q = np.asarray(entry["quantiles"], dtype=np.float64)
        probabilities = np.linspace(0, 1, len(q))
        grid, first = np.unique(q, return_index=True)
        # At a repeated value the CDF is the share at or below it: the last repeat's level.
        last = np.r_[first[1:] - 1, len(q) - 1]
        grid_cdf = probabilities[last]
    else:  # an older profile: its bin edges are the only quantiles known
        grid = edges
        grid_cdf = np.r_[0.0, np.cumsum(counts) / max(n, 1)][: len(edges)]
        grid_cdf[-1] = 1.0
    std = entry.get("std")
    return NumericReference(
        name, total, missing, float(entry.get("mean") or 0.0),
        float(std) if std is not None else np.nan, edges[1:-1], counts, grid, grid_cdf,
        float(edges[0]), float(edges[-1]),
        steps=_is_staircase(grid, len(entry.get("quantiles") or edges)))


def _categorical(name: str, counted: Categories) -> CategoricalReference:
    return _with_index(CategoricalReference(name, counted.total, counted.nulls,
                                            tuple(counted.values), counted.counts))


def _with_index(ref: CategoricalReference) -> CategoricalReference:
    ref.index.update({value: i for i, value in enumerate(ref.categories)})
    return ref
