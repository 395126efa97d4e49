"""KServe Open Inference Protocol V2 REST app variants for the serving-stack benchmark.

One module, configured by environment variables (so every HTTP server and every worker
process loads the same variant with the same ``app:app`` target):

  STACK_FRAMEWORK   raw | starlette | fastapi            (default raw)
  STACK_CODEC       json | orjson | msgspec              (raw/starlette only; default orjson)
  STACK_MODE        noop | parse | predict | batch       (default noop)
                      noop    : fixed, pre-encoded response; the body is not decoded
                      parse   : decode + validate the V2 body into a (1, 30) float64 array,
                                encode a response (fixed probabilities) with the codec
                      predict : parse + model.predict_proba on that one row, inline
                      batch   : parse + micro-batcher (max STACK_BATCH_MAX rows, max wait
                                STACK_BATCH_WAIT_MS), one predict_proba per batch
  STACK_BATCH_MAX   default 64
  STACK_BATCH_WAIT_MS default 1  (float)
  STACK_BATCH_EXEC  inline | thread   (thread = asyncio.to_thread for the batch predict)
  STACK_MODEL       path of the joblib model (written by make_model.py)

Only POST /v2/models/breast-cancer/infer is served (404 for any other model/path).
"""

import asyncio
import json
import os
import uuid
from typing import Any

import numpy as np

FRAMEWORK = os.environ.get("STACK_FRAMEWORK", "raw")
CODEC = os.environ.get("STACK_CODEC", "orjson")
MODE = os.environ.get("STACK_MODE", "noop")
BATCH_MAX = int(os.environ.get("STACK_BATCH_MAX", "64"))
BATCH_WAIT = float(os.environ.get("STACK_BATCH_WAIT_MS", "1")) / 1000.0
BATCH_EXEC = os.environ.get("STACK_BATCH_EXEC", "inline")
MODEL_PATH = os.environ.get(
    "STACK_MODEL",
    os.path.join(os.path.dirname(__file__), "..", ".work", "serving_stack", "model.joblib"),
)
MODEL_NAME = "breast-cancer"
N_FEATURES = 30
INFER_PATH = f"/v2/models/{MODEL_NAME}/infer"

if MODE in ("predict", "batch"):
    import joblib

    MODEL = joblib.load(MODEL_PATH)
    MODEL.predict_proba(np.zeros((1, N_FEATURES)))  # warm sklearn's lazy imports
else:
    MODEL = None


class BadRequest(Exception):
    pass


# --------------------------------------------------------------------------- codecs
def _check_and_array(inp: Any, name, shape, datatype, data) -> np.ndarray:
    if datatype != "FP64":
        raise BadRequest("datatype must be FP64")
    if len(shape) != 2 or shape[1] != N_FEATURES or shape[0] * shape[1] != len(data):
        raise BadRequest(f"shape must be [n, {N_FEATURES}] and match len(data)")
    try:
        return np.asarray(data, dtype=np.float64).reshape(shape[0], shape[1])
    except (TypeError, ValueError) as exc:
        raise BadRequest(str(exc)) from None


def _from_dict(doc: Any) -> tuple[np.ndarray, str | None]:
    try:
        inp = doc["inputs"][0]
        return (
            _check_and_array(inp, inp["name"], inp["shape"], inp["datatype"], inp["data"]),
            doc.get("id"),
        )
    except (KeyError, IndexError, TypeError) as exc:
        raise BadRequest(f"malformed V2 request: {exc!r}") from None


def _response_dict(rid: str, probs: list[float], n: int) -> dict:
    return {
        "model_name": MODEL_NAME,
        "id": rid,
        "outputs": [
            {"name": "predict_proba", "shape": [n, 2], "datatype": "FP64", "data": probs}
        ],
    }


if CODEC == "json":

    def decode(body: bytes):
        try:
            return _from_dict(json.loads(body))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    def encode(rid: str, probs: list[float], n: int = 1) -> bytes:
        return json.dumps(_response_dict(rid, probs, n), separators=(",", ":")).encode()

elif CODEC == "orjson":
    import orjson

    def decode(body: bytes):
        try:
            return _from_dict(orjson.loads(body))
        except orjson.JSONDecodeError as exc:
            raise BadRequest(str(exc)) from None

    def encode(rid: str, probs: list[float], n: int = 1) -> bytes:
        return orjson.dumps(_response_dict(rid, probs, n))

elif CODEC == "msgspec":
    import msgspec

    class RequestInput(msgspec.Struct):
        name: str
        shape: list[int]
        datatype: str
        data: list[float]

    class InferenceRequest(msgspec.Struct):
        inputs: list[RequestInput]
        id: str | None = None

    class ResponseOutput(msgspec.Struct):
        name: str
        shape: list[int]
        datatype: str
        data: list[float]

    class InferenceResponse(msgspec.Struct):
        model_name: str
        id: str
        outputs: list[ResponseOutput]

    _dec = msgspec.json.Decoder(InferenceRequest)
    _enc = msgspec.json.Encoder()

    def decode(body: bytes):
        try:
            req = _dec.decode(body)
        except msgspec.DecodeError as exc:  # includes ValidationError
            raise BadRequest(str(exc)) from None
        if not req.inputs:
            raise BadRequest("no inputs")
        inp = req.inputs[0]
        return _check_and_array(inp, inp.name, inp.shape, inp.datatype, inp.data), req.id

    def encode(rid: str, probs: list[float], n: int = 1) -> bytes:
        return _enc.encode(
            InferenceResponse(
                MODEL_NAME, rid, [ResponseOutput("predict_proba", [n, 2], "FP64", probs)]
            )
        )

else:
    raise SystemExit(f"unknown STACK_CODEC {CODEC!r}")

def new_id() -> str:
    return uuid.uuid4().hex


FIXED_PROBS = [0.9999, 0.0001]
# (a) no-op: one pre-encoded response, same shape as a real one
NOOP_BODY = json.dumps(_response_dict("00000000000000000000000000000000", FIXED_PROBS, 1),
                       separators=(",", ":")).encode()


# --------------------------------------------------------------------------- batcher
class MicroBatcher:
    """Coalesce single-row requests; one predict_proba per batch.

    A pending list + one consumer task (equivalent to an asyncio.Queue with a single
    consumer, without Queue's per-item overhead). The consumer waits for the first row,
    then until the batch is full (BATCH_MAX) or BATCH_WAIT has passed since that first
    row, then predicts the whole batch inline (blocking the loop) or via asyncio.to_thread
    (the loop keeps accepting requests; at most one batch in flight).
    """

    def __init__(self, max_batch: int, max_wait: float, use_thread: bool):
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.use_thread = use_thread
        self.pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self.wakeup: asyncio.Future | None = None
        self.full: asyncio.Future | None = None
        self.task: asyncio.Task | None = None
        self.batches = 0
        self.rows = 0

    def submit(self, x: np.ndarray) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        if self.task is None:
            self.task = loop.create_task(self._run())
        fut = loop.create_future()
        self.pending.append((x, fut))
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)
        if (len(self.pending) >= self.max_batch and self.full is not None
                and not self.full.done()):
            self.full.set_result(None)
        return fut

    @staticmethod
    def _wake(fut: asyncio.Future) -> None:
        if not fut.done():
            fut.set_result(None)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.pending:
                self.wakeup = loop.create_future()
                await self.wakeup
                self.wakeup = None
            if len(self.pending) < self.max_batch and self.max_wait > 0:
                self.full = loop.create_future()
                handle = loop.call_later(self.max_wait, self._wake, self.full)
                await self.full
                handle.cancel()
                self.full = None
            batch = self.pending[: self.max_batch]
            del self.pending[: self.max_batch]
            X = np.concatenate([b[0] for b in batch]) if len(batch) > 1 else batch[0][0]
            try:
                if self.use_thread:
                    P = await asyncio.to_thread(MODEL.predict_proba, X)
                else:
                    P = MODEL.predict_proba(X)
            except Exception as exc:  # pragma: no cover - surfaced to every waiter
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            self.batches += 1
            self.rows += len(batch)
            rows = P.tolist()
            for (_, fut), row in zip(batch, rows):
                if not fut.done():
                    fut.set_result(row)


BATCHER = MicroBatcher(BATCH_MAX, BATCH_WAIT, BATCH_EXEC == "thread") if MODE == "batch" else None


async def infer_bytes(body: bytes) -> bytes:
    """Mode-dependent core shared by the raw and Starlette apps: body bytes -> response bytes."""
    X, rid = decode(body)
    rid = rid or new_id()
    if MODE == "parse":
        return encode(rid, FIXED_PROBS, 1)
    if MODE == "predict":
        return encode(rid, MODEL.predict_proba(X).ravel().tolist(), X.shape[0])
    # batch: single-row requests go through the batcher; multi-row ones predict directly
    if X.shape[0] == 1:
        probs = await BATCHER.submit(X)
        return encode(rid, probs, 1)
    return encode(rid, MODEL.predict_proba(X).ravel().tolist(), X.shape[0])


# --------------------------------------------------------------------------- raw ASGI
JSON_HEADERS = [(b"content-type", b"application/json")]


async def _send_simple(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def raw_app(scope, receive, send):
    t = scope["type"]
    if t == "http":
        if scope["path"] == "/stats" and BATCHER is not None:  # batcher counters (this worker)
            await _send_simple(send, 200, json.dumps(
                {"pid": os.getpid(), "batches": BATCHER.batches, "rows": BATCHER.rows}).encode())
            return
        if scope["method"] != "POST" or scope["path"] != INFER_PATH:
            await _send_simple(send, 404, b'{"error":"not found"}')
            return
        if MODE == "noop":
            await _send_simple(send, 200, NOOP_BODY)
            return
        msg = await receive()
        body = msg.get("body", b"")
        if msg.get("more_body"):
            parts = [body]
            while msg.get("more_body"):
                msg = await receive()
                parts.append(msg.get("body", b""))
            body = b"".join(parts)
        try:
            out = await infer_bytes(body)
        except BadRequest as exc:
            await _send_simple(send, 400, json.dumps({"error": str(exc)}).encode())
            return
        await _send_simple(send, 200, out)
    elif t == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


# --------------------------------------------------------------------------- Starlette
def make_starlette():
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def infer(request):
        if request.path_params["model_name"] != MODEL_NAME:
            return Response(b'{"error":"model not found"}', 404, media_type="application/json")
        if MODE == "noop":
            return Response(NOOP_BODY, media_type="application/json")
        body = await request.body()
        try:
            out = await infer_bytes(body)
        except BadRequest as exc:
            return Response(json.dumps({"error": str(exc)}).encode(), 400,
                            media_type="application/json")
        return Response(out, media_type="application/json")

    return Starlette(routes=[Route("/v2/models/{model_name}/infer", infer, methods=["POST"])])


# --------------------------------------------------------------------------- FastAPI
def make_fastapi():
    from fastapi import FastAPI, HTTPException, Response
    from pydantic import BaseModel

    class RequestInput(BaseModel):
        name: str
        shape: list[int]
        datatype: str
        data: list[float]

    class InferenceRequest(BaseModel):
        id: str | None = None
        inputs: list[RequestInput]

    class ResponseOutput(BaseModel):
        name: str
        shape: list[int]
        datatype: str
        data: list[float]

    class InferenceResponse(BaseModel):
        model_name: str
        id: str
        outputs: list[ResponseOutput]

    api = FastAPI()

    if MODE == "noop":
        @api.post("/v2/models/{model_name}/infer")
        async def infer_noop(model_name: str):
            if model_name != MODEL_NAME:
                raise HTTPException(404, "model not found")
            return Response(NOOP_BODY, media_type="application/json")

        return api

    def to_array(req: InferenceRequest) -> np.ndarray:
        if not req.inputs:
            raise HTTPException(400, "no inputs")
        inp = req.inputs[0]
        try:
            return _check_and_array(inp, inp.name, inp.shape, inp.datatype, inp.data)
        except BadRequest as exc:
            raise HTTPException(400, str(exc)) from None

    def response(rid: str, probs: list[float], n: int) -> InferenceResponse:
        return InferenceResponse(
            model_name=MODEL_NAME, id=rid,
            outputs=[ResponseOutput(name="predict_proba", shape=[n, 2], datatype="FP64",
                                    data=probs)])

    @api.post("/v2/models/{model_name}/infer", response_model=InferenceResponse)
    async def infer(model_name: str, req: InferenceRequest) -> InferenceResponse:
        if model_name != MODEL_NAME:
            raise HTTPException(404, "model not found")
        X = to_array(req)
        rid = req.id or new_id()
        if MODE == "parse":
            return response(rid, FIXED_PROBS, 1)
        if MODE == "predict" or X.shape[0] != 1:
            return response(rid, MODEL.predict_proba(X).ravel().tolist(), X.shape[0])
        return response(rid, await BATCHER.submit(X), 1)

    return api


if FRAMEWORK == "raw":
    app = raw_app
elif FRAMEWORK == "starlette":
    app = make_starlette()
elif FRAMEWORK == "fastapi":
    app = make_fastapi()
else:
    raise SystemExit(f"unknown STACK_FRAMEWORK {FRAMEWORK!r}")
