"""A model loaded from the registry: validates input against its signature, then predicts."""

from __future__ import annotations

from typing import Any

import numpy as np

from steadyml.registry.flavors import Flavor, Predictor
from steadyml.registry.signatures import Signature
from steadyml.registry.versions import ModelVersion


class LoadedModel:
    """Vectorised `predict` over a DataFrame, Arrow table, dict of columns or 2-D array."""

    def __init__(self, *, version: ModelVersion, predictor: Predictor,
                 signature: Signature) -> None:
        self.version = version
        self.predictor = predictor
        self.signature = signature
        self._flavor = Flavor(version.flavor)

    @property
    def ref(self) -> str:
        return self.version.ref

    def predict(self, data: Any) -> np.ndarray:
        """Return predictions; raise SignatureMismatchError if `data` does not fit."""
        inputs = self.prepare(self.signature, self._flavor, self.version.flavor_meta, data)
        return np.asarray(self.predictor.predict(inputs))

    def predict_proba(self, data: Any) -> np.ndarray:
        """Return class probabilities, for classifiers that have them."""
        proba = getattr(self.predictor, "predict_proba", None)
        if proba is None:
            raise AttributeError(f"Model {self.ref} ({self._flavor}) has no predict_proba.")
        inputs = self.prepare(self.signature, self._flavor, self.version.flavor_meta, data)
        return np.asarray(proba(inputs))

    @staticmethod
    def prepare(signature: Signature, flavor: Flavor, meta: dict[str, Any], data: Any) -> Any:
        """Validate `data` and shape it the way the flavor's predictor expects."""
        if meta.get("input") == "frame" or not _all_numeric(signature):
            return signature.to_frame(data)
        return signature.to_matrix(data)

    def __repr__(self) -> str:
        return f"LoadedModel({self.ref}, flavor={self._flavor})"


def _all_numeric(signature: Signature) -> bool:
    return all(spec.dtype.value not in ("string",) for spec in signature.inputs)
