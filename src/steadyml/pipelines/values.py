"""Step values: fingerprint them, encode them into blobs and decode them back.

DataFrames and Arrow tables are stored as Parquet and fingerprinted by their content (the
dataset fingerprint of tracking); JSON scalars as canonical JSON; anything else as a pickle,
fingerprinted by the pickle's digest. Cached outputs are trusted local artifacts: a pickle is
only loaded from the artifact store after its bytes have been verified against their digest,
but it runs whatever code the step's objects bring, like any pickle.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from steadyml.core.errors import UnsupportedDataError
from steadyml.core.fingerprints import canonical_json, sha256_hex, sha256_json
from steadyml.tracking import datasets as ds

# Part of every cache key: a change in how outputs are encoded invalidates earlier entries.
OUTPUT_FORMAT_VERSION = "steadyml-step-outputs-v1"
PICKLE_PROTOCOL = 5
_JSON_TYPES = (bool, int, float, str, type(None))


class ValueFormat(StrEnum):
    PANDAS = "parquet-pandas"
    ARROW = "parquet-arrow"
    JSON = "json"
    PICKLE = "pickle"


@dataclass(frozen=True)
class StoredValue:
    """Where a step output is and what it is: its blob, encoding and content fingerprint."""

    format: ValueFormat
    digest: str
    fingerprint: str
    size: int
    type: str

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format.value, "digest": self.digest,
                "fingerprint": self.fingerprint, "size": self.size, "type": self.type}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoredValue:
        return cls(ValueFormat(data["format"]), data["digest"], data["fingerprint"],
                   int(data["size"]), data["type"])


def encode(value: Any) -> tuple[bytes, ValueFormat, str]:
    """Return a value's bytes, their format, and the value's content fingerprint."""
    fmt, fp, prepared = identify(value)
    return serialise(prepared, fmt), fmt, fp


def identify(value: Any) -> tuple[ValueFormat, str, Any]:
    """Return a value's format and content fingerprint, and what `serialise` encodes.

    For tables the fingerprint comes before (and without) the Parquet encoding, so a table
    already stored can be found by it and not encoded again.
    """
    if isinstance(value, _JSON_TYPES):
        data = canonical_json(value).encode()
        return ValueFormat.JSON, f"json:{sha256_hex(data)}", data
    table = _as_arrow(value)
    fp = None
    if table is not None:
        try:
            fp = ds.fingerprint(ds.normalise(table))
        except UnsupportedDataError:  # nested columns: stored and fingerprinted as a pickle
            fp = None
    if table is not None and fp is not None:
        fmt = ValueFormat.ARROW if _is_arrow(value) else ValueFormat.PANDAS
        if fmt is ValueFormat.ARROW:
            table = table.replace_schema_metadata(None)
        return fmt, f"dataset:{fp}", table
    data = pickle.dumps(value, protocol=PICKLE_PROTOCOL)
    return ValueFormat.PICKLE, f"sha256:{sha256_hex(data)}", data


def serialise(prepared: Any, fmt: ValueFormat) -> bytes:
    """Return the bytes of what `identify` prepared."""
    if fmt in (ValueFormat.PANDAS, ValueFormat.ARROW):
        return _parquet(prepared)
    return prepared


def decode(data: bytes, fmt: ValueFormat) -> Any:
    """Return the value a verified blob holds."""
    if fmt is ValueFormat.JSON:
        import json

        return json.loads(data)
    if fmt in (ValueFormat.PANDAS, ValueFormat.ARROW):
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        return table.to_pandas() if fmt is ValueFormat.PANDAS else table
    return pickle.loads(data)  # noqa: S301 - verified blob the platform wrote itself


def fingerprint_param(value: Any) -> str:
    """Return the fingerprint of a param value (JSON data) or of a parameter's default."""
    try:
        return f"json:{sha256_json(value)}"
    except (TypeError, ValueError):
        return encode(value)[2]


def type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _is_arrow(value: Any) -> bool:
    import sys

    pa = sys.modules.get("pyarrow")
    return pa is not None and isinstance(value, pa.Table | pa.RecordBatch)


def _as_arrow(value: Any) -> Any:
    """Return a DataFrame or Arrow value as an Arrow table, or None for other values."""
    import sys

    import pyarrow as pa

    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    pd = sys.modules.get("pandas")
    if pd is None or not isinstance(value, pd.DataFrame):
        return None
    if not all(isinstance(c, str) for c in value.columns):
        return None  # Parquet needs string column names; a pickle keeps the frame as it is
    try:
        # The pandas metadata (index, dtypes) goes into the file, so the frame reads back
        # as it was; a non-default index is also a column, and so part of the fingerprint.
        return pa.Table.from_pandas(value)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError):
        return None


def _parquet(table: Any) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # Snappy, and dictionaries only for non-float columns: floats rarely repeat, and building
    # their dictionaries was most of the write (1M x 21 floats: 0.97 s with zstd, 0.17 s now).
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="snappy", store_schema=True,
                   use_dictionary=[f.name for f in table.schema
                                   if not pa.types.is_floating(f.type)])
    return sink.getvalue().to_pybytes()
