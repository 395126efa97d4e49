"""The Open Inference Protocol (V2) REST codec: request forms, every rejection, responses."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from steadyml.core.errors import InvalidInputError
from steadyml.registry.signatures import ColumnSpec, DType, Signature
from steadyml.serving.protocol import (
    MAX_BODY_BYTES,
    InferRequest,
    ProtocolError,
    SignatureCodec,
    decode_infer_request,
    encode_error,
    encode_infer_response,
    model_metadata,
    v2_datatype,
)

FLOATS = Signature(inputs=(ColumnSpec("f1", DType.FLOAT64), ColumnSpec("f2", DType.FLOAT64),
                           ColumnSpec("f3", DType.FLOAT64, nullable=True)))
MIXED = Signature(inputs=(ColumnSpec("age", DType.INT64), ColumnSpec("income", DType.FLOAT64),
                          ColumnSpec("small", DType.INT32)))
TABULAR = Signature(inputs=(ColumnSpec("age", DType.INT64),
                            ColumnSpec("income", DType.FLOAT64, nullable=True),
                            ColumnSpec("city", DType.STRING),
                            ColumnSpec("member", DType.BOOL)))


def body(inputs: list[dict[str, Any]], **extra: Any) -> bytes:
    return orjson.dumps({"inputs": inputs, **extra})


def tensor(name: str, shape: list[int], data: list[Any], datatype: str = "FP64") -> dict[str, Any]:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def per_feature(rows: list[list[Any]], names: tuple[str, ...] = ("f1", "f2", "f3"),
                datatype: str = "FP64") -> list[dict[str, Any]]:
    return [tensor(name, [len(rows)], [row[j] for row in rows], datatype)
            for j, name in enumerate(names)]


def rejected(raw: bytes, signature: Signature = FLOATS, **kwargs: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        decode_infer_request(raw, signature, **kwargs)
    return caught.value


# -- the spec's shapes ------------------------------------------------------------------------

def test_a_request_shaped_like_the_spec_example_decodes() -> None:
    signature = Signature(inputs=(ColumnSpec("input0", DType.INT64),
                                  ColumnSpec("input1", DType.BOOL)))
    raw = orjson.dumps({"id": "42",
                        "inputs": [tensor("input0", [3], [1, 2, 3], "UINT32"),
                                   tensor("input1", [3], [True, False, True], "BOOL")],
                        "outputs": [{"name": "output0"}]})
    request = decode_infer_request(raw, signature)
    assert request == InferRequest(id="42", rows=3, features=request.features, parameters={},
                                   requested_outputs=("output0",))
    np.testing.assert_array_equal(request.features, [[1, 1], [2, 0], [3, 1]])
    assert request.features.dtype == np.int64


def test_the_spec_examples_inconsistent_request_is_rejected() -> None:
    # The spec's example gives input1 shape [3] but one value; a strict codec says so.
    signature = Signature(inputs=(ColumnSpec("input0", DType.INT64),
                                  ColumnSpec("input1", DType.BOOL)))
    example = {"id": "42",
               "inputs": [tensor("input0", [2, 2], [1, 2, 3, 4], "UINT32"),
                          tensor("input1", [3], [True], "BOOL")],
               "outputs": [{"name": "output0"}]}
    error = rejected(orjson.dumps(example), signature)
    assert error.field == "inputs[0].shape" and "'input0'" in str(error)
    example["inputs"][0] = tensor("input0", [3], [1, 2, 3], "UINT32")
    error = rejected(orjson.dumps(example), signature)
    assert error.field == "inputs[1].data"
    assert "'input1'" in str(error) and "holds 3 values, but its data has 1" in str(error)


def test_the_response_has_the_spec_shape() -> None:
    outputs = np.array([[1.0, 1.1], [2.0, 2.1], [3.0, 3.1]], dtype=np.float32)
    raw = encode_infer_response(model_name="mymodel", model_version="1", request_id="42",
                                outputs=outputs, output_names=["output0"])
    assert orjson.loads(raw) == {
        "model_name": "mymodel", "model_version": "1", "id": "42",
        "outputs": [{"name": "output0", "shape": [3, 2], "datatype": "FP32",
                     "data": [1.0, 1.1, 2.0, 2.1, 3.0, 3.1]}]}


def test_model_metadata_has_the_spec_shape() -> None:
    signature = Signature(inputs=TABULAR.inputs, outputs=(ColumnSpec("prediction", DType.INT64),))
    assert model_metadata(name="churn", versions=["3"], platform="sklearn_pickle",
                          signature=signature) == {
        "name": "churn", "versions": ["3"], "platform": "sklearn_pickle",
        "inputs": [{"name": "age", "datatype": "INT64", "shape": [-1]},
                   {"name": "income", "datatype": "FP64", "shape": [-1]},
                   {"name": "city", "datatype": "BYTES", "shape": [-1]},
                   {"name": "member", "datatype": "BOOL", "shape": [-1]}],
        "outputs": [{"name": "prediction", "datatype": "INT64", "shape": [-1]}]}


def test_v2_datatypes() -> None:
    assert {d: v2_datatype(d) for d in DType} == {
        DType.FLOAT64: "FP64", DType.FLOAT32: "FP32", DType.INT64: "INT64",
        DType.INT32: "INT32", DType.BOOL: "BOOL", DType.STRING: "BYTES"}


def test_errors_are_the_spec_error_body() -> None:
    assert orjson.loads(encode_error('bad "x"')) == {"error": 'bad "x"'}
    assert issubclass(ProtocolError, InvalidInputError) and issubclass(ProtocolError, ValueError)


# -- request forms ----------------------------------------------------------------------------

ROWS = [[1.5, -2.0, 3.25], [4.0, 5.5, -6.0]]


@pytest.mark.parametrize("inputs", [
    [tensor("input-0", [2, 3], [1.5, -2.0, 3.25, 4.0, 5.5, -6.0])],       # flat row-major
    [tensor("input-0", [2, 3], ROWS)],                                    # nested
    [tensor("input-0", [2, 3], [[1.5, -2, 3.25], [4, 5.5, -6]], "INT64")
     | {"datatype": "FP32"}],                                             # integers as numbers
    per_feature(ROWS),                                                    # one tensor per input
    [tensor(n, [2, 1], [[r[j]] for r in ROWS]) for j, n in enumerate(("f1", "f2", "f3"))],
    list(reversed(per_feature(ROWS))),                                    # any order
])
def test_every_form_gives_the_same_matrix(inputs: list[dict[str, Any]]) -> None:
    request = decode_infer_request(body(inputs), FLOATS)
    assert request.rows == 2 and request.features.dtype == np.float64
    np.testing.assert_array_equal(request.features, ROWS)


@pytest.mark.parametrize("shape", [[3], [1, 3]])
def test_a_single_row(shape: list[int]) -> None:
    request = decode_infer_request(body([tensor("x", shape, [1.0, 2.0, 3.0])]), FLOATS)
    np.testing.assert_array_equal(request.features, [[1.0, 2.0, 3.0]])


def test_a_single_input_model_takes_a_column() -> None:
    signature = Signature(inputs=(ColumnSpec("x", DType.FLOAT64),))
    for inputs in ([tensor("x", [3], [1, 2, 3])], [tensor("input-0", [3], [1, 2, 3])],
                   [tensor("input-0", [3, 1], [[1], [2], [3]])]):
        request = decode_infer_request(body(inputs), signature)
        np.testing.assert_array_equal(request.features, [[1.0], [2.0], [3.0]])


def test_id_parameters_and_nulls_in_nullable_inputs() -> None:
    raw = body(per_feature([[1.0, 2.0, None]]), id="r-1", parameters={"explain": True})
    request = decode_infer_request(raw, FLOATS)
    assert request.id == "r-1" and request.parameters == {"explain": True}
    np.testing.assert_array_equal(request.features, [[1.0, 2.0, np.nan]])
    batch = decode_infer_request(body([tensor("x", [3], [1.0, 2.0, None])]), FLOATS)
    np.testing.assert_array_equal(batch.features, [[1.0, 2.0, np.nan]])
    assert batch.id is None and batch.parameters == {} and batch.requested_outputs == ()


def test_float32_signature_gives_a_float32_matrix() -> None:
    signature = Signature(inputs=(ColumnSpec("a", DType.FLOAT32), ColumnSpec("b", DType.FLOAT32)))
    request = decode_infer_request(body([tensor("x", [1, 2], [0.1, 2])]), signature)
    assert request.features.dtype == np.float32
    np.testing.assert_array_equal(request.features, np.array([[0.1, 2]], dtype=np.float32))


def test_integer_and_mixed_signatures_go_through_the_signature() -> None:
    by_feature = [tensor("age", [2], [30, 41], "INT64"), tensor("income", [2], [1.5, 2], "FP32"),
                  tensor("small", [2], [7, 8], "UINT8")]
    batch = [tensor("x", [2, 3], [[30, 1.5, 7], [41, 2, 8]])]
    for inputs in (by_feature, batch):
        request = decode_infer_request(body(inputs), MIXED)
        np.testing.assert_array_equal(request.features, [[30, 1.5, 7], [41, 2.0, 8]])
        assert request.features.dtype == np.float64


def test_integers_stay_exact() -> None:
    signature = Signature(inputs=(ColumnSpec("a", DType.INT64), ColumnSpec("b", DType.FLOAT64)))
    big = 2**63 - 1                                  # a float64 would round it to 2**63
    request = decode_infer_request(body([tensor("x", [2, 2], [5, 1, 3, 2**64 - 1], "UINT64")]),
                                   signature)
    assert request.features.tolist() == [[5.0, 1.0], [3.0, float(2**64 - 1)]]
    by_feature = [tensor("a", [2], [big, -big], "INT64"), tensor("b", [2], [1, 2], "INT8")]
    exact = decode_infer_request(body(by_feature), Signature(inputs=(
        ColumnSpec("a", DType.INT64), ColumnSpec("b", DType.INT64))))
    assert exact.features.dtype == np.int64 and exact.features[:, 0].tolist() == [big, -big]


def test_string_inputs_give_a_dataframe() -> None:
    inputs = [tensor("age", [2], [30, 41], "INT64"), tensor("income", [2], [1.5, None]),
              tensor("city", [2], ["Oslo", "Lima"], "BYTES"),
              tensor("member", [2], [True, False], "BOOL")]
    request = decode_infer_request(body(inputs), TABULAR)
    expected = pd.DataFrame({"age": [30, 41], "income": [1.5, np.nan], "city": ["Oslo", "Lima"],
                             "member": [True, False]})
    frame = request.features
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == list(expected.columns)
    for name in expected:
        assert frame[name].tolist() == pytest.approx(expected[name].tolist(), nan_ok=True)
    assert frame["age"].dtype == np.int64 and frame["member"].dtype == np.bool_


def test_an_all_string_signature_takes_a_batch_tensor() -> None:
    signature = Signature(inputs=(ColumnSpec("a", DType.STRING), ColumnSpec("b", DType.STRING)))
    request = decode_infer_request(body([tensor("x", [2, 2], [["p", "q"], ["r", "s"]], "BYTES")]),
                                   signature)
    assert request.features.to_numpy().tolist() == [["p", "q"], ["r", "s"]]


def test_a_codec_is_reused_and_takes_a_byte_limit() -> None:
    codec = SignatureCodec(FLOATS)
    raw = body([tensor("x", [3], [1, 2, 3])])
    np.testing.assert_array_equal(codec.decode(raw).features, codec.decode(raw).features)
    assert rejected(raw, max_bytes=len(raw) - 1).status == 413
    assert MAX_BODY_BYTES >= 1 << 20


# -- rejections -------------------------------------------------------------------------------

def f(data: list[Any], datatype: str = "FP64", shape: list[int] | None = None,
      name: str = "x") -> bytes:
    """A batch-form body for FLOATS."""
    return body([tensor(name, shape or [1, 3], data, datatype)])


CASES: list[tuple[str, bytes, Signature, str | None, list[str]]] = [
    ("malformed JSON", b'{"inputs": [', FLOATS, None, ["not valid JSON"]),
    ("NaN literal", b'{"inputs": [{"name": "x", "shape": [3], "datatype": "FP64", '
                    b'"data": [1, NaN, 2]}]}', FLOATS, None, ["NaN/Infinity are not valid JSON"]),
    ("Infinity literal", b'{"inputs":[{"name":"x","shape":[3],"datatype":"FP64",'
                         b'"data":[Infinity,1,2]}]}', FLOATS, None, ["NaN/Infinity"]),
    ("-Infinity literal", b'{"inputs":[{"name":"x","shape":[3],"datatype":"FP64",'
                          b'"data":[1,-Infinity,2]}]}', FLOATS, None, ["NaN/Infinity"]),
    ("number overflowing a double", b'{"inputs":[{"name":"x","shape":[3],"datatype":"FP64",'
                                    b'"data":[1e400,1,2]}]}', FLOATS, None, ["NaN/Infinity"]),
    ("not UTF-8", b'{"id": "\xff"}', FLOATS, None, ["not valid JSON", "UTF-8"]),
    ("not an object", b"[1, 2]", FLOATS, None, ["not a JSON object"]),
    ("no inputs", b'{"id": "1"}', FLOATS, "inputs", ['"inputs"', "non-empty"]),
    ("empty inputs", b'{"inputs": []}', FLOATS, "inputs", ['"inputs"']),
    ("inputs not a list", b'{"inputs": {"name": "x"}}', FLOATS, "inputs", ['"inputs"']),
    ("tensor not an object", b'{"inputs": [3]}', FLOATS, "inputs[0]", ["inputs[0]"]),
    ("no name", body([{"shape": [3], "datatype": "FP64", "data": [1, 2, 3]}]), FLOATS,
     "inputs[0].name", ['"name"']),
    ("no shape", body([{"name": "x", "datatype": "FP64", "data": [1, 2, 3]}]), FLOATS,
     "inputs[0].shape", ["'x'", '"shape"']),
    ("negative shape", f([1, 2, 3], shape=[-1, 3]), FLOATS, "inputs[0].shape", ["'x'"]),
    ("no datatype", body([{"name": "x", "shape": [3], "data": [1, 2, 3]}]), FLOATS,
     "inputs[0].datatype", ["'x'", '"datatype"']),
    ("no data", body([{"name": "x", "shape": [3], "datatype": "FP64"}]), FLOATS,
     "inputs[0].data", ["'x'", '"data"']),
    ("unknown datatype", f([1, 2, 3], "FP128"), FLOATS, "inputs[0].datatype", ["'FP128'", "FP64"]),
    ("shape and data disagree", f([1, 2]), FLOATS, "inputs[0].data",
     ["[1, 3]", "holds 3 values", "has 2"]),
    ("ragged nested data", f([[1, 2, 3], [4, 5]], shape=[2, 3]), FLOATS, "inputs[0].data",
     ["nested data"]),
    ("batch of the wrong width", f([1, 2, 3, 4], shape=[1, 4]), FLOATS, "inputs[0].shape",
     ["'x'", "[n, 3]", "'f1'"]),
    ("strings as numbers", f(["1.5", 2, 3]), FLOATS, "inputs[0].data", ["FP64", "strings"]),
    ("booleans as numbers", f([True, False, True]), FLOATS, "inputs[0].data", ["booleans"]),
    ("objects as numbers", f([{"v": 1}, 2, 3]), FLOATS, "inputs[0].data", ["objects"]),
    ("too deeply nested", f([[1, [2], 3]], shape=[1, 3]), FLOATS, "inputs[0].data",
     ["nested lists"]),
    ("BYTES for float inputs", f(["a", "b", "c"], "BYTES"), FLOATS, "inputs[0].datatype",
     ["'BYTES'", "FP64"]),
    ("BYTES for a float feature", body(per_feature([[1, 2, 3]]) [:2]
                                       + [tensor("f3", [1], ["3"], "BYTES")]), FLOATS,
     "inputs[2].datatype", ["'f3'", "BYTES", "float64"]),
    ("FP64 for an int feature", body([tensor("age", [1], [3.0]), tensor("income", [1], [1.0]),
                                      tensor("small", [1], [1], "INT32")]), MIXED,
     "inputs[0].datatype", ["'age'", "int64", "INT64"]),
    ("INT64 for a bool feature", body([tensor("age", [1], [3], "INT64"),
                                       tensor("income", [1], [1.0]),
                                       tensor("city", [1], ["x"], "BYTES"),
                                       tensor("member", [1], [1], "INT64")]), TABULAR,
     "inputs[3].datatype", ["'member'", "BOOL"]),
    ("null in a non-nullable feature", body(per_feature([[1, None, 3]])), FLOATS,
     "inputs[1].data", ["'f2'", "1 null", "does not allow"]),
    ("null in a non-nullable batch column", f([None, 2, None]), FLOATS, "inputs[0].data",
     ["'f1'", "does not allow"]),
    ("null in a non-nullable int feature", body([tensor("age", [1], [None], "INT64"),
                                                 tensor("income", [1], [1.0]),
                                                 tensor("small", [1], [1], "INT32")]), MIXED,
     "inputs[0].data", ["'age'", "null"]),
    ("fractional INT64", body([tensor("age", [1], [1.5], "INT64"), tensor("income", [1], [1.0]),
                               tensor("small", [1], [1], "INT32")]), MIXED, "inputs[0].data",
     ["'age'", "not whole"]),
    ("INT8 out of range", body([tensor("age", [1], [300], "INT8"), tensor("income", [1], [1.0]),
                                tensor("small", [1], [1], "INT32")]), MIXED, "inputs[0].data",
     ["'age'", "INT8 range"]),
    ("UINT64 beyond int64 for an int64 feature", body([tensor("age", [2], [2**64 - 1, 1], "UINT64"),
                                                       tensor("income", [2], [1.0, 2.0]),
                                                       tensor("small", [2], [1, 2], "INT32")]),
     MIXED, "inputs", ["'age'", "int64 range"]),
    ("negative UINT8", f([1, -1, 2], "UINT8"), FLOATS, "inputs[0].data", ["UINT8 range"]),
    ("beyond int32 for an int32 feature", body([tensor("age", [1], [1], "INT64"),
                                                tensor("income", [1], [1.0]),
                                                tensor("small", [1], [2**40], "INT64")]),
     MIXED, "inputs", ["'small'", "int32"]),
    ("fraction in an int column of a batch", body([tensor("x", [1, 3], [1.5, 2.0, 3])]), MIXED,
     "inputs", ["'age'", "not whole"]),
    ("batch for a mixed-type signature", body([tensor("x", [1, 4], [1, 2, 3, 4])]), TABULAR,
     "inputs[0].datatype", ["one tensor per input"]),
    ("unknown input", body(per_feature([[1, 2, 3]]) + [tensor("f9", [1], [1.0])]), FLOATS,
     "inputs[3].name", ["'f9'", "'f1'"]),
    ("missing input", body(per_feature([[1, 2, 3]])[:2]), FLOATS, "inputs", ["missing", "'f3'"]),
    ("duplicate input", body(per_feature([[1, 2, 3]]) + [tensor("f1", [1], [1.0])]), FLOATS,
     "inputs[3].name", ["'f1'", "twice"]),
    ("inputs of different lengths", body(per_feature([[1, 2, 3]])[:2]
                                         + [tensor("f3", [2], [1.0, 2.0])]), FLOATS,
     "inputs[2].shape", ["'f3'", "2 rows", "'f1' has 1"]),
    ("a 2-D per-feature tensor", body(per_feature([[1, 2, 3]])[:2]
                                      + [tensor("f3", [1, 2], [1.0, 2.0])]), FLOATS,
     "inputs[2].shape", ["'f3'", "[n] or [n, 1]"]),
    ("no rows", f([], shape=[0, 3]), FLOATS, "inputs[0].shape", ["no rows"]),
    ("id not a string", body([tensor("x", [3], [1, 2, 3])], id=42), FLOATS, "id", ['"id"']),
    ("parameters not an object", body([tensor("x", [3], [1, 2, 3])], parameters=[1]), FLOATS,
     "parameters", ['"parameters"', "object"]),
    ("nested parameter", body([tensor("x", [3], [1, 2, 3])], parameters={"a": {"b": 1}}),
     FLOATS, "parameters.a", ["'a'"]),
    ("tensor parameters not an object", body([tensor("x", [3], [1, 2, 3]) | {"parameters": 1}]),
     FLOATS, "inputs[0].parameters", ["inputs[0].parameters"]),
    ("outputs malformed", body([tensor("x", [3], [1, 2, 3])], outputs=["predict"]), FLOATS,
     "outputs", ['"outputs"']),
]


@pytest.mark.parametrize(("raw", "signature", "field", "words"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_bad_requests_are_rejected_naming_the_field(raw: bytes, signature: Signature,
                                                    field: str | None, words: list[str]) -> None:
    error = rejected(raw, signature)
    assert (error.status, error.field) == (400, field)
    for word in words:
        assert word in str(error)


def test_an_oversized_body_is_413_before_parsing() -> None:
    error = rejected(b"{" * 100, max_bytes=99)       # not JSON: the size is checked first
    assert (error.status, error.field) == (413, None) and "100 bytes" in str(error)


# -- responses --------------------------------------------------------------------------------

def test_one_output_tensor_by_default() -> None:
    raw = encode_infer_response(model_name="m", model_version=None, request_id="r",
                                outputs=np.array([1, 0, 1]), parameters={"cached": False})
    assert orjson.loads(raw) == {
        "model_name": "m", "id": "r", "parameters": {"cached": False},
        "outputs": [{"name": "predict", "shape": [3], "datatype": "INT64", "data": [1, 0, 1]}]}


def test_one_tensor_per_named_column() -> None:
    probabilities = np.array([[0.25, 0.75], [1.0, 0.0]])
    raw = encode_infer_response(model_name="m", model_version="2", request_id="r",
                                outputs=probabilities, output_names=["no", "yes"])
    assert orjson.loads(raw)["outputs"] == [
        {"name": "no", "shape": [2], "datatype": "FP64", "data": [0.25, 1.0]},
        {"name": "yes", "shape": [2], "datatype": "FP64", "data": [0.75, 0.0]}]
    with pytest.raises(InvalidInputError, match="one column per name"):
        encode_infer_response(model_name="m", model_version="2", request_id="r",
                              outputs=probabilities, output_names=["a", "b", "c"])


@pytest.mark.parametrize(("outputs", "datatype", "data"), [
    (np.array([True, False]), "BOOL", [True, False]),
    (np.array([1, 2], dtype=np.int32), "INT32", [1, 2]),
    (np.array([1, 2], dtype=">i8"), "INT64", [1, 2]),
    (np.array(["yes", "no"], dtype=object), "BYTES", ["yes", "no"]),
    (np.array(["yes", "no"]), "BYTES", ["yes", "no"]),
    (np.array([1.5, np.nan]), "FP64", [1.5, None]),        # JSON has no NaN
    (np.asfortranarray([[1.0, 2.0], [3.0, 4.0]]), "FP64", [1.0, 2.0, 3.0, 4.0]),  # row-major
])
def test_output_datatypes(outputs: np.ndarray, datatype: str, data: list[Any]) -> None:
    tensor_out = orjson.loads(encode_infer_response(model_name="m", model_version=None,
                                                    request_id="r", outputs=outputs))["outputs"][0]
    assert (tensor_out["datatype"], tensor_out["data"]) == (datatype, data)
    assert tensor_out["shape"] == list(outputs.shape)


# -- round trips ------------------------------------------------------------------------------

@st.composite
def matrices(draw: st.DrawFn, dtype: Any) -> np.ndarray:
    shape = draw(st.tuples(st.integers(1, 20), st.integers(1, 8)))
    if np.dtype(dtype).kind == "f":
        elements = st.floats(allow_nan=False, allow_infinity=False,
                             width=np.dtype(dtype).itemsize * 8)
    else:
        elements = st.integers(-(2**63), 2**63 - 1)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@settings(max_examples=150, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32, np.int64]),
       form=st.sampled_from(["flat", "nested", "per-feature"]))
def test_valid_matrices_round_trip_exactly(data: st.DataObject, dtype: Any, form: str) -> None:
    matrix = data.draw(matrices(dtype))
    n, k = matrix.shape
    spec_dtype = {np.float64: DType.FLOAT64, np.float32: DType.FLOAT32, np.int64: DType.INT64}
    signature = Signature(inputs=tuple(ColumnSpec(f"c{j}", spec_dtype[dtype]) for j in range(k)))
    datatype = v2_datatype(signature.inputs[0].dtype)
    if form == "per-feature":
        inputs = [tensor(f"c{j}", [n], matrix[:, j].copy(), datatype) for j in range(k)]
    else:
        values = matrix.ravel() if form == "flat" else matrix.tolist()
        inputs = [tensor("input-0", [n, k], values, datatype)]
    raw = orjson.dumps({"inputs": inputs}, option=orjson.OPT_SERIALIZE_NUMPY)
    request = SignatureCodec(signature).decode(raw)
    assert request.rows == n and request.features.dtype == matrix.dtype
    np.testing.assert_array_equal(request.features, matrix)
    response = orjson.loads(encode_infer_response(model_name="m", model_version=None,
                                                  request_id="r", outputs=request.features))
    out = response["outputs"][0]
    assert out["shape"] == [n, k] and out["datatype"] == datatype
    np.testing.assert_array_equal(np.asarray(out["data"], dtype=dtype).reshape(n, k), matrix)


def test_numeric_decoding_does_not_import_pandas() -> None:
    code = ("import sys, orjson; from steadyml.registry.signatures import *; "
            "from steadyml.serving.protocol import decode_infer_request; "
            "s = Signature(inputs=(ColumnSpec('a', DType.FLOAT64), ColumnSpec('b', DType.INT64)))"
            "; decode_infer_request(orjson.dumps({'inputs': [{'name': 'x', 'shape': [1, 2], "
            "'datatype': 'INT64', 'data': [1, 2]}]}), s); print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
