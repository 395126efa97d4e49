"""Model flavors: tell which library a model comes from, save it to bytes, load it back.

    flavor    payload                           load_model returns
    sklearn   cloudpickle, protocol 5           the estimator (or Pipeline) itself
    xgboost   the booster's UBJSON (save_raw)   the XGB* wrapper class it was saved from, or
                                                a Booster wrapper whose predict takes arrays
    lightgbm  Booster.model_to_string()         a Booster wrapper predicting like LGBMClassifier /
                                                LGBMRegressor (labels, probabilities, values)
    onnx      the serialized ModelProto         an onnxruntime wrapper (CPU, one thread)
    python    cloudpickle, protocol 5           the object itself

Each library is imported inside the function that needs it; detection looks only at libraries the
model's own classes already imported.
"""

from __future__ import annotations

import importlib
import itertools
import json
import pickle
import platform
import sys
from dataclasses import dataclass
from enum import StrEnum
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from steadyml.core.errors import SignatureMismatchError, SteadyError, UnsupportedModelError

if TYPE_CHECKING:
    import onnx


class Flavor(StrEnum):
    SKLEARN = "sklearn"
    XGBOOST = "xgboost"
    LIGHTGBM = "lightgbm"
    ONNX = "onnx"
    PYTHON = "python"


class InputKind(StrEnum):
    FRAME = "frame"      # fitted on named columns: give it Signature.to_frame(data)
    MATRIX = "matrix"    # give it Signature.to_matrix(data)


@dataclass(frozen=True)
class SavedModel:
    """A model as bytes plus JSON-serialisable facts about it (library, version, task, classes)."""

    flavor: Flavor
    payload: bytes
    meta: dict[str, Any]


class Predictor(Protocol):
    def predict(self, X: Any) -> np.ndarray: ...


_EXTRAS = {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm",
           "onnx": "onnx", "onnxruntime": "onnx"}


def detect_flavor(model: object) -> Flavor:
    """Return the flavor of a fitted model; raise UnsupportedModelError if it has none."""
    if isinstance(model, type):
        raise UnsupportedModelError(f"{model.__qualname__} is a class, not a model. Pass a fitted "
                                    "instance of it.")
    if isinstance(model, (bytes, bytearray, memoryview)):
        if _parse_onnx(bytes(model)) is None:
            raise _unsupported(model, " (the bytes do not parse as an ONNX model)")
        return Flavor.ONNX
    roots = {cls.__module__.partition(".")[0] for cls in type(model).__mro__}
    if "onnx" in roots and _is_instance(model, "onnx", "ModelProto"):
        return Flavor.ONNX
    if "xgboost" in roots and _is_instance(model, "xgboost", "XGBModel", "Booster"):
        _check_wrapper_fitted(model)
        return Flavor.XGBOOST
    if "lightgbm" in roots and _is_instance(model, "lightgbm", "LGBMModel", "Booster"):
        _check_wrapper_fitted(model)
        return Flavor.LIGHTGBM
    if "sklearn" in roots and _is_instance(model, "sklearn.base", "BaseEstimator"):
        _check_sklearn_fitted(model)
        if callable(getattr(model, "predict", None)):
            return Flavor.SKLEARN
    if callable(getattr(model, "predict", None)):
        return Flavor.PYTHON
    raise _unsupported(model)


def save_model(model: object, flavor: Flavor | None = None) -> SavedModel:
    """Serialise a fitted model; `flavor` defaults to the detected one (PYTHON always works)."""
    detected = detect_flavor(model)
    flavor = detected if flavor is None else Flavor(flavor)
    if flavor not in (detected, Flavor.PYTHON) or (
            flavor == Flavor.PYTHON and not callable(getattr(model, "predict", None))):
        raise UnsupportedModelError(
            f"Cannot save a {_class_name(model)} as the {flavor} flavor: it is a {detected} model. "
            f"Leave flavor unset, or pass Flavor.PYTHON to pickle it as it is.")
    payload, meta = _SAVERS[flavor](model)
    return SavedModel(flavor=flavor, payload=payload, meta=meta)


def load_model(saved: SavedModel) -> Predictor:
    """Rebuild a predictor from a SavedModel; classifiers also have predict_proba."""
    flavor = Flavor(saved.flavor)
    try:
        return _LOADERS[flavor](saved)
    except SteadyError:
        raise
    except ModuleNotFoundError as exc:
        root = (exc.name or "").partition(".")[0]
        hint = (f"pip install 'steadyml[{_EXTRAS[root]}]'" if root in _EXTRAS
                else "install the packages it was trained with")
        raise UnsupportedModelError(
            f"The {flavor} model {saved.meta.get('model_class')} needs the module {exc.name!r}, "
            f"which is not installed here. Run {hint}.") from exc
    except Exception as exc:  # a third-party deserialiser failed: name the versions involved
        raise UnsupportedModelError(
            f"Cannot load the {flavor} model {saved.meta.get('model_class')} saved with "
            f"{saved.meta.get('library')} {saved.meta.get('library_version')}: {exc}. Load it with "
            "that library version, or register the model again.") from exc


def input_kind(meta: dict[str, Any]) -> InputKind:
    """Say whether the model wants a DataFrame (it was fitted on named columns) or a matrix."""
    return InputKind.FRAME if meta.get("feature_names") else InputKind.MATRIX


def _unsupported(model: object, detail: str = "") -> UnsupportedModelError:
    return UnsupportedModelError(
        f"Cannot save a {_class_name(model)}{detail}: it is not a model of a supported flavor "
        f"({', '.join(Flavor)}). A plain Python class only needs a predict(X) method to be saved "
        "as the python flavor.")


def _class_name(model: object) -> str:
    cls = type(model)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_instance(model: object, module: str, *names: str) -> bool:
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(model, tuple(getattr(loaded, n) for n in names))


def _check_sklearn_fitted(model: object) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError as exc:
        raise UnsupportedModelError(f"The {_class_name(model)} is not fitted. Call fit() before "
                                    "saving it.") from exc
    except TypeError:     # not a full estimator (no fit); its predict decides
        pass


def _check_wrapper_fitted(model: object) -> None:
    is_fitted = getattr(model, "__sklearn_is_fitted__", None)
    if is_fitted is not None and not is_fitted():
        raise UnsupportedModelError(f"The {_class_name(model)} is not fitted. Call fit() before "
                                    "saving it.")


def _require(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UnsupportedModelError(
            f"This model needs {module}, which is not installed. Install it with "
            f"pip install 'steadyml[{_EXTRAS[module]}]'.") from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _meta(model: object, library: str, version: str, *, task: str | None,
          feature_names: Any = None, **extra: Any) -> dict[str, Any]:
    classes = getattr(model, "classes_", None) if task == "classifier" else None
    return {"library": library, "library_version": version, "model_class": _class_name(model),
            "task": task, "classes": _jsonable(classes),
            "feature_names": _jsonable(feature_names), **extra}


# --- sklearn and python: pickles ---------------------------------------------------------------

def _save_sklearn(model: Any) -> tuple[bytes, dict[str, Any]]:
    import cloudpickle
    import sklearn
    from sklearn.base import is_classifier, is_regressor

    task = "classifier" if is_classifier(model) else "regressor" if is_regressor(model) else None
    meta = _meta(model, "scikit-learn", sklearn.__version__, task=task,
                 feature_names=getattr(model, "feature_names_in_", None),
                 python=platform.python_version())
    return cloudpickle.dumps(model, protocol=5), meta


def _save_python(model: Any) -> tuple[bytes, dict[str, Any]]:
    import cloudpickle

    meta = _meta(model, "cloudpickle", cloudpickle.__version__, task=None,
                 feature_names=getattr(model, "feature_names_in_", None),
                 python=platform.python_version())
    return cloudpickle.dumps(model, protocol=5), meta


def _load_pickle(saved: SavedModel) -> Predictor:
    model: Predictor = pickle.loads(saved.payload)  # cloudpickle writes standard pickles
    return model


# --- xgboost ---------------------------------------------------------------------------------

def _save_xgboost(model: Any) -> tuple[bytes, dict[str, Any]]:
    import xgboost as xgb

    booster = model if isinstance(model, xgb.Booster) else model.get_booster()
    # The xgboost class it derives from: user subclasses are rebuilt as their xgboost base.
    wrapper = next(cls.__name__ for cls in type(model).__mro__
                   if cls.__module__.startswith("xgboost") and hasattr(xgb, cls.__name__))
    task = ("classifier" if isinstance(model, xgb.XGBClassifier)
            else "regressor" if isinstance(model, xgb.XGBRegressor) else None)
    objective = json.loads(booster.save_config())["learner"]["objective"]["name"]
    meta = _meta(model, "xgboost", xgb.__version__, task=task,
                 feature_names=booster.feature_names, wrapper=wrapper, objective=objective)
    return bytes(booster.save_raw("ubj")), meta


def _load_xgboost(saved: SavedModel) -> Predictor:
    xgb = _require("xgboost")
    wrapper = saved.meta.get("wrapper", "Booster")
    if wrapper == "Booster":
        return _XGBoostBooster(xgb.Booster(model_file=bytearray(saved.payload)))
    model = getattr(xgb, wrapper)()
    model.load_model(bytearray(saved.payload))
    predictor: Predictor = model
    return predictor


class _XGBoostBooster:
    """A raw xgboost Booster whose predict takes arrays and DataFrames, not only DMatrix."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, X: Any) -> np.ndarray:
        import xgboost as xgb

        pd = sys.modules.get("pandas")
        if isinstance(X, xgb.DMatrix):
            data = X
        elif pd is not None and isinstance(X, pd.DataFrame):
            data = xgb.DMatrix(X, enable_categorical=True)
        else:
            data = xgb.DMatrix(np.asarray(X), feature_names=self.booster.feature_names,
                               feature_types=self.booster.feature_types)
        result: np.ndarray = self.booster.predict(data)
        return result


# --- lightgbm --------------------------------------------------------------------------------

def _save_lightgbm(model: Any) -> tuple[bytes, dict[str, Any]]:
    import lightgbm as lgb

    booster = model if isinstance(model, lgb.Booster) else model.booster_
    task = ("classifier" if isinstance(model, lgb.LGBMClassifier)
            else "regressor" if isinstance(model, lgb.LGBMRegressor) else None)
    objective = getattr(model, "objective_", None) or booster.params.get("objective")
    if callable(objective):
        objective = "custom"
        if task == "classifier":
            task = None          # LGBMClassifier then predicts raw scores, as the Booster does
    # pandas_categorical is None unless the booster was fitted on a DataFrame.
    names = booster.feature_name() if booster.pandas_categorical is not None else None
    meta = _meta(model, "lightgbm", lgb.__version__, task=task, feature_names=names,
                 objective=objective)
    if task != "classifier":
        meta["classes"] = _jsonable(getattr(model, "classes_", None))
    return booster.model_to_string().encode(), meta


def _load_lightgbm(saved: SavedModel) -> Predictor:
    lgb = _require("lightgbm")
    booster = lgb.Booster(model_str=saved.payload.decode())
    if saved.meta.get("task") == "classifier":
        return _LightGBMClassifier(booster, np.asarray(saved.meta["classes"]))
    return _LightGBMModel(booster)


class _LightGBMModel:
    """A lightgbm Booster predicting like LGBMRegressor (or the Booster itself)."""

    def __init__(self, booster: Any) -> None:
        self.booster = booster

    def predict(self, X: Any) -> np.ndarray:
        result: np.ndarray = self.booster.predict(X)
        return result


class _LightGBMClassifier(_LightGBMModel):
    """A lightgbm Booster predicting labels and probabilities like LGBMClassifier."""

    def __init__(self, booster: Any, classes: np.ndarray) -> None:
        super().__init__(booster)
        self.classes_ = classes

    def predict_proba(self, X: Any) -> np.ndarray:
        proba: np.ndarray = self.booster.predict(X)
        return np.column_stack((1.0 - proba, proba)) if proba.ndim == 1 else proba

    def predict(self, X: Any) -> np.ndarray:
        result: np.ndarray = self.classes_[np.argmax(self.predict_proba(X), axis=1)]
        return result


# --- onnx ------------------------------------------------------------------------------------

_ONNX_TYPES: dict[str, type] = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64,
    "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(string)": object,
}


def _parse_onnx(data: bytes) -> onnx.ModelProto | None:
    try:
        onnx = importlib.import_module("onnx")
    except ImportError:
        return None
    try:
        proto = onnx.ModelProto.FromString(data)
    except Exception:   # protobuf's DecodeError: not an ONNX model
        return None
    # Protobuf parses many byte strings into an empty message: require a real graph.
    has_graph = proto.ir_version > 0 and len(proto.graph.output) > 0
    return proto if has_graph else None


def _save_onnx(model: Any) -> tuple[bytes, dict[str, Any]]:
    onnx = _require("onnx")
    if isinstance(model, (bytes, bytearray, memoryview)):
        payload, parsed = bytes(model), _parse_onnx(bytes(model))
        assert parsed is not None     # detect_flavor checked it parses
        proto = parsed
    else:
        payload, proto = model.SerializeToString(), model
    graph = proto.graph
    weights = {init.name for init in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in weights]
    task, classes = _onnx_task(proto)
    meta = {"library": "onnx", "library_version": onnx.__version__,
            "model_class": "onnx.ModelProto", "task": task, "classes": classes,
            "feature_names": inputs if len(inputs) > 1 else None, "inputs": inputs,
            "outputs": [o.name for o in graph.output],
            "producer": f"{proto.producer_name} {proto.producer_version}".strip(),
            "opset": {op.domain or "ai.onnx": op.version for op in proto.opset_import}}
    return payload, meta


def _onnx_task(proto: onnx.ModelProto) -> tuple[str | None, list[Any] | None]:
    from onnx.helper import get_attribute_value

    for node in proto.graph.node:
        if node.op_type.endswith("Classifier") or node.op_type == "ZipMap":
            labels = [get_attribute_value(a) for a in node.attribute
                      if a.name.startswith("classlabels_")]
            classes = [c.decode() if isinstance(c, bytes) else c for c in labels[0]] \
                if labels else None
            return "classifier", classes
        if node.op_type.endswith("Regressor"):
            return "regressor", None
    return None, None


def _load_onnx(saved: SavedModel) -> Predictor:
    onnx = _require("onnx")
    ort = _require("onnxruntime")
    proto = onnx.ModelProto.FromString(saved.payload)
    _drop_zipmap(proto)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(proto.SerializeToString(), sess_options=options,
                                   providers=["CPUExecutionProvider"])
    return _OnnxClassifier(session) if len(session.get_outputs()) > 1 else _OnnxModel(session)


def _drop_zipmap(proto: onnx.ModelProto) -> None:
    """Expose the probability tensor a ZipMap node would turn into one dict per row."""
    import onnx

    graph = proto.graph
    outputs = list(graph.output)
    names = [o.name for o in outputs]
    for node in list(graph.node):
        if node.op_type == "ZipMap" and node.output[0] in names and node.input[0] not in names:
            index = names.index(node.output[0])
            outputs[index] = onnx.helper.make_tensor_value_info(
                node.input[0], onnx.TensorProto.FLOAT, None)
            names[index] = node.input[0]
            graph.node.remove(node)
    del graph.output[:]
    graph.output.extend(outputs)


class _OnnxModel:
    """An onnxruntime session: predict feeds a 2-D matrix and returns the first output."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._inputs = [(i.name, _ONNX_TYPES.get(i.type, np.float32))
                        for i in session.get_inputs()]
        self._outputs = [o.name for o in session.get_outputs()]

    def predict(self, X: Any) -> np.ndarray:
        result = np.asarray(self._run(X, 0))
        return result.ravel() if result.ndim == 2 and result.shape[1] == 1 else result

    def _run(self, X: Any, output: int) -> Any:
        return self.session.run([self._outputs[output]], self._feed(X))[0]

    def _feed(self, X: Any) -> dict[str, np.ndarray]:
        pd = sys.modules.get("pandas")
        names = [name for name, _ in self._inputs]
        if (pd is not None and isinstance(X, pd.DataFrame) and len(names) > 1
                and set(names) <= set(X.columns)):
            return {name: X[name].to_numpy().astype(kind, copy=False).reshape(-1, 1)
                    for name, kind in self._inputs}
        rows = np.asarray(X)
        rows = rows.reshape(1, -1) if rows.ndim == 1 else rows
        if len(names) == 1:
            name, kind = self._inputs[0]
            return {name: np.ascontiguousarray(rows, dtype=kind)}
        if rows.ndim != 2 or rows.shape[1] != len(names):
            raise SignatureMismatchError(
                f"The ONNX model has one input per feature ({len(names)}: {names}) but got data "
                f"of shape {rows.shape}. Send one column per input, in this order.")
        return {name: np.ascontiguousarray(rows[:, [j]], dtype=kind)
                for j, (name, kind) in enumerate(self._inputs)}


class _OnnxClassifier(_OnnxModel):
    """An ONNX classifier: labels from the first output, probabilities from the second."""

    def predict_proba(self, X: Any) -> np.ndarray:
        result = self._run(X, 1)
        if isinstance(result, list):     # a ZipMap left in the graph: one {class: p} per row
            width = len(result[0]) if result else 0
            values = itertools.chain.from_iterable(row.values() for row in result)
            return np.fromiter(values, dtype=np.float32, count=len(result) * width).reshape(
                len(result), width)
        return np.asarray(result)


_SAVERS = {Flavor.SKLEARN: _save_sklearn, Flavor.XGBOOST: _save_xgboost,
           Flavor.LIGHTGBM: _save_lightgbm, Flavor.ONNX: _save_onnx, Flavor.PYTHON: _save_python}
_LOADERS = {Flavor.SKLEARN: _load_pickle, Flavor.XGBOOST: _load_xgboost,
            Flavor.LIGHTGBM: _load_lightgbm, Flavor.ONNX: _load_onnx, Flavor.PYTHON: _load_pickle}
