"""Fit the benchmark model and write the request bodies (run with the stack venv's python).

Model: LogisticRegression(max_iter=1000, random_state=0) on sklearn's load_breast_cancer
(30 features), as in the serving anchors. Bodies: V2 JSON for X[0] (class 0) and X[13]
(class 1). Each value is nudged by a relative 1e-13 so it prints with full float64
precision (what a client sending computed features sends), giving a ~690-byte body as
Python's json.dumps / requests(json=...) would produce it. The prediction is unchanged.
"""
import json
import os
import sys
import warnings

import joblib
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".work", "serving_stack")
os.makedirs(out, exist_ok=True)
X, y = load_breast_cancer(return_X_y=True)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # lbfgs does not fully converge at 1000 iterations
    model = LogisticRegression(max_iter=1000, random_state=0).fit(X, y)
joblib.dump(model, os.path.join(out, "model.joblib"))
for idx in (0, 13):
    row = [float(v) * (1 + 1e-13 * (i + 1)) for i, v in enumerate(X[idx])]
    body = json.dumps({"inputs": [{"name": "input-0", "shape": [1, 30],
                                   "datatype": "FP64", "data": row}]})
    with open(os.path.join(out, f"body_x{idx}.json"), "w") as f:
        f.write(body)
    print(f"x{idx}: class {int(model.predict([row])[0])} (label {y[idx]}), body {len(body)} bytes")
print("train accuracy", round(model.score(X, y), 3), "->", out)
