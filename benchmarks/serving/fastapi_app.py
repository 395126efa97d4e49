"""Plain FastAPI baseline: one `async def` endpoint calling `model.predict` on the row.

Body {"input": [30 floats]} on POST /predict; answers {"prediction": int}. The model is the
joblib file named by $SERVING_MODEL (the same fitted object every peer serves).

  uvicorn --app-dir benchmarks/serving fastapi_app:app --loop uvloop --http httptools \
      --no-access-log --log-level warning --host 127.0.0.1 --port PORT
"""

import os

import joblib
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load(os.environ["SERVING_MODEL"])
model.predict(np.zeros((1, 30)))  # warm sklearn's lazy imports before traffic
app = FastAPI()


class Row(BaseModel):
    input: list[float]


@app.post("/predict")
async def predict(row: Row) -> dict[str, int]:
    return {"prediction": int(model.predict(np.asarray([row.input]))[0])}
