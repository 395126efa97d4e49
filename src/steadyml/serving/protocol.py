"""The Open Inference Protocol (KServe V2) REST codec: infer request bodies in, responses out.

`SignatureCodec` is built once per served model. It turns an infer request body into exactly
the features the model's signature describes, or raises one `ProtocolError` naming the field at
fault. A request gives its batch in one of two forms:

- one tensor per signature input, named after it, each of shape [n] or [n, 1];
- one tensor of any other name holding the whole batch, shape [n, k] in signature column order
  (data flat row-major or nested), or [k] for a single row.

This is an inference server's hot path, so values are checked a whole tensor at a time at C
speed (`set(map(type, data))`, one `np.asarray`), never element by element in Python. A
signature of float inputs becomes a matrix here directly; other signatures go through
`Signature.to_matrix` / `to_frame`, and pandas is touched only for string inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from steadyml.core.errors import InvalidInputError, SignatureMismatchError
from steadyml.registry.signatures import DType, Signature

if TYPE_CHECKING:
    import pandas as pd

MAX_BODY_BYTES = 8 * 1024 * 1024


class V2Datatype(StrEnum):
    BOOL = "BOOL"
    UINT8 = "UINT8"
    UINT16 = "UINT16"
    UINT32 = "UINT32"
    UINT64 = "UINT64"
    INT8 = "INT8"
    INT16 = "INT16"
    INT32 = "INT32"
    INT64 = "INT64"
    FP16 = "FP16"
    FP32 = "FP32"
    FP64 = "FP64"
    BYTES = "BYTES"


_V2_DATATYPES_ORDERED = tuple(d.value for d in V2Datatype)
_V2_DATATYPES = frozenset(_V2_DATATYPES_ORDERED)
# StrEnum members hash and compare as their strings, so raw JSON strings are looked up directly.
_FLOATING = frozenset({V2Datatype.FP16, V2Datatype.FP32, V2Datatype.FP64})
_INTEGER_BOUNDS = {                                   # [low, high), compared as exact Python ints
    V2Datatype.INT8: (-(2**7), 2**7), V2Datatype.INT16: (-(2**15), 2**15),
    V2Datatype.INT32: (-(2**31), 2**31), V2Datatype.INT64: (-(2**63), 2**63),
    V2Datatype.UINT8: (0, 2**8), V2Datatype.UINT16: (0, 2**16),
    V2Datatype.UINT32: (0, 2**32), V2Datatype.UINT64: (0, 2**64),
}
_INTEGER = frozenset(_INTEGER_BOUNDS)
_NUMBER = _FLOATING | _INTEGER
_ACCEPTS: dict[DType, frozenset[str]] = {
    DType.FLOAT64: _NUMBER, DType.FLOAT32: _NUMBER, DType.INT64: _INTEGER, DType.INT32: _INTEGER,
    DType.BOOL: frozenset({V2Datatype.BOOL}), DType.STRING: frozenset({V2Datatype.BYTES}),
}
_V2_OF: dict[DType, V2Datatype] = {
    DType.FLOAT64: V2Datatype.FP64, DType.FLOAT32: V2Datatype.FP32, DType.INT64: V2Datatype.INT64,
    DType.INT32: V2Datatype.INT32, DType.BOOL: V2Datatype.BOOL, DType.STRING: V2Datatype.BYTES,
}
_V2_OF_NUMPY: dict[np.dtype[Any], V2Datatype] = {   # keyed by dtype: dtype.name costs 2 µs
    np.dtype(name): datatype for name, datatype in (
        ("bool", V2Datatype.BOOL), ("uint8", V2Datatype.UINT8), ("uint16", V2Datatype.UINT16),
        ("uint32", V2Datatype.UINT32), ("uint64", V2Datatype.UINT64), ("int8", V2Datatype.INT8),
        ("int16", V2Datatype.INT16), ("int32", V2Datatype.INT32), ("int64", V2Datatype.INT64),
        ("float16", V2Datatype.FP16), ("float32", V2Datatype.FP32),
        ("float64", V2Datatype.FP64))}
_FLOAT_DTYPES = frozenset({DType.FLOAT64, DType.FLOAT32})
_NUMERIC_DTYPES = _FLOAT_DTYPES | {DType.INT64, DType.INT32}
_NUMBERS = frozenset({int, float})
_NONE = type(None)
_PARAMETER_TYPES = frozenset({str, int, float, bool})
_KINDS = {bool: "booleans", str: "strings", list: "nested lists", dict: "objects",
          _NONE: "nulls", int: "numbers", float: "numbers"}


class ProtocolError(InvalidInputError):
    """A request breaks the Open Inference Protocol or the model's signature.

    `status` is the HTTP status to answer with; `field` locates the fault in the request body
    (e.g. "inputs[2].datatype"), or is None when the body as a whole is at fault.
    """

    def __init__(self, message: str, *, status: int = 400, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True, slots=True)
class InferRequest:
    """A decoded infer request: its features are checked against the model's signature."""

    id: str | None
    rows: int
    features: np.ndarray | pd.DataFrame   # matrix for numeric signatures, else a DataFrame
    parameters: dict[str, Any]
    requested_outputs: tuple[str, ...] = ()   # names from the request's "outputs", if any


# A tensor as read from the body: name, shape, datatype, data, position in "inputs".
_Tensor = tuple[str, list[int], str, list[Any], int]


class SignatureCodec:
    """Decode infer request bodies for one signature; build one per served model and reuse it."""

    def __init__(self, signature: Signature) -> None:
        if not signature.inputs:
            raise InvalidInputError("The signature has no inputs, so no request can match it. "
                                    "Register the model with a signature that lists its inputs.")
        self.signature = signature
        specs = signature.inputs
        self._names = signature.feature_names
        self._index = {name: j for j, name in enumerate(self._names)}
        self._accepts = tuple(_ACCEPTS[spec.dtype] for spec in specs)
        self._not_nullable = np.array([not spec.nullable for spec in specs], dtype=bool)
        dtypes = {spec.dtype for spec in specs}
        self._floats_only = dtypes <= _FLOAT_DTYPES      # built here, without the signature
        self._matrix_dtype = np.dtype(np.float32 if dtypes == {DType.FLOAT32} else np.float64)
        self._strings = DType.STRING in dtypes
        self._batch_accepts = _batch_datatypes(dtypes)

    def decode(self, body: bytes, *, max_bytes: int = MAX_BODY_BYTES) -> InferRequest:
        """Read an infer request body; raise `ProtocolError` if it is malformed or off-signature."""
        if len(body) > max_bytes:
            raise ProtocolError(f"The request body is {len(body)} bytes, over the limit of "
                                f"{max_bytes}. Split the batch into smaller requests.", status=413)
        request = _loads(body)
        if type(request) is not dict:
            raise ProtocolError(f"The request body is {_kind_of(request)}, not a JSON object. "
                                'Send {"inputs": [...]} as the Open Inference Protocol describes.')
        request_id = request.get("id")
        if request_id is not None and type(request_id) is not str:
            raise ProtocolError(f'"id" is {_kind_of(request_id)}; it must be a string.',
                                field="id")
        parameters = _parameters(request.get("parameters"), "parameters")
        requested = _requested_outputs(request.get("outputs"))
        inputs = request.get("inputs")
        if type(inputs) is not list or not inputs:
            raise ProtocolError('"inputs" must be a non-empty list of tensors, one per model '
                                f"input ({self._listing()}) or one [n, {len(self._names)}] "
                                f"tensor; got {_kind_of(inputs)}.", field="inputs")
        tensors = [_tensor(raw, i) for i, raw in enumerate(inputs)]
        if len(tensors) == 1 and self._is_batch(tensors[0]):
            rows, features = self._decode_batch(tensors[0])
        else:
            rows, features = self._decode_columns(tensors)
        return InferRequest(id=request_id, rows=rows, features=features, parameters=parameters,
                            requested_outputs=requested)

    def _is_batch(self, tensor: _Tensor) -> bool:
        name, shape = tensor[0], tensor[1]
        k = len(self._names)
        return name not in self._index or (k > 1 and len(shape) == 2 and shape[1] == k)

    def _decode_batch(self, tensor: _Tensor) -> tuple[int, Any]:
        name, shape, datatype, data, i = tensor
        k = len(self._names)
        if len(shape) == 2 and shape[1] == k:
            rows = shape[0]
        elif len(shape) == 1 and (shape[0] == k or k == 1):
            rows = 1 if k > 1 else shape[0]
        else:
            raise ProtocolError(
                f"{_input(name, i)} is not named after a model input, so it is read as the whole "
                f"batch, which needs shape [n, {k}] (or [{k}] for one row), but its shape is "
                f"{shape}. Send shape [n, {k}], or one tensor per input: {self._listing()}.",
                field=f"inputs[{i}].shape")
        if datatype not in self._batch_accepts:
            raise ProtocolError(self._batch_datatype_problem(_input(name, i), datatype),
                                field=f"inputs[{i}].datatype")
        flat = _flatten(data, shape, name, i)
        if rows == 0:
            raise ProtocolError(f"{_input(name, i)} has no rows. Send at least one row.",
                                field=f"inputs[{i}].shape")
        if self._floats_only and datatype in _FLOATING and set(map(type, flat)) <= _NUMBERS:
            return rows, np.asarray(flat, dtype=self._matrix_dtype).reshape(rows, k)  # hot path
        values = _values(flat, datatype, name, i)
        if self._floats_only:
            matrix = values.astype(self._matrix_dtype, copy=False).reshape(rows, k)
            bad = np.isnan(matrix).any(axis=0) & self._not_nullable
            if bad.any():
                names = [self._names[j] for j in np.flatnonzero(bad)]
                raise ProtocolError(f"{_input(name, i)} has nulls in column"
                                    f"{'s' * (len(names) > 1)} {_quoted(names)}, which the "
                                    "model's signature does not allow to be null. Send a value "
                                    "for every row.", field=f"inputs[{i}].data")
            return rows, matrix
        if isinstance(values, list):                 # booleans with nulls, or strings
            values = np.array(values, dtype=object)
        return rows, self._finish(values.reshape(rows, k))

    def _decode_columns(self, tensors: list[_Tensor]) -> tuple[int, Any]:
        given: dict[str, _Tensor] = {}
        for tensor in tensors:
            name, i = tensor[0], tensor[4]
            if name not in self._index:
                raise ProtocolError(f"{_input(name, i)} is not an input of the model, whose "
                                    f"inputs are {self._listing()}.", field=f"inputs[{i}].name")
            if name in given:
                raise ProtocolError(f"Input {name!r} appears twice (inputs[{given[name][4]}] and "
                                    f"inputs[{i}]). Send each input once.",
                                    field=f"inputs[{i}].name")
            given[name] = tensor
        if len(given) < len(self._names):
            missing = [name for name in self._names if name not in given]
            raise ProtocolError(f"The request is missing model input{'s' * (len(missing) > 1)} "
                                f"{_quoted(missing)}. Send one tensor per input "
                                f"({self._listing()}), or one [n, {len(self._names)}] tensor.",
                                field="inputs")
        ordered = [given[name] for name in self._names]
        rows = ordered[0][1][0] if ordered[0][1] else -1
        flats = []
        for accepts, (name, shape, datatype, data, i) in zip(self._accepts, ordered, strict=True):
            if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
                raise ProtocolError(f"{_input(name, i)} has shape {shape}; one tensor per input "
                                    "needs shape [n] or [n, 1].", field=f"inputs[{i}].shape")
            if shape[0] != rows:
                raise ProtocolError(f"{_input(name, i)} has {shape[0]} rows but input "
                                    f"{ordered[0][0]!r} has {rows}. Send every input with the "
                                    "same number of rows.", field=f"inputs[{i}].shape")
            if datatype not in accepts:
                raise ProtocolError(self._datatype_problem(name, i, datatype),
                                    field=f"inputs[{i}].datatype")
            if len(data) == rows and (not data or type(data[0]) is not list):
                flats.append(data)                   # flat already: _flatten would return it
            else:
                flats.append(_flatten(data, shape, name, i))
        if rows == 0:
            raise ProtocolError("The inputs have no rows. Send at least one row.",
                                field="inputs[0].shape")
        if self._floats_only and all(t[2] in _FLOATING for t in ordered):
            flat = list(chain.from_iterable(flats))
            if set(map(type, flat)) <= _NUMBERS:     # hot path: one array for every column
                return rows, np.asarray(flat, dtype=self._matrix_dtype).reshape(-1, rows).T
        columns: dict[str, Any] = {}
        for (name, _, datatype, _, i), flat, nullable in zip(
                ordered, flats, ~self._not_nullable, strict=True):
            columns[name] = values = _values(flat, datatype, name, i)
            if not nullable and isinstance(values, np.ndarray) and values.dtype.kind == "f" \
                    and (nulls := int(np.isnan(values).sum())):
                raise ProtocolError(
                    f"{_input(name, i)} has {nulls} null{'s' * (nulls > 1)}, but the model's "
                    "signature does not allow nulls in it. Send a value for every row.",
                    field=f"inputs[{i}].data")
        if self._floats_only:
            return rows, np.column_stack(list(columns.values())).astype(self._matrix_dtype,
                                                                        copy=False)
        return rows, self._finish(columns)

    def _finish(self, data: Any) -> np.ndarray | pd.DataFrame:
        """Cast checked values to the signature's dtypes; off-signature values become a 400."""
        try:
            if self._strings:
                return self.signature.to_frame(data)
            return self.signature.to_matrix(data)
        except SignatureMismatchError as exc:
            raise ProtocolError(str(exc), field="inputs") from None

    def _datatype_problem(self, name: str, i: int, datatype: str) -> str:
        j = self._index[name]
        return (f"{_input(name, i)} has datatype {datatype!r}, which does not fit the model's "
                f"{self.signature.inputs[j].dtype} input {name!r}. Send it as "
                f"{_choices(self._accepts[j])}.")

    def _batch_datatype_problem(self, where: str, datatype: str) -> str:
        if not self._batch_accepts:
            return (f"{where} holds the whole batch, but the model's inputs mix types "
                    f"({self._listing()}), which one tensor cannot carry. Send one tensor per "
                    "input instead.")
        return (f"{where} has datatype {datatype!r}, which does not fit the model's inputs "
                f"({self._listing()}). Send it as {_choices(self._batch_accepts)}.")

    def _listing(self, limit: int = 10) -> str:
        specs = self.signature.inputs
        shown = ", ".join(f"{spec.name!r} ({spec.dtype})" for spec in specs[:limit])
        return shown + (f" and {len(specs) - limit} more" if len(specs) > limit else "")


def decode_infer_request(body: bytes, signature: Signature, *,
                         max_bytes: int = MAX_BODY_BYTES) -> InferRequest:
    """Read an infer request body for `signature` (a server should hold a `SignatureCodec`)."""
    codec = _CODECS.get(id(signature))
    if codec is None or codec.signature is not signature:
        if len(_CODECS) >= 64:
            _CODECS.clear()
        codec = _CODECS[id(signature)] = SignatureCodec(signature)
    return codec.decode(body, max_bytes=max_bytes)


_CODECS: dict[int, SignatureCodec] = {}             # by id(): hashing a signature costs more


def encode_infer_response(*, model_name: str, model_version: str | None, request_id: str,
                          outputs: np.ndarray, output_names: Sequence[str] | None = None,
                          parameters: dict[str, Any] | None = None) -> bytes:
    """Return an infer response body: `outputs` as one tensor, or one per column if named so.

    With one name (default "predict") the whole array is one tensor of its shape. With several
    names, `outputs` must be 2-D with one column per name, and each column becomes a tensor.
    NaN and infinities are written as null, since JSON has no way to write them.
    """
    outputs = np.asarray(outputs)
    names = tuple(output_names) if output_names else ("predict",)
    if len(names) == 1:
        tensors = [_output_tensor(names[0], outputs)]
    elif outputs.ndim == 2 and outputs.shape[1] == len(names):
        tensors = [_output_tensor(name, outputs[:, j]) for j, name in enumerate(names)]
    else:
        raise InvalidInputError(f"{len(names)} output names {list(names)} need 2-D outputs with "
                                f"one column per name, but the outputs have shape "
                                f"{list(outputs.shape)}. Give one name, or one per column.")
    response: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        response["model_version"] = model_version
    response["id"] = request_id
    if parameters:
        response["parameters"] = parameters
    response["outputs"] = tensors
    return orjson.dumps(response, option=orjson.OPT_SERIALIZE_NUMPY)


def encode_error(message: str) -> bytes:
    """Return an error response body, {"error": message}, as the protocol prescribes."""
    return orjson.dumps({"error": message})


def model_metadata(*, name: str, versions: Sequence[str], platform: str,
                   signature: Signature) -> dict[str, Any]:
    """Return the model metadata response: one [-1] tensor (variable batch) per column."""
    return {"name": name, "versions": list(versions), "platform": platform,
            "inputs": [_metadata_tensor(spec.name, spec.dtype) for spec in signature.inputs],
            "outputs": [_metadata_tensor(spec.name, spec.dtype) for spec in signature.outputs]}


def v2_datatype(dtype: DType) -> str:
    """Return the protocol datatype that carries a signature dtype (FP64, INT32, BYTES...)."""
    return _V2_OF[dtype].value


def _batch_datatypes(dtypes: set[DType]) -> frozenset[str]:
    """Return the datatypes one [n, k] tensor may have: it carries one for every column."""
    if dtypes <= _NUMERIC_DTYPES:
        return _NUMBER                               # int columns still need whole numbers
    if dtypes == {DType.BOOL}:
        return frozenset({V2Datatype.BOOL})
    if dtypes == {DType.STRING}:
        return frozenset({V2Datatype.BYTES})
    return frozenset()                               # mixed kinds: one tensor per input


def _metadata_tensor(name: str, dtype: DType) -> dict[str, Any]:
    return {"name": name, "datatype": v2_datatype(dtype), "shape": [-1]}


def _output_tensor(name: str, values: np.ndarray) -> dict[str, Any]:
    if values.dtype.kind in "biuf" and not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    datatype = _V2_OF_NUMPY.get(values.dtype)
    if datatype is not None:
        data: Any = values.ravel()                   # contiguous, as orjson needs
    elif values.dtype.kind in "OUS":
        datatype, data = V2Datatype.BYTES, values.reshape(-1).tolist()
    else:
        raise InvalidInputError(f"Output {name!r} has dtype {values.dtype}, which the protocol "
                                "cannot carry. Return numbers, booleans or strings.")
    return {"name": name, "shape": list(values.shape), "datatype": datatype.value, "data": data}


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        at = exc.doc[exc.pos:exc.pos + 8] if isinstance(exc.doc, str) else ""
        if at.startswith(("NaN", "nan", "Infinity", "inf", "-Infinity")) \
                or "infinity" in exc.msg:            # e.g. 1e400, which overflows a double
            raise ProtocolError(f"The request body is not valid JSON at position {exc.pos}: "
                                "NaN/Infinity are not valid JSON numbers (nor is a number too "
                                "large for a double); send null for a missing value of a "
                                "nullable input, or a finite number.") from None
        raise ProtocolError(f"The request body is not valid JSON: {exc.msg} at position "
                            f"{exc.pos}. Send a JSON object as the Open Inference Protocol "
                            "describes.") from None


def _tensor(raw: Any, i: int) -> _Tensor:
    """Check one entry of "inputs" has a name, shape, datatype and data of the right types."""
    # Messages are built only on failure: this runs for every tensor of every request.
    if type(raw) is not dict:
        raise ProtocolError(f"inputs[{i}] is {_kind_of(raw)}; each input must be an object with "
                            "name, shape, datatype and data.", field=f"inputs[{i}]")
    name, shape, datatype, data = raw.get("name"), raw.get("shape"), raw.get("datatype"), \
        raw.get("data")
    if type(name) is not str or not name:
        raise ProtocolError(f"inputs[{i}] needs a \"name\" (a non-empty string); got "
                            f"{_kind_of(name)}.", field=f"inputs[{i}].name")
    if type(shape) is not list or not (
            (len(shape) == 1 and type(shape[0]) is int and shape[0] >= 0)   # common; 5x faster
            or all(type(d) is int and d >= 0 for d in shape)):
        raise ProtocolError(f"{_input(name, i)} needs a \"shape\", a list of non-negative "
                            f"integers; got {_kind_of(shape)}.", field=f"inputs[{i}].shape")
    if datatype not in _V2_DATATYPES:
        given = "no \"datatype\"" if datatype is None else f"datatype {datatype!r}"
        raise ProtocolError(f"{_input(name, i)} has {given}; it must be one of "
                            f"{', '.join(_V2_DATATYPES_ORDERED)}.", field=f"inputs[{i}].datatype")
    if type(data) is not list:
        given = "no \"data\"" if data is None else f"\"data\" of {_kind_of(data)}"
        raise ProtocolError(f"{_input(name, i)} has {given}; it must be a list of values, flat "
                            "in row-major order or nested.", field=f"inputs[{i}].data")
    if "parameters" in raw:
        _parameters(raw["parameters"], f"inputs[{i}].parameters")
    return name, shape, datatype, data, i



def _flatten(data: list[Any], shape: list[int], name: str, i: int) -> list[Any]:
    """Return the tensor's values flat in row-major order, checking they fill `shape`."""
    if data and type(data[0]) is list:
        if not (len(shape) == 2 and len(data) == shape[0] and set(map(type, data)) == {list}
                and set(map(len, data)) == {shape[1]}):
            raise ProtocolError(f"{_input(name, i)} has nested data that does not match its shape "
                                f"{shape}. Send rows of equal length matching the shape, or flat "
                                "data.", field=f"inputs[{i}].data")
        data = list(chain.from_iterable(data))
    if len(data) != (size := math.prod(shape)):
        raise ProtocolError(f"{_input(name, i)} has shape {shape}, which holds {size} value"
                            f"{'s' * (size != 1)}, but its data has {len(data)}. Make the "
                            "shape's product equal the number of values.",
                            field=f"inputs[{i}].data")
    return data


def _values(flat: list[Any], datatype: str, name: str, i: int) -> Any:
    """Check the values suit `datatype`; return a numpy array (NaN for null), or a list.

    A list comes back for strings and for booleans with nulls: the signature reads those.
    """
    types = set(map(type, flat))
    present = types - {_NONE}
    if datatype in _NUMBER:
        if present <= _NUMBERS:
            if datatype not in _INTEGER:
                return np.asarray(flat, dtype=np.float64)
            if types == {int}:                       # exact: numpy would infer a lossy float64
                least, most = min(flat), max(flat)
                _check_range(least, most, datatype, name, i)
                # Past int64 only a float input can take the value; float64 lets the
                # signature say so for an int input (it reads uint64 as int64 unchecked).
                return np.asarray(flat, dtype=np.int64 if most < 2**63 else np.float64)
            values = np.asarray(flat, dtype=np.float64)      # None becomes NaN
            present_values = values[~np.isnan(values)]
            if not np.array_equal(present_values, np.trunc(present_values)):
                raise ProtocolError(f"{_input(name, i)} is {datatype} but its data holds numbers "
                                    "that are not whole. Send whole numbers, or declare the "
                                    "tensor FP64.", field=f"inputs[{i}].data")
            if present_values.size:
                _check_range(present_values.min().item(), present_values.max().item(),
                             datatype, name, i)
            return values
        wanted = "numbers"
    elif datatype == V2Datatype.BOOL:
        if present <= {bool}:
            return np.asarray(flat, dtype=bool) if _NONE not in types else flat
        wanted = "booleans (true/false)"
    else:
        if present <= {str}:
            return flat
        wanted = "strings"
    found = sorted({_KINDS.get(t, t.__name__) for t in present})
    raise ProtocolError(f"{_input(name, i)} is {datatype} but its data holds "
                        f"{' and '.join(found)}; send {wanted}, or null for a missing value of a "
                        "nullable input.", field=f"inputs[{i}].data")


def _check_range(least: float, most: float, datatype: str, name: str, i: int) -> None:
    low, high = _INTEGER_BOUNDS[V2Datatype(datatype)]
    if not (low <= least and most < high):           # exact: Python ints and floats compare so
        raise ProtocolError(f"{_input(name, i)} has values outside the {datatype} range "
                            f"[{low}, {high - 1}]. Declare a wider datatype.",
                            field=f"inputs[{i}].data")


def _parameters(value: Any, at: str) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise ProtocolError(f'"{at}" is {_kind_of(value)}; it must be an object.', field=at)
    if value and not set(map(type, value.values())) <= _PARAMETER_TYPES:
        bad = next(k for k, v in value.items() if type(v) not in _PARAMETER_TYPES)
        raise ProtocolError(f'"{at}" has {bad!r}: {_kind_of(value[bad])}; a parameter must be '
                            "a string, number or boolean.", field=f"{at}.{bad}")
    return value


def _requested_outputs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if type(value) is not list or not all(type(o) is dict and type(o.get("name")) is str
                                          for o in value):
        raise ProtocolError('"outputs" must be a list of objects with a "name"; got '
                            f"{value!r:.100}.", field="outputs")
    return tuple(o["name"] for o in value)


def _input(name: str, i: int) -> str:
    return f"Input {name!r} (inputs[{i}])"


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    kind = {bool: "a boolean", str: "a string", list: "a list", dict: "an object",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
    return f"{kind} ({value!r:.60})"


def _choices(datatypes: frozenset[str]) -> str:
    ordered = [d for d in _V2_DATATYPES_ORDERED if d in datatypes]
    return ordered[0] if len(ordered) == 1 else f"{', '.join(ordered[:-1])} or {ordered[-1]}"


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names)
