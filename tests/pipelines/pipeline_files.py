"""The text of pipeline files the tests write to disk and load like the CLI does."""

# A small but real retraining pipeline: data -> split -> GradientBoosting -> AUC.
CHURN = '''
import logging

import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from steadyml.pipelines import Pipeline, log_metrics, step

log = logging.getLogger("churn")


@step(outputs="data")
def load(rows: int = 300) -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame.iloc[:rows, [0, 1, 2, 3, -1]]
    frame.columns = ["a", "b", "c", "d", "target"]
    print(f"loaded {len(frame)} rows")
    return frame


@step(outputs=("train", "holdout"))
def split(data: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    return tuple(train_test_split(data, test_size=0.25, random_state=seed))


@step(outputs="model")
def train(train: pd.DataFrame, n_estimators: int = 10, learning_rate: float = 0.1,
          seed: int = 0):
    log.info("training %d trees", n_estimators)
    return GradientBoostingClassifier(n_estimators=n_estimators, learning_rate=learning_rate,
                                      random_state=seed).fit(train.drop(columns="target"),
                                                             train["target"])


@step(outputs="auc")
def evaluate(model, holdout: pd.DataFrame) -> float:
    scores = model.predict_proba(holdout.drop(columns="target"))[:, 1]
    auc = float(roc_auc_score(holdout["target"], scores))
    log_metrics({"auc": auc})
    return auc


churn = Pipeline("churn-retrain", [evaluate, train, split, load], params={"seed": 7})
'''

