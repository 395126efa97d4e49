"""A realistic retraining pipeline: load 1M rows x 20 features, split, train a gradient-boosted
model (HistGradientBoostingClassifier), evaluate its AUC.

`path` is a param (the Parquet file written by training_set.py); `rows` trims it (a smaller
warm-up run). sklearn is imported inside the steps, so loading the file stays cheap.
"""

from __future__ import annotations

import pandas as pd

from steadyml.pipelines import Pipeline, log_metrics, step

TARGET = "target"
MAX_ITER = 50


@step(outputs="data")
def load(path: str, rows: int = 0) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    return frame.iloc[:rows].reset_index(drop=True) if rows else frame


@step(outputs=("train", "holdout"))
def split(data: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    from sklearn.model_selection import train_test_split

    train, holdout = train_test_split(data, test_size=0.2, random_state=seed)
    return train.reset_index(drop=True), holdout.reset_index(drop=True)


@step(outputs="model")
def train(train: pd.DataFrame, max_iter: int = MAX_ITER, seed: int = 0):
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=max_iter, early_stopping=False,
                                           random_state=seed)
    return model.fit(train.drop(columns=TARGET), train[TARGET])


@step(outputs="auc")
def evaluate(model, holdout: pd.DataFrame) -> float:
    from sklearn.metrics import roc_auc_score

    scores = model.predict_proba(holdout.drop(columns=TARGET))[:, 1]
    auc = float(roc_auc_score(holdout[TARGET], scores))
    log_metrics({"auc": auc})
    return auc


realistic = Pipeline("bench-realistic", [load, split, train, evaluate], params={"seed": 7})


@step(outputs="data", name="load", cache=False)
def load_fresh(path: str, rows: int = 0) -> pd.DataFrame:
    # As the docs advise for a step reading a file that can change under the same path: it
    # runs every time, and the steps after it are reused when the data is unchanged.
    return load.fn(path, rows)


realistic_fresh = Pipeline("bench-realistic-fresh-load", [load_fresh, split, train, evaluate],
                           params={"seed": 7})
