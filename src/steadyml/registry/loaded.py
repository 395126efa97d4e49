"""A model loaded from the registry: validates input against its signature, then predicts."""

from __future__ import annotations

from typing import Any

import numpy as np

from steadyml.registry.flavors import Flavor, InputKind, Predictor, input_kind
from steadyml.registry.signatures import DType, Signature
from steadyml.registry.versions import ModelVersion


class LoadedModel:
    """Vectorised `predict` over a DataFrame, Arrow table, dict of columns or 2-D array."""

    def __init__(self, *, version: ModelVersion, predictor: Predictor,
                 signature: Signature) -> None:
        self.version = version
        self.predictor = predictor
        self.signature = signature
        self._flavor = Flavor(version.flavor)
        self._kind = input_kind(version.flavor_meta)

    @property
    def ref(self) -> str:
        return self.version.ref

    def predict(self, data: Any) -> np.ndarray:
        """Return predictions; raise SignatureMismatchError if `data` does not fit."""
        return np.asarray(self.predictor.predict(self.prepare(self.signature, self._kind, data)))

    def predict_proba(self, data: Any) -> np.ndarray:
        """Return class probabilities, for classifiers that have them."""
        proba = getattr(self.predictor, "predict_proba", None)
        if proba is None:
            raise AttributeError(f"Model {self.ref} ({self._flavor}) has no predict_proba.")
        return np.asarray(proba(self.prepare(self.signature, self._kind, data)))

    @staticmethod
    def prepare(signature: Signature, kind: InputKind, data: Any) -> Any:
        """Validate `data` and shape it the way the predictor expects."""
        if kind is InputKind.FRAME or not _all_numeric(signature):
            return signature.to_frame(data)
        return signature.to_matrix(data)

    def __repr__(self) -> str:
        return f"LoadedModel({self.ref}, flavor={self._flavor})"


def _all_numeric(signature: Signature) -> bool:
    return all(spec.dtype is not DType.STRING for spec in signature.inputs)
