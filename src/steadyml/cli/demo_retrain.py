"""The demo's retraining pipeline: what the controller runs when drift is sustained.

    steady pipeline run demo_retrain.py:retrain --trigger drift -p path=batch.parquet

It reads the newest labelled batch, validates it against the training data's profile (schema,
missing values, row count: the batch is expected to have drifted, so its ranges and quantiles
are not held against it), retrains, checks the new model against the champion on the batch's
holdout, registers it with its gate results and lineage, and starts it as a 25 % canary that
the controller then promotes or rolls back.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from steadyml.pipelines import (
    DataChecks,
    ModelChecks,
    Pipeline,
    data_gate,
    deploy_step,
    model_gate,
    register_step,
    step,
)

MODEL = "diagnosis"
DEPLOYMENT = "diagnosis-api"
TRAINING_DATASET = "cancer-train"


@step(outputs="batch", cache=False)  # the file at `path` changes; its content is fingerprinted
def load(path: str) -> pd.DataFrame:
    batch = pd.read_parquet(path)
    print(f"read {len(batch)} labelled rows from {path}")
    return batch


@step(outputs=("train", "holdout"))
def split(checked: pd.DataFrame, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    train, holdout = train_test_split(checked, test_size=0.3, random_state=seed,
                                      stratify=checked["target"])
    return train, holdout


@step(outputs="model")
def train(train: pd.DataFrame) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=500))
    return model.fit(train.drop(columns="target"), train["target"])


retrain = Pipeline("diagnosis-retrain", [
    load,
    data_gate(data="batch", reference=f"dataset:{TRAINING_DATASET}", passthrough="checked",
              checks=DataChecks(max_null_rate_increase=0.05, min_rows=200,
                                quantile_shift_iqr=None, max_out_of_range_share=None)),
    split,
    train,
    model_gate(model="model", holdout="holdout", target="target", model_name=MODEL,
               checks=ModelChecks(metrics={"accuracy": {"min": 0.9}, "roc_auc": {"min": 0.95}},
                                  compare_metric="accuracy", min_improvement=0.0)),
    register_step(MODEL, gates=("data_gate", "model_gate"), training="train",
                  example="holdout", target="target"),
    deploy_step(DEPLOYMENT, canary=25),
], target=DEPLOYMENT)
