"""Shared by the serving tests: two registered models behind a real server on port 0."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import steadyml
from steadyml import Platform, Settings
from steadyml.serving.server import BackgroundServer, create_app
from steadyml.store.predictions import PredictionLog


class Broken:
    """A model whose predict always raises."""

    def predict(self, X: Any) -> np.ndarray:
        raise RuntimeError("boom")


def wait_for(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def cancer_frame() -> pd.DataFrame:
    X, _ = load_breast_cancer(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" ", "_") for c in X.columns]
    return X


def infer_body(rows: np.ndarray, **extra: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": "FP64",
                        "data": rows.tolist()}], **extra}


@contextmanager
def serve_models(tmp_path: Path, data: pd.DataFrame, *,
                 broken: bool = True) -> Iterator[dict[str, Any]]:
    """Register cancer:1 and cancer:2 (and broken:1), deploy them, serve on a free port."""
    y = load_breast_cancer().target
    platform = Platform(Settings(home=tmp_path / "home", actor="tester"))
    models = []
    for c in (0.01, 10.0):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
        model.fit(data, y)
        with steadyml.start_run("e", platform=platform) as run:
            run.register_model("cancer", model, input_example=data)
        models.append(model)
    platform.deployments.deploy("cancer-api", "cancer:1")
    if broken:
        signature = steadyml.Signature.from_dict(platform.registry.get("cancer:1").signature)
        with steadyml.start_run("e", platform=platform) as run:
            run.register_model("broken", Broken(), input_example=data.head(3),
                               signature=signature)
        platform.deployments.deploy("broken-api", "broken:1")
    _, token = platform.tokens.create("test")
    log = PredictionLog(str(tmp_path / "logs"), flush_interval_s=0.2)
    app = create_app(platform, poll_interval_s=0.05, prediction_log=log)
    try:
        with BackgroundServer(app) as url, httpx.Client(base_url=url, timeout=10) as client:
            yield {"client": client, "platform": platform, "models": models, "data": data,
                   "token": token, "log": log, "app": app, "url": url}
    finally:
        platform.close()
