"""Datasets: read any supported source into Arrow, fingerprint its content, store and profile it.

The fingerprint is the sha256 of a canonical encoding: columns in name order, each as its
normalised type, validity bits and values. So the same data gives the same fingerprint
whether it came from pandas, Arrow or Parquet, however it is chunked.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from steadyml.core.errors import DatasetNotFoundError, UnsupportedDataError
from steadyml.core.ids import check_name
from steadyml.store.tables import datasets, run_datasets

FINGERPRINT_VERSION = b"steadyml-dataset-v1"


@dataclass(frozen=True)
class Dataset:
    id: int
    name: str
    fingerprint: str
    num_rows: int
    num_columns: int
    schema: dict[str, str]
    uri: str
    digest: str | None
    profile: dict[str, Any]
    created_ms: int

    def to_dict(self, *, with_profile: bool = False) -> dict[str, Any]:
        out = asdict(self)
        if not with_profile:
            out.pop("profile")
        return out


def to_table(data: Any) -> tuple[pa.Table, str | None]:
    """Return `data` as a normalised Arrow table, and its URI when it was read from a file."""
    uri = None
    if isinstance(data, str | os.PathLike):
        import pyarrow.parquet as pq

        path = Path(data)
        if not path.exists():
            raise UnsupportedDataError(f"Dataset file {str(path)!r} does not exist.")
        try:
            table = pq.read_table(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise UnsupportedDataError(f"Cannot read {str(path)!r} as Parquet: {exc}.") from exc
        uri = path.absolute().as_uri()
    elif isinstance(data, pa.Table):
        table = data
    elif isinstance(data, pa.RecordBatch):
        table = pa.Table.from_batches([data])
    elif _is_pandas_frame(data):
        try:
            table = pa.Table.from_pandas(data, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise UnsupportedDataError(f"Cannot convert the DataFrame to Arrow: {exc}. "
                                       "Give each column a single type.") from exc
    else:
        raise UnsupportedDataError(
            f"Cannot log a dataset of type {type(data).__name__}: pass a pandas DataFrame, a "
            "pyarrow Table, or the path of a Parquet file.")
    return normalise(table), uri


def normalise(table: pa.Table) -> pa.Table:
    """Drop schema metadata and map equivalent types onto one (string, dictionary, ...)."""
    fields, columns = [], []
    for f, column in zip(table.schema, table.columns, strict=True):
        target = _canonical_type(f.name, f.type)
        if target != f.type:
            column = column.cast(target)
        fields.append(pa.field(f.name, target))
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def fingerprint(table: pa.Table) -> str:
    """Return the content fingerprint of a normalised table."""
    h = hashlib.sha256(FINGERPRINT_VERSION)
    h.update(str(table.num_rows).encode())
    for name in sorted(table.column_names):
        column = table.column(name)
        h.update(b"\x00col\x00" + name.encode() + b"\x00" + str(column.type).encode())
        validity = column.is_null().to_numpy(zero_copy_only=False)
        h.update(np.packbits(validity).tobytes())
        _hash_values(h, column)
    return h.hexdigest()


def schema_of(table: pa.Table) -> dict[str, str]:
    return {f.name: str(f.type) for f in table.schema}


def to_parquet_bytes(table: pa.Table) -> bytes:
    """Encode a table as Parquet deterministically (same table, same bytes)."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", write_statistics=True,
                   store_schema=False)
    return sink.getvalue()


def insert_dataset(conn: Connection, *, name: str, table: pa.Table, fp: str, uri: str,
                   digest: str | None, profile: dict[str, Any], now_ms: int) -> Dataset:
    """Record a dataset, or return the existing record of the same name and content."""
    check_name(name, "dataset")
    existing = conn.execute(sa.select(datasets).where(datasets.c.name == name,
                                                      datasets.c.fingerprint == fp)).first()
    if existing is not None:
        return _dataset(existing._mapping)
    values = {"name": name, "fingerprint": fp, "num_rows": table.num_rows,
              "num_columns": table.num_columns, "schema": json.dumps(schema_of(table)),
              "uri": uri, "digest": digest, "profile": json.dumps(profile),
              "created_ms": now_ms}
    dataset_id = conn.execute(datasets.insert().values(**values)).inserted_primary_key[0]
    return _dataset({"id": dataset_id, **values})


def link_run(conn: Connection, run_id: str, dataset_id: int, context: str) -> None:
    exists = conn.execute(sa.select(run_datasets.c.run_id).where(
        run_datasets.c.run_id == run_id, run_datasets.c.dataset_id == dataset_id,
        run_datasets.c.context == context)).first()
    if exists is None:
        conn.execute(run_datasets.insert().values(run_id=run_id, dataset_id=dataset_id,
                                                  context=context))


def get_dataset(conn: Connection, dataset_id: int) -> Dataset:
    row = conn.execute(sa.select(datasets).where(datasets.c.id == dataset_id)).first()
    if row is None:
        raise DatasetNotFoundError(str(dataset_id))
    return _dataset(row._mapping)


def find_datasets(conn: Connection, *, name: str | None = None,
                  fingerprint_prefix: str | None = None) -> list[Dataset]:
    query = sa.select(datasets).order_by(datasets.c.created_ms.desc(), datasets.c.id.desc())
    if name is not None:
        query = query.where(datasets.c.name == name)
    if fingerprint_prefix:
        query = query.where(datasets.c.fingerprint.startswith(fingerprint_prefix,
                                                              autoescape=True))
    return [_dataset(r._mapping) for r in conn.execute(query)]


def run_inputs(conn: Connection, run_id: str) -> list[tuple[str, Dataset]]:
    """Return (context, dataset) for every dataset a run used."""
    rows = conn.execute(sa.select(run_datasets.c.context, datasets)
                        .join(datasets, datasets.c.id == run_datasets.c.dataset_id)
                        .where(run_datasets.c.run_id == run_id).order_by(datasets.c.id))
    return [(r.context, _dataset(r._mapping)) for r in rows]


def _dataset(row: Any) -> Dataset:
    return Dataset(id=int(row["id"]), name=row["name"], fingerprint=row["fingerprint"],
                   num_rows=int(row["num_rows"]), num_columns=int(row["num_columns"]),
                   schema=json.loads(row["schema"]), uri=row["uri"], digest=row["digest"],
                   profile=json.loads(row["profile"]), created_ms=int(row["created_ms"]))


def _canonical_type(name: str, dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(dtype):
        return _canonical_type(name, dtype.value_type)
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return pa.large_string()
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return pa.large_binary()
    if pa.types.is_timestamp(dtype):
        return pa.timestamp("ns", tz=dtype.tz)
    if pa.types.is_date(dtype):
        return pa.date32()
    if pa.types.is_null(dtype):
        return pa.large_string()
    if (pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_boolean(dtype)
            or pa.types.is_decimal(dtype) or pa.types.is_time(dtype)
            or pa.types.is_duration(dtype)):
        return dtype
    raise UnsupportedDataError(
        f"Column {name!r} has type {dtype}, which steadyml cannot fingerprint or profile yet; "
        "flatten nested or list columns before logging the dataset.")


def _hash_values(h: Any, column: pa.ChunkedArray) -> None:
    dtype = column.type
    if pa.types.is_large_string(dtype) or pa.types.is_large_binary(dtype):
        # Lengths and bytes are hashed separately so chunk boundaries leave no trace.
        lengths, data_hash = hashlib.sha256(), hashlib.sha256()
        filled = pc.fill_null(column, "" if pa.types.is_large_string(dtype) else b"")
        for chunk in filled.chunks:
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[
                chunk.offset:chunk.offset + len(chunk) + 1]
            lengths.update(np.diff(offsets).tobytes())
            data = chunk.buffers()[2]
            if data is not None and len(offsets):
                data_hash.update(memoryview(data)[offsets[0]:offsets[-1]])
        h.update(lengths.digest() + data_hash.digest())
        return
    if pa.types.is_boolean(dtype):
        values = pc.fill_null(column, False).to_numpy(zero_copy_only=False)
        h.update(np.packbits(values).tobytes())
        return
    if pa.types.is_decimal(dtype):
        h.update("\x00".join(str(v) for v in column.to_pylist()).encode())
        return
    physical = {pa.types.is_timestamp: pa.int64(), pa.types.is_date: pa.int32(),
                pa.types.is_duration: pa.int64(), pa.types.is_time: pa.int64()}
    for test, target in physical.items():
        if test(dtype):
            column = column.cast(target) if dtype.bit_width == 64 or target == pa.int32() \
                else column.cast(pa.int32()).cast(target)
            break
    zero = pa.scalar(0, type=column.type)
    values = pc.fill_null(column, zero).to_numpy(zero_copy_only=False)
    h.update(np.ascontiguousarray(values).tobytes())


def _is_pandas_frame(data: Any) -> bool:
    return type(data).__module__.startswith("pandas") and hasattr(data, "columns")
