"""Model signatures: the columns a model reads and the outputs it returns.

A signature is inferred from training data and predictions, stored as JSON with a model version,
and checked at serving time: `to_frame` and `to_matrix` turn incoming data into exactly what the
model was trained on, or raise one `SignatureMismatchError` that lists every problem at once.

Data is read column by column without per-row Python loops: numpy for numbers and booleans,
pyarrow to work out the type of object columns, lists, and Arrow data.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from steadyml.core.errors import InvalidInputError, SignatureMismatchError, UnsupportedDataError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

_ACCEPTED_DATA = ("a pandas DataFrame, a pyarrow Table, a dict of column name -> values, "
                  "or a 2-D numpy array")


class DType(StrEnum):
    FLOAT64 = "float64"
    FLOAT32 = "float32"
    INT64 = "int64"
    INT32 = "int32"
    BOOL = "bool"
    STRING = "string"


_FLOATS = frozenset({DType.FLOAT64, DType.FLOAT32})
_INTS = frozenset({DType.INT64, DType.INT32})
_NUMPY: dict[DType, type[np.generic]] = {
    DType.FLOAT64: np.float64, DType.FLOAT32: np.float32, DType.INT64: np.int64,
    DType.INT32: np.int32, DType.BOOL: np.bool_,
}
_INT_BOUNDS = {DType.INT64: (-(2**63), 2**63), DType.INT32: (-(2**31), 2**31)}  # [low, high)


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: DType
    nullable: bool = False

    def describe(self) -> str:
        return f"{self.name} ({self.dtype}{', nullable' if self.nullable else ''})"


@dataclass(frozen=True)
class Signature:
    """The input columns a model expects, in order, and the outputs it returns."""

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = ()

    def __post_init__(self) -> None:
        for kind, specs in (("input", self.inputs), ("output", self.outputs)):
            names = [spec.name for spec in specs]
            duplicates = sorted({name for name in names if names.count(name) > 1})
            if duplicates:
                raise InvalidInputError(f"A signature has duplicate {kind} columns {duplicates}. "
                                        "Give every column a unique name.")

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.inputs)

    def to_dict(self) -> dict[str, list[dict[str, Any]]]:
        """Return a JSON-serialisable form that `from_dict` reads back."""
        return {"inputs": [_spec_dict(spec) for spec in self.inputs],
                "outputs": [_spec_dict(spec) for spec in self.outputs]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Signature:
        return cls(inputs=_specs_from(d.get("inputs"), "inputs"),
                   outputs=_specs_from(d.get("outputs", []), "outputs"))

    @classmethod
    def infer(cls, inputs: Any, outputs: Any = None) -> Signature:
        """Infer a signature from training inputs and, optionally, the model's predictions.

        A 2-D array's columns are named f0..f{n-1}; 1-D predictions become one column
        `prediction`, 2-D ones `prediction_0`...; a column is nullable if it held any null or NaN.
        """
        if isinstance(inputs, np.ndarray) and inputs.ndim != 2:
            raise UnsupportedDataError(f"Cannot infer a signature from a {inputs.ndim}-D array. "
                                       "Give the training inputs as a 2-D array of rows.")
        input_specs = _infer_specs(inputs, "f")
        if outputs is None:
            return cls(inputs=input_specs)
        if isinstance(outputs, (list, tuple)):
            outputs = np.asarray(outputs)
        pd = sys.modules.get("pandas")
        if ((pd is not None and isinstance(outputs, pd.Series))
                or (isinstance(outputs, np.ndarray) and outputs.ndim == 1)):
            outputs = {"prediction": outputs}
        elif isinstance(outputs, np.ndarray) and outputs.ndim != 2:
            raise UnsupportedDataError(f"Cannot infer outputs from a {outputs.ndim}-D array of "
                                       "predictions. Give 1-D or 2-D predictions.")
        return cls(inputs=input_specs, outputs=_infer_specs(outputs, "prediction_"))

    def to_frame(self, data: Any) -> pd.DataFrame:
        """Check `data` against the inputs; return a DataFrame of them in signature order.

        Numbers are cast to the signature's dtype; a nullable integer or boolean column becomes
        float64 with NaN for nulls. String columns keep their representation (object, str or
        category). A pandas input keeps its index.
        """
        try:
            import pandas as pd
        except ImportError as exc:
            raise UnsupportedDataError("to_frame needs pandas, which is not installed. Install it "
                                       "with pip install 'steadyml[sklearn]', or use "
                                       "to_matrix.") from exc
        columns, n_rows, index = self._matched(data)
        values = {spec.name: _string_values(col, n_rows) if spec.dtype == DType.STRING
                  else _numbers(col, spec, n_rows)
                  for spec, col in zip(self.inputs, columns, strict=True)}
        return pd.DataFrame(values, index=index if index is not None else pd.RangeIndex(n_rows))

    def to_matrix(self, data: Any) -> np.ndarray:
        """Check `data` against the numeric inputs; return a 2-D array in signature order.

        Its dtype is the common dtype of the inputs (float64 when a nullable integer or boolean
        input has to hold NaN). A 1-D array of as many values as inputs is read as one row.
        """
        dtype = self._matrix_dtype()
        columns, n_rows, _ = self._matched(data)
        if isinstance(data, np.ndarray) and data.dtype.kind in "fiub":
            rows = data.reshape(1, -1) if data.ndim == 1 else data
            return rows.astype(dtype, copy=False)   # already checked, and in signature order
        # Filling a Fortran-ordered matrix writes each column contiguously: ~10x faster.
        matrix = np.empty((n_rows, len(self.inputs)), dtype=dtype, order="F")
        for j, (spec, col) in enumerate(zip(self.inputs, columns, strict=True)):
            matrix[:, j] = _numbers(col, spec, n_rows)
        return matrix

    def _matrix_dtype(self) -> np.dtype[Any]:
        strings = [spec.name for spec in self.inputs if spec.dtype == DType.STRING]
        if strings:
            raise UnsupportedDataError(f"The signature has string inputs {strings}, which a "
                                       "numeric matrix cannot hold. Use to_frame() instead.")
        if not self.inputs:
            return np.dtype(np.float64)
        return np.result_type(*(_output_dtype(spec) for spec in self.inputs))

    def _matched(self, data: Any) -> tuple[list[_Column], int, Any]:
        """Read `data`; return its columns in signature order, its row count and pandas index."""
        expected = self.feature_names
        if isinstance(data, np.ndarray) and data.ndim == 1:
            if len(data) != len(expected):
                raise SignatureMismatchError(
                    f"A 1-D array is read as one row, but it has {len(data)} values and the "
                    f"signature has {len(expected)} inputs: {_listing(self.inputs)}.")
            data = data.reshape(1, -1)
        names, raws, index = _raw_columns(data)
        if names is None:                              # a 2-D array: columns are positional
            if len(raws) != len(expected):
                raise SignatureMismatchError(
                    f"The array has {len(raws)} columns but the signature has {len(expected)} "
                    f"inputs: {_listing(self.inputs)}. Send one column per input, in this order.")
            names = list(expected)
        given = dict(zip(names, raws, strict=True))
        problems = []
        if missing := [name for name in expected if name not in given]:
            problems.append(f"missing columns {_quoted(missing)}")
        known = set(expected)
        if extra := [name for name in names if name not in known]:
            problems.append(f"unexpected columns {_quoted(extra)}")
        columns: list[_Column] = []
        for spec in self.inputs:
            if spec.name not in given:
                continue
            try:
                col = _read_column(spec.name, given[spec.name])
            except _UnreadableColumn as exc:
                problems.append(str(exc))
                continue
            problems.extend(_column_problems(spec, col))
            columns.append(col)
        lengths = {len(col.values) for col in columns}
        if len(lengths) > 1:
            problems.append(f"columns have different lengths {sorted(lengths)}")
        if problems:
            raise SignatureMismatchError(
                f"Data does not match the model signature ({len(problems)} "
                f"problem{'s' if len(problems) > 1 else ''}): {'; '.join(problems)}. "
                f"The signature expects {_listing(self.inputs)}.")
        return columns, lengths.pop() if lengths else 0, index


@dataclass(frozen=True)
class _Column:
    values: Any           # np.ndarray for numbers and booleans (NaN marks nulls); else as given
    dtype: DType | None   # None: every value is null, so any dtype fits
    nulls: int
    source: str           # the dtype as the caller gave it, for messages


class _UnreadableColumn(Exception):
    """A column's dtype has no DType; the message is a phrase naming the column and dtype."""


def _spec_dict(spec: ColumnSpec) -> dict[str, Any]:
    return {"name": spec.name, "dtype": spec.dtype.value, "nullable": spec.nullable}


def _specs_from(items: Any, key: str) -> tuple[ColumnSpec, ...]:
    if not isinstance(items, list):
        raise InvalidInputError(f"A signature's {key!r} must be a list of columns, not {items!r}.")
    specs = []
    for item in items:
        try:
            specs.append(ColumnSpec(name=str(item["name"]), dtype=DType(item["dtype"]),
                                    nullable=bool(item.get("nullable", False))))
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInputError(
                f"Signature column {item!r} is malformed ({exc}). Each needs a 'name' and a "
                f"'dtype', one of {[d.value for d in DType]}, and optionally 'nullable'.") from exc
    return tuple(specs)


def _infer_specs(data: Any, prefix: str) -> tuple[ColumnSpec, ...]:
    names, raws, _ = _raw_columns(data)
    if names is None:
        names = [f"{prefix}{i}" for i in range(len(raws))]
    specs = []
    for name, raw in zip(names, raws, strict=True):
        try:
            col = _read_column(name, raw)
        except _UnreadableColumn as exc:
            raise UnsupportedDataError(f"Cannot infer a signature: {exc}. Convert it to numbers, "
                                       "booleans or strings, or drop it.") from None
        if col.dtype is None:
            raise UnsupportedDataError(f"Cannot infer a signature: column {name!r} holds only "
                                       "nulls, so its dtype is unknown. Give data with values in "
                                       "it, or write the signature by hand.")
        specs.append(ColumnSpec(name=name, dtype=col.dtype, nullable=col.nulls > 0))
    return tuple(specs)


def _raw_columns(data: Any) -> tuple[list[str] | None, list[Any], Any]:
    """Split data into column names (None for a 2-D array), raw columns and a pandas index."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, pd.DataFrame):
        if not data.columns.is_unique:
            duplicates = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
            raise UnsupportedDataError(f"The DataFrame has duplicate columns {duplicates}. "
                                       "Give every column a unique name.")
        return [str(name) for name in data.columns], [s for _, s in data.items()], data.index
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(data, (pa.Table, pa.RecordBatch)):
        return list(data.column_names), list(data.columns), None
    if isinstance(data, Mapping):
        return [str(name) for name in data], list(data.values()), None
    if isinstance(data, np.ndarray) and data.ndim == 2:
        return None, [data[:, j] for j in range(data.shape[1])], None
    shape = f" of shape {data.shape}" if isinstance(data, np.ndarray) else ""
    raise UnsupportedDataError(f"Cannot read data of type {type(data).__name__}{shape}. "
                               f"Give {_ACCEPTED_DATA}.")


def _read_column(name: str, raw: Any) -> _Column:
    """Work out a column's DType and null count; numbers and booleans come back as numpy."""
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(raw, pd.Series):
        if isinstance(raw.dtype, np.dtype):
            col = _from_numpy(name, raw.to_numpy())
        else:                                        # nullable, string, categorical, arrow...
            col = _from_arrow(name, _to_arrow(name, raw, str(raw.dtype)), str(raw.dtype))
        return _Column(raw.array, col.dtype, col.nulls, col.source) \
            if col.dtype == DType.STRING else col
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(raw, (pa.Array, pa.ChunkedArray)):
        return _from_arrow(name, raw, str(raw.type))
    if isinstance(raw, (np.generic, np.ndarray)) and np.ndim(raw) == 0:
        raw = [raw.item()]
    elif raw is None or isinstance(raw, (str, bytes, int, float)):
        raw = [raw]                                  # one value: a single row
    if isinstance(raw, np.ndarray):
        if raw.ndim != 1:
            raise _UnreadableColumn(f"column {name!r} has {raw.ndim} dimensions instead of 1")
        return _from_numpy(name, raw)
    if isinstance(raw, Sequence) and not isinstance(raw, (str, bytes)):
        return _from_arrow(name, _to_arrow(name, raw, "list"), "list")
    raise _UnreadableColumn(f"column {name!r} is a {type(raw).__name__}, not a 1-D sequence")


def _from_numpy(name: str, values: np.ndarray) -> _Column:
    kind, source = values.dtype.kind, str(values.dtype)
    if kind == "f":
        dtype = DType.FLOAT32 if values.dtype == np.float32 else DType.FLOAT64
        return _Column(values, dtype, int(np.count_nonzero(np.isnan(values))), source)
    if kind in "iu":
        if values.dtype == np.uint64 and values.size and values.max() > np.iinfo(np.int64).max:
            # Above int64's range: read as float so the cast check reports it, not wraps it.
            return _Column(values.astype(np.float64), DType.FLOAT64, 0, source)
        return _Column(values, DType.INT32 if values.dtype == np.int32 else DType.INT64, 0, source)
    if kind == "b":
        return _Column(values, DType.BOOL, 0, source)
    if kind in "US":
        return _Column(values, DType.STRING, 0, source)
    if kind == "O":
        return _from_arrow(name, _to_arrow(name, values, source), source)
    raise _UnreadableColumn(f"column {name!r} has dtype {source}, which signatures do not support")


def _to_arrow(name: str, values: Any, source: str) -> pa.Array:
    import pyarrow as pa

    try:
        return pa.array(values, from_pandas=True)    # from_pandas: NaN counts as null
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _UnreadableColumn(f"column {name!r} ({source}) mixes value types ({exc})") from None


def _from_arrow(name: str, arr: pa.Array | pa.ChunkedArray, source: str) -> _Column:
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    kind = arr.type
    if pa.types.is_dictionary(kind):
        if _is_string(kind.value_type):
            return _Column(arr, DType.STRING, arr.null_count, source)
        arr = arr.dictionary_decode()
        kind = arr.type
    if pa.types.is_null(kind):
        return _Column(np.full(len(arr), np.nan), None, len(arr), source)
    if _is_string(kind):
        return _Column(arr, DType.STRING, arr.null_count, source)
    if pa.types.is_floating(kind):
        dtype = DType.FLOAT32 if pa.types.is_float32(kind) else DType.FLOAT64
        nans = pc.sum(pc.is_nan(arr)).as_py() or 0   # Arrow keeps NaN apart from null
        values = arr.to_numpy(zero_copy_only=False)
        if pa.types.is_float16(kind):
            values = values.astype(np.float64)
        return _Column(values, dtype, arr.null_count + nans, source)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        dtype = (DType.BOOL if pa.types.is_boolean(kind)
                 else DType.INT32 if pa.types.is_int32(kind) else DType.INT64)
        if arr.null_count:                           # numpy ints and bools cannot hold a null
            arr = pc.cast(arr, pa.float64())
        return _Column(arr.to_numpy(zero_copy_only=False), dtype, arr.null_count, source)
    held = f" holding {kind}" if str(kind) != source else ""
    raise _UnreadableColumn(f"column {name!r} has dtype {source}{held}, which signatures do not "
                            "support")


def _is_string(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_string_view(kind))


def _column_problems(spec: ColumnSpec, col: _Column) -> list[str]:
    problems = []
    if col.dtype is not None and (reason := _cast_problem(col, spec.dtype)):
        problems.append(f"column {spec.name!r} has {reason}")
    if col.nulls and not spec.nullable:
        plural = "s" if col.nulls > 1 else ""
        problems.append(f"column {spec.name!r} has {col.nulls} null value{plural} but the "
                        "signature does not allow nulls")
    return problems


def _cast_problem(col: _Column, expected: DType) -> str | None:
    """Say why the column cannot be cast to `expected` without changing a value, or None."""
    actual = col.dtype
    assert actual is not None
    if actual == expected or (expected in _FLOATS and actual != DType.STRING):
        return None                                  # numbers and booleans widen to floats
    if expected not in _INTS or actual == DType.STRING:
        given = f" (given as {col.source})" if col.source != actual else ""
        return f"dtype {actual}{given} where the signature expects {expected}"
    values = col.values
    if actual in _FLOATS:
        with np.errstate(invalid="ignore"):
            if not np.all(np.isnan(values) | (np.trunc(values) == values)):
                return (f"{actual} values that are not whole numbers where the signature "
                        f"expects {expected}")
    if actual != DType.BOOL and not _in_range(values, expected):
        return f"{actual} values outside the {expected} range"
    return None


def _in_range(values: np.ndarray, expected: DType) -> bool:
    if values.dtype.kind in "iu" and np.can_cast(values.dtype, _NUMPY[expected]):
        return True
    present = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    if not present.size:
        return True
    low, high = _INT_BOUNDS[expected]
    # Compare as Python numbers, exactly: float(2**63 - 1) would round up to 2**63.
    return bool(low <= present.min().item() and present.max().item() < high)


def _output_dtype(spec: ColumnSpec) -> type[np.generic]:
    if spec.nullable and spec.dtype not in _FLOATS:
        return np.float64                            # the only way to carry NaN for a null
    return _NUMPY[spec.dtype]


def _numbers(col: _Column, spec: ColumnSpec, n_rows: int) -> np.ndarray:
    if col.dtype is None:
        return np.full(n_rows, np.nan, dtype=_output_dtype(spec))
    return np.asarray(col.values).astype(_output_dtype(spec), copy=False)


def _string_values(col: _Column, n_rows: int) -> Any:
    import pyarrow as pa

    if col.dtype is None:
        return np.full(n_rows, None, dtype=object)
    if isinstance(col.values, pa.Array):
        return col.values.to_pandas().array          # positional: no index to align on
    return col.values


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(name) for name in names)


def _listing(specs: tuple[ColumnSpec, ...], limit: int = 20) -> str:
    shown = ", ".join(spec.describe() for spec in specs[:limit])
    return shown + (f" and {len(specs) - limit} more" if len(specs) > limit else "")
