"""Read columns out of pandas or Arrow data as numpy values or category counts, no row loops."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from steadyml.core.errors import UnsupportedDataError


class Kind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    OTHER = "other"  # timestamps and nested values: not compared


@dataclass(frozen=True, slots=True)
class Categories:
    """A categorical column's distinct values (as text) with their counts, and its nulls."""

    values: list[str]
    counts: np.ndarray
    nulls: int

    @property
    def total(self) -> int:
        return int(self.counts.sum()) + self.nulls


def arrow_kind(dtype: pa.DataType) -> Kind:
    """Return how a column of this Arrow type is compared."""
    if pa.types.is_dictionary(dtype):
        return arrow_kind(dtype.value_type)
    if pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype):
        return Kind.NUMERIC
    if (pa.types.is_string(dtype) or pa.types.is_large_string(dtype)
            or pa.types.is_boolean(dtype) or pa.types.is_string_view(dtype)):
        return Kind.CATEGORICAL
    return Kind.OTHER


def to_arrow(data: Any) -> pa.Table:
    """Return pandas, a record batch or a mapping of columns as an Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__
    if "duckdb" in module and hasattr(data, "to_arrow_table"):  # a DuckDB relation
        return data.to_arrow_table()
    if module.startswith("pandas"):
        return _from_pandas(data)
    if isinstance(data, dict):
        return pa.table(data)
    raise UnsupportedDataError(
        f"Cannot compare data of type {type(data).__name__}; give a pandas DataFrame, a "
        "pyarrow Table or RecordBatch, a DuckDB relation, or an iterable of those.")


def _from_pandas(frame: Any) -> pa.Table:
    """Return a DataFrame as an Arrow table, its numpy numeric columns without a copy.

    `pa.Table.from_pandas` scans every float column for NaN to make nulls, a pass over all the
    data; here a NaN stays a value, which `numeric_values` reads as missing all the same.
    """
    names = list(frame.columns)
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        return pa.Table.from_pandas(frame, preserve_index=False)
    numeric = {n for n in names if isinstance(frame[n].dtype, np.dtype)
               and frame[n].dtype.kind in "iuf"}
    rest = pa.Table.from_pandas(frame[[n for n in names if n not in numeric]],
                                preserve_index=False)
    return pa.table({n: pa.array(frame[n].to_numpy()) if n in numeric else rest.column(n)
                     for n in names})


def batches(data: Any) -> Iterator[pa.Table]:
    """Yield `data` as Arrow tables: one for a table, several for an iterable or a reader."""
    if isinstance(data, pa.RecordBatchReader):
        for batch in data:
            yield pa.Table.from_batches([batch])
        return
    if hasattr(data, "to_arrow_reader"):  # a DuckDB relation: stream, never load it all
        yield from batches(data.to_arrow_reader(1_000_000))
        return
    if hasattr(data, "fetch_record_batch"):  # DuckDB before 1.4
        yield from batches(data.fetch_record_batch(1_000_000))
        return
    if isinstance(data, pa.Table | pa.RecordBatch | dict) or \
            type(data).__module__.startswith("pandas"):
        yield to_arrow(data)
        return
    if isinstance(data, Iterable):
        for part in data:
            yield to_arrow(part)
        return
    yield to_arrow(data)


def numeric_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Return a numeric column as float64, nulls as NaN."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not pa.types.is_float64(column.type):
        column = pc.cast(column, pa.float64())
    if isinstance(column, pa.ChunkedArray) and column.num_chunks == 1:
        column = column.chunk(0)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def sorted_finite(values: np.ndarray) -> np.ndarray:
    """Return the finite values in increasing order: one sort, NaN and ±inf cut off its ends."""
    ordered = np.sort(values)  # NaN sorts last, after +inf
    return ordered[np.searchsorted(ordered, -np.inf, side="right"):
                   np.searchsorted(ordered, np.inf, side="left")]


def categories(column: pa.ChunkedArray | pa.Array) -> Categories:
    """Return a categorical column's value counts (values as text) and null count."""
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        column = pc.cast(column, pa.string())
    nulls = column.null_count
    if nulls == len(column):
        return Categories([], np.zeros(0, dtype=np.int64), nulls)
    counted = pc.value_counts(column.drop_null() if nulls else column)
    return Categories([str(v) for v in counted.field("values").to_pylist()],
                      counted.field("counts").to_numpy().astype(np.int64), nulls)
