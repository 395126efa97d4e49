"""Prediction rows as Parquet segments, built column-wise from numpy: no per-row Python.

The encoding half of the prediction log (`predlog`): a request's rows arrive as one `Batch`;
`encode_segments` turns the batches the writer took into one segment per partition.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from steadyml.core.errors import InvalidInputError
from steadyml.core.ids import new_id

if TYPE_CHECKING:
    import pyarrow as pa

_logger = logging.getLogger(__name__)

_MS_PER_DAY = 86_400_000
_NUMERIC_KINDS = "biuf"


@dataclass(slots=True)
class Batch:
    """The rows of one request, as queued for the writer."""

    n: int
    first_row: int
    request_id: str
    deployment: str
    revision: int
    model: str
    model_version: int
    arm: str
    ts_ms: int
    latency_ms: float
    status: str
    names: tuple[str, ...]
    inputs: np.ndarray  # (n, k): float64, or object when a feature is not numeric
    outputs: np.ndarray  # (n,) or (n, c): float64, or object for text
    seq: int = 0  # set when the log accepts the batch
    queued_at: float = 0.0
    # Set when one batch holds the rows of several requests (a model call's worth):
    # per row, its request id, its row within that request, and that request's latency.
    row_request_ids: list[str] | None = None
    row_index: np.ndarray | None = None
    row_latency_ms: np.ndarray | None = None
    cpu_ms: float = 0.0  # CPU time of the model call, per row


@dataclass(frozen=True, slots=True)
class Segment:
    """An encoded Parquet file and where it goes; retried as it is, under the same name."""

    path: str
    data: bytes
    rows: int
    first_seq: int  # the lowest batch sequence number inside


def batch_inputs(inputs: np.ndarray | Mapping[str, Any], names: Sequence[str] | None,
                 checked: set[tuple[str, ...]]) -> tuple[tuple[str, ...], np.ndarray]:
    """Return the feature names and an (n, k) copy of `inputs`: float64, or object for text.

    An array takes `names` (else 0..k-1); a mapping names its own columns. `checked` holds the
    name tuples already found valid, so the request path validates each tuple once.
    """
    if hasattr(inputs, "columns") and hasattr(inputs, "iloc"):  # a DataFrame (text features)
        inputs = {c: inputs[c].to_numpy() for c in inputs.columns}
    if isinstance(inputs, Mapping):
        given = tuple(str(k) for k in inputs)
        columns = [np.asarray(v) for v in inputs.values()]
        if not columns or any(c.ndim != 1 or len(c) != len(columns[0]) for c in columns):
            raise InvalidInputError(
                "Prediction log inputs given as a mapping need one 1-D array of the same "
                f"length per feature; got shapes {[c.shape for c in columns]}.")
        if all(c.dtype.kind in _NUMERIC_KINDS for c in columns):
            x = np.column_stack(columns).astype(np.float64)
        else:
            x = np.empty((len(columns[0]), len(columns)), dtype=object)
            for j, column in enumerate(columns):
                x[:, j] = column
    else:
        x = np.asarray(inputs)
        if x.ndim != 2:
            raise InvalidInputError(
                f"Prediction log inputs must be an (n, k) array; got shape {x.shape}. "
                "Reshape a single row with row.reshape(1, -1).")
        x = x.astype(np.float64 if x.dtype.kind in _NUMERIC_KINDS else object)  # a copy
        given = tuple(names) if names is not None else tuple(str(j) for j in range(x.shape[1]))
    if given not in checked:
        if len(given) != x.shape[1] or len(set(given)) != len(given) or not all(
                isinstance(name, str) and name for name in given):
            raise InvalidInputError(
                f"Prediction log feature names {list(given)} do not name the {x.shape[1]} "
                "input columns once each; pass one non-empty, distinct name per column.")
        if len(checked) < 10_000:
            checked.add(given)
    return given, x


def batch_outputs(outputs: Any, n: int) -> np.ndarray:
    """Return an (n,) or (n, c) copy of `outputs`: float64, or object for text."""
    y = np.asarray(outputs)
    if y.ndim not in (1, 2) or len(y) != n:
        raise InvalidInputError(
            f"Prediction log outputs must be (n,) or (n, c) with n={n} rows, the rows of the "
            f"inputs; got shape {y.shape}.")
    return y.astype(np.float64 if y.dtype.kind in _NUMERIC_KINDS else object)  # a copy


def encode_segments(batches: list[Batch], base: str) -> tuple[list[Segment], int]:
    """Encode batches as one zstd Parquet segment per partition under `base`.

    Returns the segments and the number of rows in batches that could not be encoded (logged
    and left out; the rest of their segment is kept). Batches whose schemas cannot be merged
    (one feature typed differently) get a segment each.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    partitions: dict[tuple[str, int], dict[tuple[Any, ...], list[Batch]]] = {}
    for b in batches:
        partitions.setdefault((b.deployment, b.ts_ms // _MS_PER_DAY), {}).setdefault(
            (b.names, b.outputs.shape[1:]), []).append(b)
    segments, failed_rows = [], 0
    for (deployment, day), groups in partitions.items():
        tables: list[tuple[pa.Table, int]] = []
        for group in groups.values():
            built, failed = _build_tables(group)
            tables += built
            failed_rows += failed
        if len(tables) > 1:
            # One segment for the partition, unless a feature is typed differently in two.
            with contextlib.suppress(pa.ArrowInvalid, pa.ArrowTypeError):
                tables = [(pa.concat_tables([t for t, _ in tables], promote_options="default"),
                           min(seq for _, seq in tables))]
        directory = f"{base}/deployment={deployment}/date={np.datetime64(day, 'D')}"
        for table, first_seq in tables:
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink, compression="zstd")
            name = f"{time.time_ns() // 1_000_000:013d}-{new_id()[:16]}.parquet"
            segments.append(Segment(f"{directory}/{name}", sink.getvalue().to_pybytes(),
                                    table.num_rows, first_seq))
    return segments, failed_rows


def _build_tables(group: list[Batch]) -> tuple[list[tuple[pa.Table, int]], int]:
    """Return tables (with their first batch sequence) and the rows of batches that failed."""
    try:
        return [(_table(group), group[0].seq)], 0
    except Exception:
        if len(group) == 1:
            _logger.exception(
                "Prediction log: cannot encode request %s (%d rows); they are not logged.",
                group[0].request_id, group[0].n)
            return [], group[0].n
    tables, failed_rows = [], 0
    for batch in group:  # find the culprit, keep the rest
        built, failed = _build_tables([batch])
        tables += built
        failed_rows += failed
    return tables, failed_rows


def _table(group: list[Batch]) -> pa.Table:
    """Build one table from batches that share feature names and output shape."""
    import pyarrow as pa

    counts = np.fromiter((b.n for b in group), dtype=np.int64, count=len(group))
    owner = pa.array(np.repeat(np.arange(len(group), dtype=np.int32), counts))

    def per_batch(attr: str, type_: pa.DataType) -> pa.Array:
        return pa.array([getattr(b, attr) for b in group], type_).take(owner)

    starts = np.cumsum(counts) - counts
    first_rows = np.fromiter((b.first_row for b in group), dtype=np.int64, count=len(group))
    rows = np.arange(counts.sum(), dtype=np.int64) + np.repeat(first_rows - starts, counts)
    request_ids = per_batch("request_id", pa.string())
    latency = per_batch("latency_ms", pa.float32())
    if any(b.row_request_ids is not None for b in group):  # per-row fields, where given
        request_ids = pa.array([rid for b in group for rid in (
            b.row_request_ids if b.row_request_ids is not None else [b.request_id] * b.n)],
            pa.string())
        rows = np.concatenate([b.row_index if b.row_index is not None else
                               np.arange(b.first_row, b.first_row + b.n) for b in group])
        latency = pa.array(np.concatenate([
            b.row_latency_ms if b.row_latency_ms is not None else
            np.full(b.n, b.latency_ms) for b in group]).astype(np.float32))
    columns = {
        "request_id": request_ids,
        "row": pa.array(rows.astype(np.int32)),
        "deployment": per_batch("deployment", pa.string()),
        "revision": per_batch("revision", pa.int32()),
        "model": per_batch("model", pa.string()),
        "model_version": per_batch("model_version", pa.int32()),
        "arm": per_batch("arm", pa.string()),
        "ts": per_batch("ts_ms", pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
        "latency_ms": latency,
        "status": per_batch("status", pa.string()),
        "cpu_ms": per_batch("cpu_ms", pa.float32()),
    }
    inputs = np.concatenate([b.inputs for b in group])
    for name, values in zip(group[0].names, np.ascontiguousarray(inputs.T), strict=True):
        columns[f"in_{name}"] = _column(values)
    outputs = np.concatenate([b.outputs for b in group])
    named = [("out", outputs)] if outputs.ndim == 1 else [
        (f"out_{j}", values) for j, values in enumerate(np.ascontiguousarray(outputs.T))]
    for name, values in named:
        column = _column(values)
        # Text (class labels) under its own name: one text model must not turn every other
        # model's numeric `out` into text when DuckDB merges the segments by name.
        columns[name if pa.types.is_floating(column.type) else f"{name}_text"] = column
    return pa.table(columns)


def _column(values: np.ndarray) -> pa.Array:
    """Return numbers as float64, text as string, anything else as its text."""
    import pyarrow as pa

    if values.dtype.kind in _NUMERIC_KINDS:
        return pa.array(values.astype(np.float64, copy=False))
    try:
        array = pa.array(values)  # Arrow infers an object column's type, in C++
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers mixed with text
        return pa.array(values.astype(str))
    kind = array.type
    if pa.types.is_null(kind) or pa.types.is_integer(kind) or pa.types.is_floating(kind) \
            or pa.types.is_boolean(kind):
        return array.cast(pa.float64())
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return array.cast(pa.string())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        try:
            return array.cast(pa.string())
        except pa.ArrowInvalid:  # not UTF-8: keep the bytes
            return array
    return pa.array(values.astype(str))
