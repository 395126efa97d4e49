"""The serving ASGI app: Open Inference Protocol V2 on a lean path, everything else admin.

`/v2/...` and `/metrics` are answered here directly (no framework on the hot path);
every other path goes to the admin app (FastAPI, with its OpenAPI description at /docs).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson

from steadyml.serving.metrics import ServingMetrics
from steadyml.serving.protocol import (
    MAX_BODY_BYTES,
    ProtocolError,
    SignatureCodec,
    encode_error,
    encode_infer_response,
    model_metadata,
)
from steadyml.serving.routing import ArmName, answers
from steadyml.serving.runtime import ArmRuntime, DeploymentRuntime, Runtimes
from steadyml.store.predictions import PredictionLog

log = logging.getLogger("steadyml.serving")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON = [(b"content-type", b"application/json")]


class ServingApp:
    """Answer V2 inference for every deployment the runtimes hold."""

    def __init__(self, runtimes: Runtimes, *, metrics: ServingMetrics,
                 prediction_log: PredictionLog | None = None, admin: ASGIApp | None = None,
                 max_body_bytes: int = MAX_BODY_BYTES, poll_interval_s: float = 0.2,
                 on_startup: Callable[[], Awaitable[None]] | None = None,
                 on_shutdown: Callable[[], Awaitable[None]] | None = None,
                 on_circuit_open: Callable[[str, int, dict[str, Any]], None] | None = None
                 ) -> None:
        self.runtimes = runtimes
        self.metrics = metrics
        self.prediction_log = prediction_log
        self.admin = admin
        self.max_body_bytes = max_body_bytes
        self.poll_interval_s = poll_interval_s
        self.ready = False
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._on_circuit_open = on_circuit_open
        self._watcher: asyncio.Task[None] | None = None
        self._codecs: dict[int, SignatureCodec] = {}
        self._shadow_tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self._route(scope, receive, send)
        except Exception:  # a bug of ours: answer JSON, log it, keep serving
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            with contextlib.suppress(RuntimeError):  # the response had already started
                await _respond(send, 500, encode_error("Internal error; see the server log."))

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith("/v2"):
            await self._v2(scope, receive, send, path)
        elif path == "/metrics" and scope["method"] == "GET":
            await self._metrics(send)
        elif self.admin is not None:
            await self.admin(scope, receive, send)
        else:
            await _respond(send, 404, encode_error(f"No route {path}."))

    # --- lifespan --------------------------------------------------------------------------

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        if self._on_startup is not None:
            await self._on_startup()
        if self.prediction_log is not None:
            self.prediction_log.start()
        await self.runtimes.refresh()
        # Everything loaded so far (libraries, models) lives as long as the process: move it
        # out of the collector's reach, so full collections do not rescan it mid-request.
        gc.collect()
        gc.freeze()
        self._watcher = asyncio.get_running_loop().create_task(
            self.runtimes.watch(self.poll_interval_s))
        self.ready = True

    async def shutdown(self) -> None:
        """Stop taking changes, finish queued predictions, then flush the prediction log."""
        self.ready = False
        if self._watcher is not None:
            self._watcher.cancel()
        await self.runtimes.stop()
        if self._shadow_tasks:
            await asyncio.gather(*self._shadow_tasks, return_exceptions=True)
        if self.prediction_log is not None:
            await asyncio.to_thread(self.prediction_log.close)
        if self._on_shutdown is not None:
            await self._on_shutdown()
        # Undo startup's gc.freeze: what the app held (models, DuckDB handles) is garbage now
        # and must be released before the interpreter ends, in-process servers included.
        gc.unfreeze()
        gc.collect()

    # --- V2 --------------------------------------------------------------------------------

    async def _v2(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        parts = path.rstrip("/").split("/")[2:]  # after "", "v2"
        method = scope["method"]
        if parts == ["health", "live"] and method == "GET":
            await _respond(send, 200, b'{"live":true}')
        elif parts == ["health", "ready"] and method == "GET":
            await _respond(send, 200 if self.ready else 503,
                           orjson.dumps({"ready": self.ready}))
        elif len(parts) >= 2 and parts[0] == "models":
            await self._model_route(scope, receive, send, parts[1:], method)
        else:
            await _respond(send, 404, encode_error(f"No route {path}."))

    async def _model_route(self, scope: Scope, receive: Receive, send: Send,
                           rest: list[str], method: str) -> None:
        name, version = rest[0], None
        if len(rest) >= 3 and rest[1] == "versions":
            version, rest = rest[2], [rest[0], *rest[3:]]
        runtime = self.runtimes.by_name.get(name)
        tail = rest[1:]
        if tail == ["infer"]:
            if method != "POST":
                await _respond(send, 405, encode_error("Use POST for inference."))
                return
            await self._infer(scope, receive, send, name, runtime, version)
            return
        if method != "GET" or tail not in ([], ["ready"]):
            await _respond(send, 404, encode_error(f"No route {scope['path']}."))
            return
        if runtime is None:
            problem = self.runtimes.errors.get(name) or f"Deployment {name!r} is not served here."
            await _respond(send, 404, encode_error(problem))
            return
        arm = _arm_for_version(runtime, version)
        if arm is None:
            await _respond(send, 404, encode_error(
                f"Deployment {name!r} does not serve version {version}."))
            return
        if tail == ["ready"]:
            await _respond(send, 200, orjson.dumps({"name": name, "ready": True}))
            return
        meta = model_metadata(name=name, versions=[str(a.arm.version) for a in runtime.arms()],
                              platform=arm.model.version.flavor,
                              signature=arm.model.signature)
        await _respond(send, 200, orjson.dumps(meta))

    async def _infer(self, scope: Scope, receive: Receive, send: Send, name: str,
                     runtime: DeploymentRuntime | None, version: str | None) -> None:
        started = time.perf_counter()
        headers = dict(scope["headers"])
        if runtime is None:
            await _drain(receive)
            problem = self.runtimes.errors.get(name) or (
                f"Deployment {name!r} does not exist or serves nothing yet. List deployments "
                "with `steady deployments list`.")
            await _respond(send, 404, encode_error(problem))
            return
        content_type = headers.get(b"content-type", b"application/json").split(b";")[0]
        if content_type.strip().lower() != b"application/json":
            await _drain(receive)
            await _respond(send, 415, encode_error(
                f"Content-Type must be application/json, got {content_type.decode(errors='replace')!r}."))
            return
        try:
            body = await _read_body(receive, self.max_body_bytes)
        except ProtocolError as exc:
            await _respond(send, exc.status, encode_error(str(exc)))
            return
        if version is not None:
            arm = _arm_for_version(runtime, version)
            if arm is None or arm.name is ArmName.SHADOW:
                await _respond(send, 404, encode_error(
                    f"Deployment {name!r} does not serve version {version}."))
                return
        else:
            key = headers.get(runtime.revision.config.routing_header.encode())
            arm = runtime.candidate if (runtime.candidate is not None and answers(
                runtime.candidate_percent, key) is ArmName.CANDIDATE) else runtime.stable
        assert arm is not None
        label = arm.arm.ref
        try:
            request = self._codec(arm).decode(body, max_bytes=self.max_body_bytes)
        except ProtocolError as exc:
            self.metrics.errors.labels(name, arm.name, label, "input").inc()
            await _respond(send, exc.status, encode_error(str(exc)))
            return
        request_id = request.id or _header(headers, b"x-request-id") or uuid.uuid4().hex
        try:
            outputs = await self._predict(runtime, arm, request, request_id, started)
        except Exception as exc:
            # Fall back only when the router chose the candidate, not when the client did.
            fallback = runtime.stable if arm.breaker is not None and version is None else None
            self._failed(runtime, arm, exc, request, request_id, started)
            if fallback is None:
                await _respond(send, *_failure(runtime, arm, exc), request_id)
                return
            # A candidate failed: stable answers instead, so the client sees no error.
            try:
                request = self._codec(fallback).decode(body, max_bytes=self.max_body_bytes)
                arm, outputs = fallback, await self._predict(runtime, fallback, request,
                                                             request_id, started)
            except Exception as again:
                self._failed(runtime, fallback, again, request, request_id, started)
                await _respond(send, *_failure(runtime, fallback, again), request_id)
                return
        else:
            if arm.breaker is not None:
                arm.breaker.record(True)
        label = arm.arm.ref
        response = encode_infer_response(model_name=name, model_version=str(arm.arm.version),
                                         request_id=request_id, outputs=outputs)
        await _respond(send, 200, response, request_id)
        latency = time.perf_counter() - started
        self.metrics.observe(name, arm.name.value, label, latency, ok=True)
        shadow = runtime.shadow
        if shadow is not None:
            task = asyncio.get_running_loop().create_task(
                self._mirror(runtime, shadow, body, request_id))
            self._shadow_tasks.add(task)
            task.add_done_callback(self._shadow_tasks.discard)

    async def _predict(self, runtime: DeploymentRuntime, arm: ArmRuntime, request: Any,
                       request_id: str, started: float) -> Any:
        # The batcher records the prediction in the log, once per model call. asyncio.timeout
        # rather than wait_for: no extra task per request.
        async with asyncio.timeout(runtime.revision.config.timeout_ms / 1000):
            return await arm.batcher.submit(request.features, request.rows,
                                            request_id=request_id, started=started)

    def _failed(self, runtime: DeploymentRuntime, arm: ArmRuntime, exc: Exception,
                request: Any, request_id: str, started: float) -> None:
        """Count and log a failed prediction; open the candidate's circuit on too many."""
        name, label = runtime.revision.deployment, arm.arm.ref
        kind = "timeout" if isinstance(exc, TimeoutError) else "model"
        self.metrics.errors.labels(name, arm.name, label, kind).inc()
        elapsed_s = time.perf_counter() - started
        self.metrics.observe(name, arm.name.value, label, elapsed_s, ok=False)
        self._log_failure(runtime, arm, request, request_id, elapsed_s,
                          "timeout" if kind == "timeout" else "error")
        log.warning("%s %s failed on request %s: %s", name, label, request_id,
                    exc or type(exc).__name__)
        if arm.breaker is not None and arm.breaker.record(False):
            evidence = {"candidate": label, **arm.breaker.evidence()}
            log.error("%s: circuit opened on candidate %s (%s); stable answers everything",
                      name, label, evidence)
            if self._on_circuit_open is not None:
                task = asyncio.get_running_loop().create_task(asyncio.to_thread(
                    self._on_circuit_open, name, runtime.revision.revision, evidence))
                self._shadow_tasks.add(task)
                task.add_done_callback(self._shadow_tasks.discard)

    def _log_failure(self, runtime: DeploymentRuntime, arm: ArmRuntime, request: Any,
                     request_id: str, elapsed_s: float, status: str) -> None:
        """Log the request's rows with NaN outputs, so error rates can be read from the log."""
        if self.prediction_log is None:
            return
        try:
            self.prediction_log.append_batch(
                request_id=request_id, deployment=runtime.revision.deployment,
                revision=runtime.revision.revision, model=arm.arm.model,
                model_version=arm.arm.version, arm=arm.name.value,
                ts_ms=time.time_ns() // 1_000_000, latency_ms=elapsed_s * 1000,
                inputs=request.features, outputs=np.full(request.rows, np.nan),
                feature_names=arm.model.signature.feature_names, status=status)
        except Exception:  # logging must never fail the response
            log.exception("could not log the failed request %s", request_id)

    async def _mirror(self, runtime: DeploymentRuntime, shadow: ArmRuntime, body: bytes,
                      request_id: str) -> None:
        """Answer a mirrored copy with the shadow arm: logged, never returned."""
        started = time.perf_counter()
        name, label = runtime.revision.deployment, shadow.arm.ref
        try:
            request = self._codec(shadow).decode(body, max_bytes=self.max_body_bytes)
            await self._predict(runtime, shadow, request, request_id, started)
        except Exception as exc:
            self.metrics.errors.labels(name, shadow.name, label, type(exc).__name__).inc()
            return
        self.metrics.observe(name, shadow.name.value, label, time.perf_counter() - started,
                             ok=True)

    def _codec(self, arm: ArmRuntime) -> SignatureCodec:
        key = id(arm.model)
        codec = self._codecs.get(key)
        if codec is None:
            codec = self._codecs[key] = SignatureCodec(arm.model.signature)
        return codec

    async def _metrics(self, send: Send) -> None:
        by_name = self.runtimes.by_name
        gauges = {
            "queue_depth": {(n, a.name.value): a.batcher.depth
                            for n, r in by_name.items() for a in r.arms()},
            "revision": {n: r.revision.revision for n, r in by_name.items()},
            "log_dropped": (self.prediction_log.stats["dropped"]
                            if self.prediction_log is not None else 0),
        }
        prices = {n: r.revision.config.price_per_core_hour for n, r in by_name.items()}
        body = await asyncio.to_thread(self.metrics.exposition, prices=prices, gauges=gauges)
        await _respond(send, 200, body, content_type=b"text/plain; version=0.0.4; charset=utf-8")


def _failure(runtime: DeploymentRuntime, arm: ArmRuntime, exc: Exception) -> tuple[int, bytes]:
    if isinstance(exc, TimeoutError):
        return 504, encode_error(f"Model {arm.arm.ref} did not answer within "
                                 f"{runtime.revision.config.timeout_ms:g} ms.")
    return 500, encode_error(f"Model {arm.arm.ref} failed: {exc}")


def _arm_for_version(runtime: DeploymentRuntime, version: str | None) -> ArmRuntime | None:
    if version is None:
        return runtime.stable
    for arm in runtime.arms():
        if version in (str(arm.arm.version), arm.arm.ref):
            return arm
    return None


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1")[:128] if value else None


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            await _drain(receive, message)
            raise ProtocolError(f"The request body is over the {limit} byte limit.", status=413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _drain(receive: Receive, last: dict[str, Any] | None = None) -> None:
    message = last
    while message is None or message.get("more_body", False):
        message = await receive()
        if message["type"] != "http.request":
            return


async def _respond(send: Send, status: int, body: bytes, request_id: str | None = None, *,
                   content_type: bytes = b"application/json") -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if request_id is not None:
        headers.append((b"x-request-id", request_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
