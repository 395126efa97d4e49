"""Drift: compare a window of production data with a reference, every column in one pass.

The window streams in Arrow batches (a DuckDB query over the prediction log, a Parquet file,
a DataFrame). Up to `exact_rows` rows the numeric columns are kept and sorted, which makes KS
and Wasserstein exact; a larger window is reduced batch by batch to counts on the reference's
quantile grid, so memory stays bounded whatever the window's size.

The decision rule does not cry wolf on large windows, where every p-value is tiny: a feature
drifts when its test is significant after Holm's correction over all features (family-wise
error `alpha`) AND the effect is large enough to matter: Wasserstein distance over the
reference's standard deviation at least `numeric_effect` for numeric columns, Jensen–Shannon
distance at least `categorical_effect` for categorical ones (or PSI at least `psi`, when set).
A column whose type changed, that disappeared, or whose share of missing values moved by
`null_rate_change` or more is flagged whatever the tests say.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from steadyml.core.errors import InvalidInputError
from steadyml.monitoring import statistics as st
from steadyml.monitoring.columns import (
    Kind,
    arrow_kind,
    batches,
    categories,
    numeric_values,
    sorted_finite,
)
from steadyml.monitoring.reference import (
    CategoricalReference,
    ColumnReference,
    NumericReference,
    Reference,
)

EXACT_ROWS = 5_000_000
HISTOGRAM_CATEGORIES = 30


@dataclass(frozen=True)
class FeatureRule:
    """Per-feature overrides of the drift rule."""

    numeric_effect: float | None = None
    categorical_effect: float | None = None
    psi: float | None = None
    ignore: bool = False


@dataclass(frozen=True)
class DriftRule:
    """When a feature counts as drifted (see the module docstring)."""

    alpha: float = 0.05
    numeric_effect: float = 0.1
    categorical_effect: float = 0.1
    psi: float | None = None
    null_rate_change: float = 0.1
    min_samples: int = 100
    features: Mapping[str, FeatureRule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise InvalidInputError(f"alpha must be between 0 and 1, got {self.alpha}.")
        if self.numeric_effect <= 0 or self.categorical_effect <= 0 or self.min_samples < 1:
            raise InvalidInputError("Drift effect thresholds and min_samples must be positive.")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["correction"] = "holm"
        return out


@dataclass
class FeatureDrift:
    """One column's comparison: statistics, the decision and why."""

    name: str
    kind: str  # numeric | categorical | type_changed | missing
    n_ref: int
    n_cur: int
    method: str = ""  # exact | sketch | binned
    psi: float | None = None
    ks: float | None = None
    ks_pvalue: float | None = None
    wasserstein: float | None = None
    wasserstein_norm: float | None = None
    js: float | None = None
    chi2: float | None = None
    chi2_pvalue: float | None = None
    unseen_share: float | None = None
    null_rate_ref: float | None = None
    null_rate_cur: float | None = None
    null_rate_change: float | None = None
    p_adjusted: float | None = None
    drifted: bool = False
    judged: bool = True
    reason: str = ""
    histogram: dict[str, Any] | None = None

    @property
    def pvalue(self) -> float | None:
        return self.ks_pvalue if self.kind == Kind.NUMERIC.value else self.chi2_pvalue

    def to_dict(self, *, histogram: bool = True) -> dict[str, Any]:
        out = {k: _plain(v) for k, v in asdict(self).items()}
        if not histogram:
            out.pop("histogram")
        return out


@dataclass
class DriftReport:
    """Every column's comparison of one window with one reference."""

    features: list[FeatureDrift]
    rows: int
    reference: str
    rule: DriftRule

    @property
    def flagged(self) -> list[str]:
        return sorted(f.name for f in self.features if f.drifted)

    @property
    def enough_samples(self) -> bool:
        return any(f.judged for f in self.features)

    def feature(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def to_dict(self, *, histograms: bool = True) -> dict[str, Any]:
        return {"rows": self.rows, "reference": self.reference, "rule": self.rule.to_dict(),
                "enough_samples": self.enough_samples, "flagged": self.flagged,
                "features": [f.to_dict(histogram=histograms) for f in self.features]}


def compute_drift(reference: Reference, current: Any, *, rule: DriftRule | None = None,
                  exact_rows: int = EXACT_ROWS) -> DriftReport:
    """Compare `current` (pandas, Arrow, a DuckDB relation, or an iterable) with `reference`."""
    rule = rule or DriftRule()
    columns = {n: c for n, c in reference.columns.items()
               if not rule.features.get(n, FeatureRule()).ignore}
    accs = {n: _NumericWindow(c, exact_rows) if isinstance(c, NumericReference)
            else _CategoricalWindow(c) for n, c in columns.items()}
    rows = 0
    changed: dict[str, str] = {}
    seen: set[str] = set()
    with ThreadPoolExecutor() as pool:
        for table in batches(current):
            rows += table.num_rows
            work = []
            for name, acc in accs.items():
                if name not in table.column_names or name in changed:
                    continue
                seen.add(name)
                kind = arrow_kind(table.schema.field(name).type)
                if kind is not columns[name].kind:
                    changed[name] = (f"type changed: the reference is {columns[name].kind}, "
                                     f"the window has {table.schema.field(name).type}")
                    continue
                work.append((acc, table.column(name)))
            list(pool.map(lambda job: job[0].add(job[1]), work))
        features = list(pool.map(
            lambda name: _compare(name, columns[name], accs[name], changed, seen, rule, rows),
            list(columns)))
    _decide(features, rule)
    return DriftReport(features, rows, reference.description, rule)


class _NumericWindow:
    """A numeric column of the window: raw values while small, grid counts once large."""

    def __init__(self, ref: NumericReference, exact_rows: int) -> None:
        self.ref, self.exact_rows = ref, exact_rows
        self.parts: list[np.ndarray] | None = []
        self.rows = 0
        self.missing = 0
        self.grid_le = np.zeros(len(ref.grid), dtype=np.int64)  # count at or below each point
        self.bin_lt = np.zeros(len(ref.bin_edges), dtype=np.int64)  # count below each edge
        self.minimum, self.maximum = math.inf, -math.inf

    def add(self, column: pa.ChunkedArray) -> None:
        values = numeric_values(column)
        self.rows += len(values)
        if self.parts is not None:
            self.parts.append(values)
            if self.rows > self.exact_rows:  # too large to keep: reduce to counts from now on
                parts, self.parts = self.parts, None
                for part in parts:
                    self._count(part)
            return
        self._count(values)

    def _count(self, values: np.ndarray) -> None:
        finite = sorted_finite(values)
        self.missing += len(values) - len(finite)
        if len(finite):
            self.minimum = min(self.minimum, float(finite[0]))
            self.maximum = max(self.maximum, float(finite[-1]))
            self.grid_le += np.searchsorted(finite, self.ref.grid, side="right")
            self.bin_lt += np.searchsorted(finite, self.ref.bin_edges, side="left")


class _CategoricalWindow:
    def __init__(self, ref: CategoricalReference) -> None:
        self.ref = ref
        self.counts: dict[str, int] = {}
        self.missing = 0
        self.rows = 0

    def add(self, column: pa.ChunkedArray) -> None:
        counted = categories(column)
        self.rows += counted.total
        self.missing += counted.nulls
        for value, count in zip(counted.values, counted.counts.tolist(), strict=True):
            self.counts[value] = self.counts.get(value, 0) + count


def _compare(name: str, ref: ColumnReference, acc: _NumericWindow | _CategoricalWindow,
             changed: Mapping[str, str], seen: set[str], rule: DriftRule,
             rows: int) -> FeatureDrift:
    null_ref = ref.missing / ref.total if ref.total else 0.0
    if name in changed or name not in seen:
        kind = "type_changed" if name in changed else "missing"
        if rows < rule.min_samples:  # an idle window is not evidence of a schema change
            return FeatureDrift(name, kind, ref.count, 0, null_rate_ref=null_ref,
                                judged=False, reason=f"not enough samples: {rows} rows in the "
                                f"window, {rule.min_samples} needed")
        return FeatureDrift(
            name, kind, ref.count, 0, null_rate_ref=null_ref, drifted=True, judged=True,
            reason=changed.get(name, "the column is missing from the window"))
    if isinstance(acc, _NumericWindow):
        assert isinstance(ref, NumericReference)
        out = _compare_numeric(ref, acc)
    else:
        assert isinstance(ref, CategoricalReference)
        out = _compare_categorical(ref, acc)
    out.null_rate_ref = null_ref
    out.null_rate_cur = (acc.missing / acc.rows) if acc.rows else None
    if out.null_rate_cur is not None:
        out.null_rate_change = out.null_rate_cur - null_ref
    if out.n_cur < rule.min_samples or out.n_ref < rule.min_samples:
        out.judged = False
        out.reason = (f"not enough samples: {out.n_cur} in the window, {out.n_ref} in the "
                      f"reference, {rule.min_samples} needed")
    return out


def _compare_numeric(ref: NumericReference, acc: _NumericWindow) -> FeatureDrift:
    if acc.parts is not None:
        values = acc.parts[0] if len(acc.parts) == 1 else np.concatenate(acc.parts)
        cur = sorted_finite(values)
        acc.missing = len(values) - len(cur)
        m = len(cur)
        lt = np.searchsorted(cur, ref.bin_edges, side="left")
        if ref.sorted_values is not None:
            ks, w = st.ks_wasserstein(ref.sorted_values, cur)
            method = "exact"
        else:
            ks, w = st.interpolated_ks_wasserstein(ref.grid, ref.grid_cdf, cur,
                                                    steps=ref.steps)
            method = "sketch"
        pvalue = st.ks_pvalue(ks, ref.count, m, ref.sorted_values, cur)
        lo, hi = (float(cur[0]), float(cur[-1])) if m else (math.inf, -math.inf)
    else:
        m = acc.rows - acc.missing
        lt = acc.bin_lt
        ks, w = st.binned_ks_wasserstein(ref.grid, ref.grid_cdf, acc.grid_le / max(m, 1),
                                         acc.minimum, acc.maximum, steps=ref.steps)
        pvalue = st.ks_pvalue(ks, ref.count, m)
        method, lo, hi = "binned", acc.minimum, acc.maximum
    out = FeatureDrift(ref.name, Kind.NUMERIC.value, ref.count, m, method=method)
    if m == 0 or ref.count == 0:
        out.judged = False
        return out
    cur_counts = np.diff(np.concatenate(([0], lt, [m])))
    out.psi = float(st.psi(ref.bin_counts, cur_counts))
    out.js = float(st.js_distance(ref.bin_counts, cur_counts))
    out.ks, out.ks_pvalue, out.wasserstein = ks, pvalue, w
    out.wasserstein_norm = (w / ref.std if ref.std > 0 else (0.0 if w == 0 else math.inf))
    edges = np.concatenate(([min(ref.minimum, lo)], ref.bin_edges, [max(ref.maximum, hi)]))
    out.histogram = {"edges": edges.tolist(),
                     "reference": st.proportions(ref.bin_counts).tolist(),
                     "current": st.proportions(cur_counts).tolist()}
    return out


def _compare_categorical(ref: CategoricalReference, acc: _CategoricalWindow) -> FeatureDrift:
    k = len(ref.categories)
    cur_counts = np.zeros(k + 1, dtype=np.int64)  # the last slot: values not in the reference
    for value, count in acc.counts.items():
        cur_counts[ref.index.get(value, k)] += count
    ref_counts = np.append(ref.counts, ref.other)
    m = int(cur_counts.sum())
    out = FeatureDrift(ref.name, Kind.CATEGORICAL.value, ref.count, m, method="exact")
    if m == 0 or ref.count == 0:
        out.judged = False
        return out
    out.unseen_share = float(cur_counts[k]) / m
    out.psi = float(st.psi(ref_counts, cur_counts))
    out.js = float(st.js_distance(ref_counts, cur_counts))
    out.chi2, out.chi2_pvalue = st.chi2_test(ref_counts, cur_counts)
    top = np.argsort(-(ref_counts[:k] + cur_counts[:k]), kind="stable")[:HISTOGRAM_CATEGORIES]
    rest = np.setdiff1d(np.arange(k), top)
    ref_p, cur_p = st.proportions(ref_counts), st.proportions(cur_counts)
    out.histogram = {
        "categories": [ref.categories[i] for i in top] + ["(other)"],
        "reference": ref_p[top].tolist() + [float(ref_p[rest].sum() + ref_p[k])],
        "current": cur_p[top].tolist() + [float(cur_p[rest].sum() + cur_p[k])]}
    return out


def _decide(features: list[FeatureDrift], rule: DriftRule) -> None:
    tested = [f for f in features if f.judged and f.kind in ("numeric", "categorical")]
    adjusted = st.holm(np.array([np.nan if f.pvalue is None else f.pvalue for f in tested]))
    for f, p in zip(tested, adjusted.tolist(), strict=True):
        f.p_adjusted = None if math.isnan(p) else p
        override = rule.features.get(f.name, FeatureRule())
        psi_limit = override.psi if override.psi is not None else rule.psi
        reasons = []
        if f.kind == "numeric":
            limit = override.numeric_effect or rule.numeric_effect
            big = (f.wasserstein_norm or 0.0) >= limit
            effect = f"wasserstein/std={_fmt(f.wasserstein_norm)} vs {limit}"
            test = f"KS p={_fmt(p)} (Holm)"
        else:
            limit = override.categorical_effect or rule.categorical_effect
            big = (f.js or 0.0) >= limit
            effect = f"JS={_fmt(f.js)} vs {limit}"
            test = f"chi2 p={_fmt(p)} (Holm)"
        if psi_limit is not None and (f.psi or 0.0) >= psi_limit:
            big, effect = True, f"PSI={_fmt(f.psi)} >= {psi_limit}"
        significant = not math.isnan(p) and p < rule.alpha
        if significant and big:
            reasons.append(f"{test} < {rule.alpha} and {effect}")
        if f.null_rate_change is not None and abs(f.null_rate_change) >= rule.null_rate_change:
            reasons.append(f"missing share moved {f.null_rate_ref:.3f} -> {f.null_rate_cur:.3f}")
        f.drifted = bool(reasons)
        f.reason = "; ".join(reasons) if reasons else (
            f"no drift: {test}, {effect}")


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3g}"


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value
