"""BentoML 1.4 services for the same model ($SERVING_MODEL, a joblib file).

BreastCancer: the documented sklearn pattern, np.ndarray in and out, one worker (default).
BreastCancerBatched: the same with adaptive batching (batchable=True, max_batch_size=64,
max_latency_ms=1000). Body {"input": [[30 floats]]} on POST /predict.

  (cwd benchmarks/serving) BENTOML_DO_NOT_TRACK=true bentoml serve \
      bentoml_service:BreastCancer --host 127.0.0.1 --port PORT
"""

import os

import bentoml
import numpy as np


def _load():
    import joblib

    model = joblib.load(os.environ["SERVING_MODEL"])
    model.predict(np.zeros((1, 30)))
    return model


@bentoml.service
class BreastCancer:
    def __init__(self) -> None:
        self.model = _load()

    @bentoml.api
    def predict(self, input: np.ndarray) -> np.ndarray:
        return self.model.predict(input)


@bentoml.service
class BreastCancerBatched:
    def __init__(self) -> None:
        self.model = _load()

    @bentoml.api(batchable=True, max_batch_size=64, max_latency_ms=1000)
    def predict(self, input: np.ndarray) -> np.ndarray:
        return self.model.predict(input)
