import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import lightgbm as lgb
import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import pytest
import xgboost as xgb
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from steadyml.core.errors import UnsupportedModelError
from steadyml.registry.flavors import (
    Flavor,
    InputKind,
    SavedModel,
    detect_flavor,
    input_kind,
    load_model,
    save_model,
)


class MeanThreshold:
    """A plain Python model: predicts 1 where a row's mean exceeds the threshold."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def predict(self, X: Any) -> np.ndarray:
        return (np.asarray(X).mean(axis=1) > self.threshold).astype(np.int64)


@cache
def cancer() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_breast_cancer(return_X_y=True)
    return X, y


@cache
def cancer_frame() -> tuple[pd.DataFrame, pd.Series]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return X, y


@cache
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_diabetes(return_X_y=True)
    return X, y


@cache
def iris_named() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


@dataclass
class Case:
    model: object
    X: Any
    flavor: Flavor
    task: str | None
    predict: Callable[[Any], Any]
    predict_proba: Callable[[Any], Any] | None = None


def sklearn_case(model: Any, X: Any, task: str | None) -> Case:
    proba = model.predict_proba if hasattr(model, "predict_proba") else None
    return Case(model, X, Flavor.SKLEARN, task, model.predict, proba)


def onnx_session(proto: onnx.ModelProto) -> ort.InferenceSession:
    return ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])


def logistic_onnx(zipmap: bool) -> onnx.ModelProto:
    X, y = cancer()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    proto: onnx.ModelProto = to_onnx(model, X[:1].astype(np.float32),
                                     options={"zipmap": zipmap}, target_opset=17)
    return proto


def case_logistic() -> Case:
    X, y = cancer()
    scaled = StandardScaler().fit_transform(X)
    return sklearn_case(LogisticRegression().fit(scaled, y), scaled, "classifier")


def case_pipeline_on_frame() -> Case:
    X, y = cancer_frame()
    return sklearn_case(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y), X,
                        "classifier")


def case_random_forest() -> Case:
    X, y = diabetes()
    model = RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    return sklearn_case(model, X, "regressor")


def case_xgb_classifier() -> Case:
    X, y = cancer()
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    return Case(model, X, Flavor.XGBOOST, "classifier", model.predict, model.predict_proba)


def case_xgb_multiclass() -> Case:
    X, y = load_iris(return_X_y=True)
    model = xgb.XGBClassifier(n_estimators=5, max_depth=2).fit(X, y)
    return Case(model, X, Flavor.XGBOOST, "classifier", model.predict, model.predict_proba)


def case_xgb_regressor() -> Case:
    X, y = diabetes()
    model = xgb.XGBRegressor(n_estimators=5, max_depth=3).fit(X, y)
    return Case(model, X, Flavor.XGBOOST, "regressor", model.predict)


def case_xgb_booster() -> Case:
    X, y = diabetes()
    booster = xgb.train({"max_depth": 3}, xgb.DMatrix(X, label=y), num_boost_round=5)
    return Case(booster, X, Flavor.XGBOOST, None, lambda X: booster.predict(xgb.DMatrix(X)))


def case_lgbm_binary() -> Case:
    X, y = cancer()
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=7, verbose=-1).fit(X, y)
    return Case(model, X, Flavor.LIGHTGBM, "classifier", model.predict, model.predict_proba)


def case_lgbm_multiclass() -> Case:
    X, y = iris_named()
    model = lgb.LGBMClassifier(n_estimators=5, num_leaves=7, min_child_samples=5,
                               verbose=-1).fit(X, y)
    return Case(model, X, Flavor.LIGHTGBM, "classifier", model.predict, model.predict_proba)


def case_lgbm_categorical_frame() -> Case:
    X, y = diabetes()
    frame = pd.DataFrame(X[:, :4], columns=["age", "sex", "bmi", "bp"])
    frame["band"] = pd.Categorical(np.where(X[:, 2] > 0, "high", "low"))
    model = lgb.LGBMRegressor(n_estimators=5, num_leaves=7, verbose=-1).fit(frame, y)
    return Case(model, frame, Flavor.LIGHTGBM, "regressor", model.predict)


def case_lgbm_booster() -> Case:
    X, y = diabetes()
    booster = lgb.train({"num_leaves": 7, "verbose": -1}, lgb.Dataset(X, label=y),
                        num_boost_round=5)
    return Case(booster, X, Flavor.LIGHTGBM, None, booster.predict)


def case_onnx() -> Case:
    proto = logistic_onnx(zipmap=False)
    session = onnx_session(proto)
    X = cancer()[0].astype(np.float32)
    return Case(proto, X, Flavor.ONNX, "classifier",
                lambda X: session.run(None, {"X": X})[0],
                lambda X: session.run(None, {"X": X})[1])


def case_onnx_bytes_with_zipmap() -> Case:
    proto = logistic_onnx(zipmap=True)
    plain = onnx_session(logistic_onnx(zipmap=False))
    X = cancer()[0].astype(np.float32)
    return Case(proto.SerializeToString(), X, Flavor.ONNX, "classifier",
                lambda X: plain.run(None, {"X": X})[0],
                lambda X: plain.run(None, {"X": X})[1])


def case_python() -> Case:
    model = MeanThreshold(60.0)
    return Case(model, cancer()[0], Flavor.PYTHON, None, model.predict)


CASES = {name.removeprefix("case_"): factory for name, factory in globals().items()
         if name.startswith("case_")}


def stored(saved: SavedModel) -> SavedModel:
    """Return the SavedModel as it comes back from the store: meta through JSON."""
    return SavedModel(flavor=Flavor(saved.flavor.value), payload=bytes(saved.payload),
                      meta=json.loads(json.dumps(saved.meta)))


@pytest.mark.parametrize("name", list(CASES))
def test_round_trip_predicts_like_the_original(name: str) -> None:
    case = CASES[name]()

    saved = save_model(case.model)
    loaded = load_model(stored(saved))

    assert saved.flavor == detect_flavor(case.model) == case.flavor
    assert saved.meta["task"] == case.task
    expected = np.asarray(case.predict(case.X))
    np.testing.assert_array_equal(loaded.predict(case.X), expected)
    if case.predict_proba is None:
        assert not hasattr(loaded, "predict_proba")
    else:
        np.testing.assert_allclose(loaded.predict_proba(case.X),  # type: ignore[attr-defined]
                                   case.predict_proba(case.X), rtol=1e-6)


def test_onnx_predicts_like_the_sklearn_model_it_came_from() -> None:
    X, y = cancer()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    proto = to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False})

    loaded = load_model(save_model(proto))

    assert np.mean(loaded.predict(X) == model.predict(X)) > 0.99
    np.testing.assert_allclose(loaded.predict_proba(X),  # type: ignore[attr-defined]
                               model.predict_proba(X), atol=1e-4)


def test_onnx_with_one_input_per_feature_takes_matrix_or_frame() -> None:
    weights = helper.make_tensor("w", TensorProto.FLOAT, [2, 1], [2.0, -1.0])
    graph = helper.make_graph(
        [helper.make_node("Concat", ["a", "b"], ["ab"], axis=1),
         helper.make_node("MatMul", ["ab", "w"], ["y"])],
        "two_inputs",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [None, 1]) for n in ("a", "b")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
        initializer=[weights])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)

    saved = save_model(proto)
    loaded = load_model(saved)

    assert saved.meta["inputs"] == ["a", "b"] and input_kind(saved.meta) == InputKind.FRAME
    np.testing.assert_array_equal(loaded.predict(np.array([[1.0, 2.0], [3.0, 1.0]])), [0.0, 5.0])
    np.testing.assert_array_equal(loaded.predict(pd.DataFrame({"b": [2.0], "a": [1.0]})), [0.0])


def test_meta_describes_the_model() -> None:
    X, y = iris_named()
    model = lgb.LGBMClassifier(n_estimators=3, min_child_samples=5, verbose=-1).fit(X, y)

    meta = save_model(model).meta

    assert meta["library"] == "lightgbm" and meta["library_version"] == lgb.__version__
    assert meta["model_class"] == "lightgbm.sklearn.LGBMClassifier"
    assert meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert meta["objective"] == "multiclass"
    assert save_model(case_xgb_classifier().model).meta["wrapper"] == "XGBClassifier"
    assert save_model(logistic_onnx(zipmap=True)).meta["classes"] == [0, 1]


def test_input_kind_follows_the_training_data() -> None:
    assert input_kind(save_model(case_pipeline_on_frame().model).meta) == InputKind.FRAME
    assert input_kind(save_model(case_logistic().model).meta) == InputKind.MATRIX
    assert input_kind(save_model(case_lgbm_categorical_frame().model).meta) == InputKind.FRAME


@pytest.mark.parametrize("model, match", [
    ("a string", "builtins.str.*supported flavor.*predict\\(X\\)"),
    (object(), "builtins.object.*sklearn, xgboost, lightgbm, onnx, python"),
    (b"\x00\x01not onnx", "do not parse as an ONNX model"),
    (MeanThreshold, "is a class, not a model"),
    (LogisticRegression(), "LogisticRegression is not fitted"),
    (make_pipeline(StandardScaler(), LogisticRegression()), "Pipeline is not fitted"),
    (xgb.XGBClassifier(), "XGBClassifier is not fitted"),
    (lgb.LGBMRegressor(), "LGBMRegressor is not fitted"),
])
def test_unsupported_and_unfitted_models_are_rejected(model: object, match: str) -> None:
    with pytest.raises(UnsupportedModelError, match=match):
        save_model(model)


def test_a_fitted_transformer_without_predict_is_rejected() -> None:
    with pytest.raises(UnsupportedModelError, match="StandardScaler"):
        detect_flavor(StandardScaler().fit(cancer()[0]))


def test_flavor_can_be_forced_to_python_only() -> None:
    model = case_logistic().model

    assert save_model(model, Flavor.PYTHON).flavor == Flavor.PYTHON
    with pytest.raises(UnsupportedModelError, match="as the onnx flavor: it is a sklearn model"):
        save_model(model, Flavor.ONNX)


def test_load_failures_say_what_to_do() -> None:
    missing = SavedModel(Flavor.PYTHON, b"cno_such_module_xyz\nThing\n.",
                         {"model_class": "no_such_module_xyz.Thing"})
    corrupt = SavedModel(Flavor.XGBOOST, b"garbage", {"wrapper": "XGBClassifier",
                                                     "library": "xgboost"})

    with pytest.raises(UnsupportedModelError, match="'no_such_module_xyz'.*not installed"):
        load_model(missing)
    with pytest.raises(UnsupportedModelError, match="Cannot load the xgboost model"):
        load_model(corrupt)


def test_detection_imports_no_model_library() -> None:
    script = textwrap.dedent("""
        import sys
        from steadyml.registry.flavors import detect_flavor, save_model

        class Model:
            def predict(self, X):
                return X

        heavy = {"sklearn", "xgboost", "lightgbm", "onnx", "onnxruntime"}
        before = set(sys.modules)
        assert detect_flavor(Model()) == "python"
        save_model(Model())
        print(sorted(heavy & (set(sys.modules) - before)))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
