"""The bad releases a canary must catch; each wraps the good model and is bad in one way.

They are registered with cloudpickle by value (see `bench_controller.register_models`), so the
server process loads them without this folder on its path.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np


class Raising:
    """Fails every request: a release that cannot load a feature, say."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, X: Any) -> np.ndarray:
        raise RuntimeError("bad release: every prediction fails")


class Flaky:
    """Right answers, but fails any batch holding a row whose first feature is above `limit`."""

    def __init__(self, model: Any, limit: float) -> None:
        self.model, self.limit = model, limit

    def predict(self, X: Any) -> np.ndarray:
        if (np.asarray(X, dtype=float)[:, 0] > self.limit).any():
            raise RuntimeError("bad release: unsupported input range")
        return _predict(self.model, X)


class Slow:
    """Right answers, `delay_s` late on every call: a release with a slow new feature."""

    def __init__(self, model: Any, delay_s: float) -> None:
        self.model, self.delay_s = model, delay_s

    def predict(self, X: Any) -> np.ndarray:
        time.sleep(self.delay_s)  # after its first slow call the batcher moves it to a thread
        return _predict(self.model, X)


def _predict(model: Any, X: Any) -> np.ndarray:
    with warnings.catch_warnings():  # an array, where the model saw named columns: no matter
        warnings.simplefilter("ignore", UserWarning)
        return model.predict(X)
