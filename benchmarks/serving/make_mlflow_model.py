"""Save the benchmark model for `mlflow models serve` (run with the MLflow venv's python).

  python make_mlflow_model.py MODEL.joblib OUT_DIR

The same fitted object as every other peer, saved with mlflow.sklearn.save_model and a tensor
signature inferred from the numpy training matrix (MLflow's default serialization).
"""

import shutil
import sys

import joblib
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_breast_cancer

model_path, out = sys.argv[1], sys.argv[2]
model = joblib.load(model_path)
X, _y = load_breast_cancer(return_X_y=True)
shutil.rmtree(out, ignore_errors=True)
mlflow.sklearn.save_model(model, out, signature=infer_signature(X, model.predict(X)))
print("saved", out, "mlflow", mlflow.__version__)
