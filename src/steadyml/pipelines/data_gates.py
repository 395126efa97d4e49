"""The data-validation gate: check a batch against the reference dataset's profile.

    validate = data_gate(data="data", reference="dataset:churn-train",
                         checks=DataChecks(max_null_rate_increase=0.05, min_row_ratio=0.5))

Checks, each with its own threshold (None turns one off): missing and extra columns and dtype
changes; the null-rate increase; the share of values outside the reference range widened by a
tolerance; quantiles moved by more than k × the reference IQR; the share of categories the
reference never saw; the row count, absolute and relative to the reference; and freshness, the
age of the newest timestamp. All numeric columns are checked at once on one matrix; categories
with Arrow's `is_in`. No per-row Python.

The reference is a profile (`profile_table`), a DataFrame or Arrow table (profiled when the gate
runs), a logged `Dataset`, or "dataset:NAME": the newest dataset logged under NAME, read through
the platform running the pipeline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steadyml.core.clock import Clock
from steadyml.core.errors import DatasetNotFoundError, InvalidInputError
from steadyml.pipelines.errors import GateFailedError
from steadyml.pipelines.gates import (
    CheckResult,
    GateKind,
    GateResult,
    GateStep,
    gate_clock,
    listed,
    require_platform,
    show,
)
from steadyml.tracking import datasets as ds
from steadyml.tracking.profiles import ColumnKind, profile_table

DATASET_PREFIX = "dataset:"


@dataclass(frozen=True, kw_only=True)
class DataChecks:
    """The checks of a data gate and their thresholds; a threshold of None skips its check.

    Rates and shares are fractions (0.05 is 5 %). `quantile_shift_iqr` is in units of the
    reference's interquartile range (its standard deviation when the IQR is 0).
    """

    columns: tuple[str, ...] | None = None  # the columns to check; default: the reference's
    check_dtypes: bool = True
    allow_extra_columns: bool = True
    max_null_rate_increase: float | None = 0.05
    range_tolerance: float = 0.1  # widen [min, max] by this share of its width on each side
    max_out_of_range_share: float | None = 0.01
    quantiles: tuple[float, ...] = (0.05, 0.5, 0.95)
    quantile_shift_iqr: float | None = 0.5
    max_unseen_share: float | None = 0.01
    min_rows: int | None = 1
    min_row_ratio: float | None = None  # rows >= ratio × the reference's rows
    max_row_ratio: float | None = None
    timestamp_column: str | None = None
    max_age_s: float | None = None  # the newest timestamp may be at most this old

    def __post_init__(self) -> None:
        for name in ("max_null_rate_increase", "range_tolerance", "max_out_of_range_share",
                     "quantile_shift_iqr", "max_unseen_share", "min_rows", "min_row_ratio",
                     "max_row_ratio", "max_age_s"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise InvalidInputError(f"DataChecks.{name} must be a number >= 0 or None, "
                                        f"got {value!r}.")
        if any(not 0.0 <= q <= 1.0 for q in self.quantiles):
            raise InvalidInputError(f"DataChecks.quantiles must lie in [0, 1], got "
                                    f"{self.quantiles!r}.")
        if (self.timestamp_column is None) != (self.max_age_s is None):
            raise InvalidInputError("A freshness check needs both DataChecks.timestamp_column "
                                    "and DataChecks.max_age_s; give both or neither.")
        if isinstance(self.columns, str):
            raise InvalidInputError("DataChecks.columns is a tuple of column names, not a "
                                    f"string: write columns=({self.columns!r},).")


@dataclass(frozen=True)
class Reference:
    """What a batch is checked against: a profile, the Arrow schema when known, and a label."""

    profile: dict[str, Any]
    schema: dict[str, str] | None
    label: str


def resolve_reference(reference: Any, *, gate: str = "data-quality",
                      platform: Any = None) -> Reference:
    """Return the reference a gate compares with (see the module docstring for the forms)."""
    if isinstance(reference, Reference):
        return reference
    if isinstance(reference, str):
        name = _dataset_name(reference)
        platform = platform or require_platform(gate, f"compares with {reference!r}")
        with platform.store.read() as conn:
            found = ds.find_datasets(conn, name=name)
        if not found:
            raise DatasetNotFoundError(name)
        return _of_dataset(found[0])
    if isinstance(reference, ds.Dataset):
        return _of_dataset(reference)
    if isinstance(reference, Mapping) and "columns" in reference:
        return Reference(dict(reference), None, "the given profile")
    table = ds.to_table(reference)[0]
    return Reference(profile_table(table), ds.schema_of(table),
                     f"the given data (fingerprint {ds.fingerprint(table)[:12]})")


def validate_data(data: Any, reference: Reference, checks: DataChecks, *,
                  gate: str = "data-quality", now_ms: int) -> GateResult:
    """Check `data` (DataFrame, Arrow table, Parquet path) against `reference`."""
    table = ds.to_table(data)[0]
    current = profile_table(table)["columns"]
    ref_columns: dict[str, Any] = reference.profile["columns"]
    names = list(checks.columns) if checks.columns is not None else list(ref_columns)
    unknown = [n for n in names if n not in ref_columns]
    if unknown:
        raise InvalidInputError(f"Gate {gate!r}: DataChecks.columns names {listed(unknown)}, "
                                f"which {reference.label} does not have.")
    results = _row_checks(table.num_rows, reference.profile.get("num_rows"), checks)
    present = []
    for name in names:
        if name not in current:
            results.append(CheckResult("missing_column", f"column {name!r}", False, "missing",
                                       "present"))
            continue
        same_kind = current[name]["kind"] == ref_columns[name]["kind"]
        if checks.check_dtypes:
            results.append(_dtype_check(name, table, reference, ref_columns[name]["kind"]))
        if same_kind:
            present.append(name)
    if not checks.allow_extra_columns:
        results += [CheckResult("extra_column", f"column {n!r}", False, "present",
                                f"absent (not in {reference.label})")
                    for n in table.column_names if n not in ref_columns]
    if checks.max_null_rate_increase is not None:
        results += [_null_check(n, current[n]["null_rate"], ref_columns[n]["null_rate"],
                                checks.max_null_rate_increase) for n in present]
    numeric = [n for n in present if ref_columns[n]["kind"] == ColumnKind.NUMERIC
               and ref_columns[n].get("min") is not None]
    if numeric and checks.max_out_of_range_share is not None:
        results += _range_checks(table, numeric, ref_columns, checks)
    if numeric and checks.quantile_shift_iqr is not None:
        results += _quantile_checks(numeric, current, ref_columns, checks)
    if checks.max_unseen_share is not None:
        results += [_unseen_check(table.column(n), n, ref_columns[n], checks.max_unseen_share)
                    for n in present if ref_columns[n]["kind"] == ColumnKind.CATEGORICAL]
    if checks.timestamp_column is not None and checks.max_age_s is not None:
        results.append(_freshness_check(table, checks.timestamp_column, checks.max_age_s,
                                        now_ms, gate))
    return GateResult(gate=gate, kind=GateKind.DATA, checks=tuple(results),
                      context={"against": reference.label, "rows": table.num_rows,
                               "reference_rows": reference.profile.get("num_rows")},
                      created_ms=now_ms)


def data_gate(*, data: str = "data", reference: Any, checks: DataChecks | None = None,
              name: str = "data-quality", output: str = "data_gate",
              passthrough: str | None = None, clock: Clock | None = None) -> GateStep:
    """Return a step checking its input `data` against `reference`; it raises on a failure.

    The step outputs the gate result (JSON data) as `output`. With `passthrough`, it also
    outputs the checked data under that name: make training take it, and training cannot run
    before the gate passed. `clock` fixes "now" for the freshness check (default: the
    platform's clock).
    """
    checks = checks or DataChecks()
    if isinstance(reference, str):
        _dataset_name(reference)

    def run_data_gate(**values: Any) -> Any:
        resolved = resolve_reference(reference, gate=name, platform=None)
        result = validate_data(values[data], resolved, checks, gate=name,
                               now_ms=gate_clock(clock).now_ms())
        print(result.report())
        if not result.passed:
            raise GateFailedError(result)
        return (values[data], result.to_dict()) if passthrough else result.to_dict()

    outputs = [passthrough, output] if passthrough else [output]
    return GateStep(run_data_gate, name=name, inputs=[data], outputs=outputs,
                    config={"reference": reference, "checks": checks, "data": data,
                            "clock": clock is not None})


# --- checks --------------------------------------------------------------------------------------


def _row_checks(rows: int, ref_rows: int | None, checks: DataChecks) -> list[CheckResult]:
    out = []
    if checks.min_rows is not None:
        out.append(CheckResult("row_count", "rows", rows >= checks.min_rows, rows,
                               f">= {checks.min_rows}", limit=checks.min_rows))
    for ratio, sign in ((checks.min_row_ratio, ">="), (checks.max_row_ratio, "<=")):
        if ratio is None or not ref_rows:
            continue
        limit = ratio * ref_rows
        passed = rows >= limit if sign == ">=" else rows <= limit
        out.append(CheckResult("row_count_ratio", "rows", passed, rows,
                               f"{sign} {show(ratio)} × reference rows ({ref_rows}) = "
                               f"{show(limit)}", reference=ref_rows, limit=limit))
    return out


def _dtype_check(name: str, table: pa.Table, reference: Reference, kind: str) -> CheckResult:
    actual = str(table.schema.field(name).type)
    expected = reference.schema.get(name) if reference.schema else None
    if expected is not None:
        return CheckResult("dtype", f"column {name!r}", actual == expected, actual, expected)
    from steadyml.tracking.profiles import kind_of

    actual_kind = kind_of(table.schema.field(name).type).value
    return CheckResult("dtype", f"column {name!r}", actual_kind == kind,
                       f"{actual} ({actual_kind})", f"a {kind} column")


def _null_check(name: str, rate: float, ref_rate: float, increase: float) -> CheckResult:
    limit = ref_rate + increase
    return CheckResult("null_rate", f"column {name!r}", rate <= limit + 1e-12, rate,
                       f"<= {show(limit)} (reference {show(ref_rate)} + {show(increase)})",
                       reference=ref_rate, limit=limit)


def _range_checks(table: pa.Table, names: list[str], ref: dict[str, Any],
                  checks: DataChecks) -> list[CheckResult]:
    matrix = _matrix(table, names)
    low = np.array([ref[n]["min"] for n in names], dtype=np.float64)
    high = np.array([ref[n]["max"] for n in names], dtype=np.float64)
    margin = (high - low) * checks.range_tolerance
    low, high = low - margin, high + margin
    with np.errstate(invalid="ignore"):  # NaN (null) compares False: not outside
        outside = ((matrix < low) | (matrix > high)).sum(axis=0)
    valid = (~np.isnan(matrix)).sum(axis=0)
    share = outside / np.maximum(valid, 1)
    limit = float(checks.max_out_of_range_share or 0.0)
    return [CheckResult("out_of_range", f"column {n!r}", bool(share[j] <= limit + 1e-12),
                        float(share[j]),
                        f"<= {show(limit)} of values outside [{show(low[j])}, {show(high[j])}] "
                        f"(reference range widened by {show(checks.range_tolerance)})",
                        limit=limit, note=f"{int(outside[j])} of {int(valid[j])} values outside")
            for j, n in enumerate(names)]


def _quantile_checks(names: list[str], current: dict[str, Any], ref: dict[str, Any],
                     checks: DataChecks) -> list[CheckResult]:
    k = float(checks.quantile_shift_iqr or 0.0)
    qs = np.asarray(checks.quantiles, dtype=np.float64)
    out = []
    for n in names:
        ref_q = _sketch_quantiles(ref[n], np.array([0.25, 0.75, *qs]))
        cur_q = _sketch_quantiles(current[n], qs)
        if ref_q is None or cur_q is None:  # no finite values now: the null check reports it
            continue
        scale, unit = float(ref_q[1] - ref_q[0]), "IQR"
        if scale <= 0:
            scale, unit = float(ref[n].get("std") or 0.0), "std"
        for q, r, c in zip(qs, ref_q[2:], cur_q, strict=True):
            shift = abs(c - r)
            moved = shift / scale if scale > 0 else (0.0 if shift == 0 else float("inf"))
            out.append(CheckResult(
                "quantile_shift", f"column {n!r} p{round(q * 100):02d}",
                bool(moved <= k + 1e-12), float(c),
                f"in [{show(r - k * scale)}, {show(r + k * scale)}] (reference ± "
                f"{show(k)} × {unit} {show(scale)})", reference=float(r), limit=k,
                note=f"moved {show(moved)} × {unit}"))
    return out


def _unseen_check(column: pa.ChunkedArray, name: str, ref: dict[str, Any],
                  limit: float) -> CheckResult:
    subject = f"column {name!r}"
    if ref.get("other"):
        return CheckResult("unseen_categories", subject, True, None, f"<= {show(limit)}",
                           note="not checked: the reference keeps only its "
                                f"{len(ref['frequencies'])} most frequent categories")
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    values = pc.cast(column, pa.string()).drop_null()
    if len(values) == 0:
        return CheckResult("unseen_categories", subject, True, 0.0, f"<= {show(limit)}",
                           limit=limit)
    known = pc.is_in(values, value_set=pa.array(list(ref["frequencies"]), pa.string()))
    unseen = len(values) - int(pc.sum(known).as_py() or 0)
    share = unseen / len(values)
    examples = pc.unique(pc.filter(values, pc.invert(known))).to_pylist()
    return CheckResult("unseen_categories", subject, share <= limit + 1e-12, share,
                       f"<= {show(limit)} of values in categories the reference never saw",
                       limit=limit, note=(f"{unseen} values in new categories: "
                                          f"{listed(examples)}" if unseen else ""))


def _freshness_check(table: pa.Table, column: str, max_age_s: float, now_ms: int,
                     gate: str) -> CheckResult:
    subject = f"column {column!r}"
    if column not in table.column_names:
        return CheckResult("freshness", subject, False, "missing",
                           f"a timestamp column at most {show(float(max_age_s))} s old")
    values = table.column(column)
    if not (pa.types.is_timestamp(values.type) or pa.types.is_date(values.type)):
        raise InvalidInputError(f"Gate {gate!r}: the freshness column {column!r} is "
                                f"{values.type}; it must be a timestamp or a date column.")
    newest = pc.max(values).as_py()
    if newest is None:
        return CheckResult("freshness", subject, False, "no timestamps",
                           f"newest at most {show(float(max_age_s))} s old")
    if not isinstance(newest, dt.datetime):
        newest = dt.datetime.combine(newest, dt.time())
    if newest.tzinfo is None:  # naive timestamps are read as UTC
        newest = newest.replace(tzinfo=dt.UTC)
    age_s = (now_ms - newest.timestamp() * 1000) / 1000
    return CheckResult("freshness", subject, age_s <= max_age_s, age_s,
                       f"newest value at most {show(float(max_age_s))} s old",
                       reference=newest.isoformat(), limit=float(max_age_s),
                       note=f"newest value {newest.isoformat()}, now "
                            f"{dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC).isoformat()}")


def _matrix(table: pa.Table, names: Sequence[str]) -> np.ndarray:
    """Return numeric columns as one float64 (rows × columns) matrix; nulls are NaN."""
    matrix = np.empty((table.num_rows, len(names)), dtype=np.float64, order="F")
    for j, name in enumerate(names):
        column = table.column(name)
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        matrix[:, j] = column.to_numpy(zero_copy_only=False)
    return matrix


def _sketch_quantiles(profile: dict[str, Any], qs: np.ndarray) -> np.ndarray | None:
    sketch = profile.get("quantiles")
    if not sketch:
        return None
    grid = np.linspace(0.0, 1.0, len(sketch)) if len(sketch) > 1 else np.zeros(1)
    return np.interp(qs, grid, np.asarray(sketch, dtype=np.float64))


def _dataset_name(reference: str) -> str:
    if not reference.startswith(DATASET_PREFIX) or len(reference) == len(DATASET_PREFIX):
        raise InvalidInputError(
            f"Data gate reference {reference!r} is not understood: give 'dataset:NAME' (a "
            "logged dataset), a profile, a logged Dataset, or a DataFrame / Arrow table.")
    return reference[len(DATASET_PREFIX):]


def _of_dataset(dataset: ds.Dataset) -> Reference:
    return Reference(dataset.profile, dataset.schema,
                     f"dataset:{dataset.name} (fingerprint {dataset.fingerprint[:12]})")
