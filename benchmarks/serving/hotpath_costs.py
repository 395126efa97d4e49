"""Cost of each step of steadyml's V2 infer path, in one process, without HTTP.

  .venv/bin/python benchmarks/serving/hotpath_costs.py STEADY_HOME

STEADY_HOME must hold model cancer:1 deployed as cancer-api (bench_serving.py makes one).
Times each step alone (µs per call, median of 5 rounds), then drives the whole ASGI app
(`create_app`, the one `steady server` runs) with 64 concurrent in-process clients and no
HTTP server, and the no-op ASGI app the same way: the app's own cost per request, to set
against the server's CPU per request measured under wrk (the rest is uvicorn + the kernel).
Prints a RESULT {...} JSON line last.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import orjson

from steadyml import Platform, Settings
from steadyml.serving.metrics import ServingMetrics
from steadyml.serving.protocol import SignatureCodec, encode_infer_response
from steadyml.serving.runtime import model_input
from steadyml.serving.server import create_app
from steadyml.store.predictions import PredictionLog

sys.path.insert(0, str(Path(__file__).resolve().parent))
import noop_app  # noqa: E402


def per_call_us(fn, n: int = 20000, rounds: int = 5) -> float:
    fn()
    out = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - start) / n * 1e6)
    return round(statistics.median(out), 2)


def main() -> None:
    home = Path(sys.argv[1])
    platform = Platform(Settings(home=home))
    loaded = platform.registry.load("cancer:1")
    body = Path(home).parent.joinpath("v2_x0.json").read_bytes() \
        if Path(home).parent.joinpath("v2_x0.json").exists() else orjson.dumps(
            {"inputs": [{"name": "input-0", "shape": [1, 30], "datatype": "FP64",
                         "data": [0.0] * 30}]})
    codec = SignatureCodec(loaded.signature)
    request = codec.decode(body)
    predict = model_input(loaded)
    x1 = request.features
    x64 = np.repeat(x1, 64, axis=0)
    out1 = np.asarray(predict(x1))
    metrics = ServingMetrics()
    tmp = tempfile.mkdtemp(prefix="steady-hotpath-")
    plog = PredictionLog(tmp)
    plog.start()

    steps = {
        "orjson.loads(body)": per_call_us(lambda: orjson.loads(body)),
        "SignatureCodec.decode(body) (includes the loads)": per_call_us(lambda: codec.decode(body)),
        "model predict, 1 row (sklearn LogisticRegression.predict)":
            per_call_us(lambda: predict(x1), n=2000),
        "model predict, 64 rows (one batch)": per_call_us(lambda: predict(x64), n=2000),
        "model predict, 64 rows, per row": 0.0,
        "np.concatenate of 64 one-row matrices": per_call_us(
            lambda: np.concatenate([x1] * 64), n=5000),
        "encode_infer_response": per_call_us(lambda: encode_infer_response(
            model_name="cancer-api", model_version="1", request_id="x" * 32, outputs=out1)),
        "uuid.uuid4().hex (request id)": per_call_us(lambda: uuid.uuid4().hex),
        "metrics.observe (Prometheus counter + histogram + live window)": per_call_us(
            lambda: metrics.observe("cancer-api", "stable", "cancer:1", 0.001, ok=True)),
        "metrics.record_batch (per batch)": per_call_us(
            lambda: metrics.record_batch("cancer-api", "cancer:1", 64, 0.0002)),
        "PredictionLog.append_batch, 1 row (enqueue only; writing is on its thread)":
            per_call_us(lambda: plog.append_batch(
                request_id="x" * 32, deployment="cancer-api", revision=1, model="cancer",
                model_version=1, arm="stable", ts_ms=0, latency_ms=1.0, inputs=x1,
                outputs=out1, feature_names=loaded.signature.feature_names), n=5000),
    }
    steps["model predict, 64 rows, per row"] = round(
        steps["model predict, 64 rows (one batch)"] / 64, 2)
    plog.close()

    async def noop_like(rounds: int = 20000):
        loop = asyncio.get_running_loop()
        t = time.perf_counter()
        for _ in range(rounds):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, 1)
            await asyncio.wait_for(fut, 2.0)
        with_wait_for = (time.perf_counter() - t) / rounds * 1e6
        t = time.perf_counter()
        for _ in range(rounds):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, 1)
            await fut
        bare = (time.perf_counter() - t) / rounds * 1e6
        t = time.perf_counter()
        for _ in range(2000):
            await asyncio.to_thread(int)
        to_thread = (time.perf_counter() - t) / 2000 * 1e6
        return with_wait_for, bare, to_thread

    import uvloop

    wf, bare, tt = uvloop.run(noop_like())
    steps["asyncio.wait_for(future) minus a bare await (per request)"] = round(wf - bare, 2)
    steps["asyncio.to_thread round trip (per batch)"] = round(tt, 1)

    app = create_app(platform)

    async def run_app():
        await app.startup()
        try:
            return await _drive_in_loop(app, body, 64, 300)
        finally:
            await app.shutdown()

    app_result = uvloop.run(run_app())
    app_nolog = create_app(platform, log_predictions=False)

    async def run_app_nolog():
        await app_nolog.startup()
        try:
            return await _drive_in_loop(app_nolog, body, 64, 300)
        finally:
            await app_nolog.shutdown()

    nolog_result = uvloop.run(run_app_nolog())
    noop_result = uvloop.run(_drive_in_loop(noop_app.app, body, 64, 300))
    result = {"steps": steps, "app_in_process": app_result,
              "app_in_process_no_prediction_log": nolog_result,
              "noop_in_process": noop_result, "body_bytes": len(body)}
    for k, v in steps.items():
        print(f"{v:10.2f} µs  {k}")
    for k in ("app_in_process", "app_in_process_no_prediction_log", "noop_in_process"):
        print(k, result[k])
    print("RESULT " + json.dumps(result))


async def _drive_in_loop(app, body: bytes, clients: int, per_client: int) -> dict[str, float]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/v2/models/cancer-api/infer",
             "raw_path": b"/v2/models/cancer-api/infer", "query_string": b"",
             "root_path": "", "server": ("127.0.0.1", 8700), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"127.0.0.1:8700"), (b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]}
    statuses: dict[int, int] = {}
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive():
        return message

    async def send(msg):
        if msg["type"] == "http.response.start":
            statuses[msg["status"]] = statuses.get(msg["status"], 0) + 1

    async def client(n: int):
        for _ in range(n):
            await app(dict(scope), receive, send)

    await asyncio.gather(*(client(50) for _ in range(clients)))  # warm
    statuses.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(per_client) for _ in range(clients)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    n = clients * per_client
    return {"requests": n, "rps": round(n / wall), "wall_us_per_request": round(wall / n * 1e6, 1),
            "cpu_us_per_request": round(cpu / n * 1e6, 1), "statuses": statuses}


if __name__ == "__main__":
    main()
