"""LitServe 0.2 server for the same model ($SERVING_MODEL, a joblib file).

  python litserve_app.py PORT [MAX_BATCH_SIZE [BATCH_TIMEOUT_S]]

Defaults otherwise (1 API server process + 1 inference worker). Body {"input": [30 floats]} on
POST /predict; answers {"prediction": int}. With MAX_BATCH_SIZE > 1, LitServe stacks the
decoded rows and calls predict once per batch.
"""

import os
import sys

import joblib
import litserve as ls
import numpy as np


class BreastCancerAPI(ls.LitAPI):
    def setup(self, device):
        self.model = joblib.load(os.environ["SERVING_MODEL"])
        self.model.predict(np.zeros((1, 30)))

    def decode_request(self, request):
        return request["input"]

    def predict(self, x):
        return self.model.predict(np.asarray([x]))[0]

    def encode_response(self, output):
        return {"prediction": int(output)}


class BreastCancerBatchedAPI(BreastCancerAPI):
    def batch(self, inputs):
        return np.asarray(inputs)

    def predict(self, x):
        return self.model.predict(x)

    def unbatch(self, output):
        return list(output)


if __name__ == "__main__":
    port = int(sys.argv[1])
    max_batch = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    cls = BreastCancerBatchedAPI if max_batch > 1 else BreastCancerAPI
    api = cls(max_batch_size=max_batch, batch_timeout=timeout)
    server = ls.LitServer(api, accelerator="cpu")
    server.run(host="127.0.0.1", port=port, generate_client_file=False)
