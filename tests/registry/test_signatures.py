import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from steadyml.core.errors import InvalidInputError, SignatureMismatchError, UnsupportedDataError
from steadyml.registry.signatures import ColumnSpec, DType, Signature


def spec_map(signature: Signature) -> dict[str, tuple[DType, bool]]:
    return {spec.name: (spec.dtype, spec.nullable) for spec in signature.inputs}


@pytest.fixture
def signature() -> Signature:
    return Signature(inputs=(ColumnSpec("age", DType.INT64),
                             ColumnSpec("income", DType.FLOAT64, nullable=True),
                             ColumnSpec("city", DType.STRING),
                             ColumnSpec("member", DType.BOOL)),
                     outputs=(ColumnSpec("prediction", DType.INT64),))


@pytest.fixture
def numeric() -> Signature:
    return Signature(inputs=(ColumnSpec("a", DType.FLOAT64), ColumnSpec("b", DType.INT64),
                             ColumnSpec("c", DType.FLOAT32)))


def test_infer_maps_pandas_dtypes() -> None:
    frame = pd.DataFrame({
        "f64": [1.0, np.nan, 3.0],
        "f32": np.array([1, 2, 3], dtype=np.float32),
        "i64": [1, 2, 3],
        "i32": np.array([1, 2, 3], dtype=np.int32),
        "i8": np.array([1, 2, 3], dtype=np.int8),
        "u16": np.array([1, 2, 3], dtype=np.uint16),
        "nullable_int": pd.array([1, None, 3], dtype="Int64"),
        "flag": [True, False, True],
        "text": np.array(["a", "b", None], dtype=object),
        "category": pd.Categorical(["x", "y", "x"]),
        "str": pd.array(["a", "b", "c"], dtype="string"),
    })

    signature = Signature.infer(frame)

    assert spec_map(signature) == {
        "f64": (DType.FLOAT64, True), "f32": (DType.FLOAT32, False),
        "i64": (DType.INT64, False), "i32": (DType.INT32, False), "i8": (DType.INT64, False),
        "u16": (DType.INT64, False), "nullable_int": (DType.INT64, True),
        "flag": (DType.BOOL, False), "text": (DType.STRING, True),
        "category": (DType.STRING, False), "str": (DType.STRING, False),
    }
    assert signature.feature_names == tuple(frame.columns)
    assert signature.outputs == ()


def test_infer_maps_arrow_types() -> None:
    table = pa.table({
        "f64": pa.array([1.0, None, float("nan")]),
        "f32": pa.array([1, 2, 3], pa.float32()),
        "i16": pa.array([1, 2, 3], pa.int16()),
        "i32": pa.array([1, None, 3], pa.int32()),
        "flag": pa.array([True, None, False]),
        "text": pa.array(["a", "b", "c"], pa.large_string()),
        "dict": pa.array(["x", "y", "x"]).dictionary_encode(),
    })

    assert spec_map(Signature.infer(table)) == {
        "f64": (DType.FLOAT64, True), "f32": (DType.FLOAT32, False), "i16": (DType.INT64, False),
        "i32": (DType.INT32, True), "flag": (DType.BOOL, True), "text": (DType.STRING, False),
        "dict": (DType.STRING, False),
    }


def test_infer_from_dict_of_lists_and_arrays() -> None:
    data = {"x": [1.5, None], "y": np.array([1, 2]), "z": ["a", "b"], "w": [True, False]}

    assert spec_map(Signature.infer(data)) == {
        "x": (DType.FLOAT64, True), "y": (DType.INT64, False), "z": (DType.STRING, False),
        "w": (DType.BOOL, False)}


def test_infer_from_matrix_names_columns_and_outputs() -> None:
    signature = Signature.infer(np.zeros((4, 3), dtype=np.float32), np.array([0, 1, 1, 0]))

    assert signature.feature_names == ("f0", "f1", "f2")
    assert {spec.dtype for spec in signature.inputs} == {DType.FLOAT32}
    assert signature.outputs == (ColumnSpec("prediction", DType.INT64),)


def test_infer_outputs_from_2d_and_label_predictions() -> None:
    proba = Signature.infer(np.zeros((2, 1)), np.array([[0.2, 0.8], [0.6, 0.4]]))
    labels = Signature.infer(np.zeros((2, 1)), ["cat", "dog"])

    assert proba.outputs == (ColumnSpec("prediction_0", DType.FLOAT64),
                             ColumnSpec("prediction_1", DType.FLOAT64))
    assert labels.outputs == (ColumnSpec("prediction", DType.STRING),)


@pytest.mark.parametrize("column, dtype_text", [
    (pd.to_datetime(["2024-01-01", "2024-01-02"]), "datetime64"),
    (pd.Series([[1, 2], [3]]), "list"),
    (np.array([1 + 2j, 3j]), "complex128"),
])
def test_infer_rejects_unsupported_columns(column: object, dtype_text: str) -> None:
    with pytest.raises(UnsupportedDataError, match=f"'when'.*{dtype_text}"):
        Signature.infer(pd.DataFrame({"ok": [1, 2], "when": column}))


def test_infer_rejects_mixed_all_null_and_unreadable_data() -> None:
    with pytest.raises(UnsupportedDataError, match="'mixed'.*mixes value types"):
        Signature.infer({"mixed": np.array(["a", 1.5], dtype=object)})
    with pytest.raises(UnsupportedDataError, match="'empty' holds only nulls"):
        Signature.infer({"empty": [None, None]})
    with pytest.raises(UnsupportedDataError, match="1-D array"):
        Signature.infer(np.zeros(3))
    with pytest.raises(UnsupportedDataError, match="type str"):
        Signature.infer("not data")


def test_dict_round_trip_through_json(signature: Signature) -> None:
    text = json.dumps(signature.to_dict())

    assert Signature.from_dict(json.loads(text)) == signature
    assert json.loads(text)["inputs"][1] == {"name": "income", "dtype": "float64",
                                             "nullable": True}


def test_from_dict_rejects_malformed_columns() -> None:
    with pytest.raises(InvalidInputError, match="'dtype'.*float64"):
        Signature.from_dict({"inputs": [{"name": "a", "dtype": "decimal"}]})
    with pytest.raises(InvalidInputError, match="must be a list"):
        Signature.from_dict({"outputs": []})


def test_duplicate_columns_are_rejected() -> None:
    with pytest.raises(InvalidInputError, match="duplicate input columns \\['a'\\]"):
        Signature(inputs=(ColumnSpec("a", DType.INT64), ColumnSpec("a", DType.FLOAT64)))


def test_to_frame_orders_and_casts_columns(signature: Signature) -> None:
    frame = pd.DataFrame({"member": [True, False], "city": ["Oslo", "Lima"],
                          "income": [10, 20], "age": [30.0, 41.0]}, index=[7, 9])

    result = signature.to_frame(frame)

    assert list(result.columns) == ["age", "income", "city", "member"]
    assert result["age"].dtype == np.int64 and result["income"].dtype == np.float64
    assert result["age"].tolist() == [30, 41] and result["city"].tolist() == ["Oslo", "Lima"]
    assert list(result.index) == [7, 9]


def test_to_frame_accepts_arrow_and_dict(signature: Signature) -> None:
    data = {"city": ["Oslo"], "member": [True], "age": [30], "income": [None]}
    from_dict = signature.to_frame(data)
    from_arrow = signature.to_frame(pa.table(data))

    pd.testing.assert_frame_equal(from_dict, from_arrow, check_dtype=False)
    assert np.isnan(from_arrow["income"].iloc[0])


def test_to_matrix_orders_columns_and_reads_rows(numeric: Signature) -> None:
    frame = pd.DataFrame({"c": [0.5, 1.5], "a": [1.0, 2.0], "b": [3, 4]})

    matrix = numeric.to_matrix(frame)

    assert matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix, [[1.0, 3.0, 0.5], [2.0, 4.0, 1.5]])
    np.testing.assert_array_equal(numeric.to_matrix(np.array([1.0, 3.0, 0.5])), matrix[:1])
    np.testing.assert_array_equal(numeric.to_matrix(matrix), matrix)


def test_to_matrix_keeps_a_common_narrow_dtype() -> None:
    ints = Signature(inputs=(ColumnSpec("a", DType.INT64), ColumnSpec("b", DType.BOOL)))
    nullable = Signature(inputs=(ColumnSpec("a", DType.INT64, nullable=True),))

    assert ints.to_matrix({"a": [1, 2], "b": [True, False]}).dtype == np.int64
    np.testing.assert_array_equal(nullable.to_matrix({"a": pa.array([1, None])}),
                                  [[1.0], [np.nan]])


def test_to_matrix_refuses_string_inputs(signature: Signature) -> None:
    with pytest.raises(UnsupportedDataError, match="string inputs \\['city'\\].*to_frame"):
        signature.to_matrix({"age": [1]})


def test_every_problem_is_named_in_one_error(signature: Signature) -> None:
    frame = pd.DataFrame({"age": [1.5, 2.0], "income": ["high", "low"],
                          "member": [True, None], "extra": [0, 0]})

    with pytest.raises(SignatureMismatchError) as caught:
        signature.to_frame(frame)

    message = str(caught.value)
    assert "5 problems" in message
    assert "missing columns 'city'" in message
    assert "unexpected columns 'extra'" in message
    assert "column 'age' has float64 values that are not whole numbers where the signature " \
           "expects int64" in message
    assert "column 'income' has dtype string (given as str) where the signature expects " \
           "float64" in message
    assert "column 'member' has 1 null value but the signature does not allow nulls" in message


def test_nulls_are_counted_per_column(numeric: Signature) -> None:
    data = {"a": [np.nan, np.nan, 1.0], "b": [1, 2, 3], "c": [1.0, None, 2.0]}

    with pytest.raises(SignatureMismatchError, match="'a' has 2 null values.*'c' has 1 null"):
        numeric.to_matrix(data)


def test_safe_casts_pass_and_lossy_ones_fail() -> None:
    signature = Signature(inputs=(ColumnSpec("small", DType.INT32),
                                  ColumnSpec("whole", DType.INT64)))

    result = signature.to_frame({"small": np.array([1, 2], dtype=np.int64),
                                 "whole": [1.0, 2.0]})
    assert result.dtypes.tolist() == [np.int32, np.int64]
    with pytest.raises(SignatureMismatchError, match="'small' has int64 values outside the "
                                                      "int32 range"):
        signature.to_frame({"small": [2**40, 1], "whole": [1, 2]})
    with pytest.raises(SignatureMismatchError, match="'whole' has dtype int64 .* expects bool"):
        Signature(inputs=(ColumnSpec("whole", DType.BOOL),)).to_frame({"whole": [1, 0]})


def test_matrix_input_is_checked_by_count_and_dtype(numeric: Signature) -> None:
    with pytest.raises(SignatureMismatchError, match="2 columns but the signature has 3 inputs"):
        numeric.to_matrix(np.zeros((5, 2)))
    with pytest.raises(SignatureMismatchError, match="'b' has float64 values that are not "
                                                      "whole numbers"):
        numeric.to_matrix(np.full((2, 3), 0.5))
    with pytest.raises(SignatureMismatchError, match="one row.*4 values"):
        numeric.to_matrix(np.zeros(4))


def test_large_frames_validate_in_signature_order() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(100_000, 30)), columns=[f"c{i}" for i in range(30)])
    signature = Signature.infer(frame)
    shuffled = frame[list(reversed(frame.columns))]
    np.testing.assert_array_equal(signature.to_matrix(shuffled), frame.to_numpy())
    assert list(signature.to_frame(shuffled).columns) == list(frame.columns)


@settings(max_examples=30, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=6),
                  elements=st.floats(allow_nan=True, allow_infinity=False, width=64)),
       st.randoms())
def test_inferred_signature_accepts_its_own_data(values: np.ndarray, random: object) -> None:
    frame = pd.DataFrame(values, columns=[f"c{i}" for i in range(values.shape[1])])
    signature = Signature.infer(frame)
    shuffled = list(frame.columns)
    random.shuffle(shuffled)  # type: ignore[attr-defined]

    np.testing.assert_array_equal(signature.to_matrix(frame[shuffled]), values)
    pd.testing.assert_frame_equal(signature.to_frame(frame[shuffled]), frame)


def test_a_dict_of_single_values_is_one_row(signature: Signature) -> None:
    frame = signature.to_frame({"age": 30, "income": None, "city": "Oslo",
                                "member": np.bool_(True)})

    assert frame.shape == (1, 4)
    assert frame["age"].iloc[0] == 30 and frame["member"].iloc[0]


def test_uint64_values_beyond_int64_are_not_accepted_as_int64() -> None:
    signature = Signature(inputs=(ColumnSpec("n", DType.INT64),))
    with pytest.raises(SignatureMismatchError, match="'n'"):
        signature.to_matrix({"n": np.array([2**63 + 5], dtype=np.uint64)})
    assert signature.to_matrix({"n": np.array([7], dtype=np.uint64)}).tolist() == [[7]]
