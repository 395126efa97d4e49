"""Build the serving app from a platform, and run it under uvicorn."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from steadyml.core.errors import ConflictError, SteadyError
from steadyml.core.settings import Settings
from steadyml.deployments import Arm, Reason, Revision
from steadyml.platform import Platform
from steadyml.registry import LoadedModel
from steadyml.serving.admin import create_admin
from steadyml.serving.admin_monitoring import Inspections
from steadyml.serving.app import ServingApp
from steadyml.serving.batching import Pending, PredictedHook
from steadyml.serving.metrics import ServingMetrics
from steadyml.serving.routing import ArmName
from steadyml.serving.runtime import ModelCache, RecorderFactory, Runtimes
from steadyml.store.predictions import PredictionLog

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700

log = logging.getLogger("steadyml.serving")


def create_app(platform: Platform, *, poll_interval_s: float = 0.2,
               prediction_log: PredictionLog | None = None,
               log_predictions: bool = True,
               inspections: Inspections | None = None) -> ServingApp:
    """Wire runtimes, metrics, the prediction log and the admin API onto one ASGI app.

    `inspections` answers the admin API's drift, online-metrics and timeline routes.
    """
    metrics = ServingMetrics()
    if prediction_log is None and log_predictions:
        prediction_log = PredictionLog(platform.settings.resolved_logs)
    runtimes = Runtimes(
        heads=platform.deployments.heads, current=platform.deployments.current,
        cache=ModelCache(platform.registry.load),
        on_batch=lambda deployment, _name, arm, rows, cpu_s: metrics.record_batch(
            deployment, arm.ref, rows, cpu_s),
        recorder=_recorder(prediction_log) if prediction_log is not None else None)
    admin = create_admin(platform, live=metrics.live_summary,
                         serving=lambda name: (runtimes.by_name[name].revision.revision
                                               if name in runtimes.by_name else None),
                         inspections=inspections)
    return ServingApp(runtimes, metrics=metrics, prediction_log=prediction_log, admin=admin,
                      poll_interval_s=poll_interval_s, on_shutdown=_closer(platform),
                      on_circuit_open=_circuit_opener(platform))


def _recorder(log: PredictionLog) -> RecorderFactory:
    """Record each model call's predictions in the log with one append (not one per request)."""
    def for_arm(revision: Revision, name: ArmName, arm: Arm,
                model: LoadedModel) -> PredictedHook:
        names = model.signature.feature_names

        def record(batch: list[Pending], features: Any, outputs: np.ndarray,
                   cpu_s: float) -> None:
            now = time.perf_counter()
            log.append_rows(
                request_ids=[p.request_id for p in batch],
                rows_per_request=[p.rows for p in batch],
                latency_ms=[(now - p.started) * 1000 for p in batch],
                deployment=revision.deployment, revision=revision.revision, model=arm.model,
                model_version=arm.version, arm=name.value, ts_ms=time.time_ns() // 1_000_000,
                inputs=features, outputs=outputs, feature_names=names,
                cpu_ms_per_row=cpu_s * 1000 / max(len(outputs), 1))

        return record

    return for_arm


def first_start_token(platform: Platform) -> str | None:
    """Create an admin token when none is active; return its secret (shown once) or None."""
    if platform.tokens.has_active():
        return None
    _token, secret = platform.tokens.create("first-start")
    return secret


def app_from_env() -> ServingApp:
    """The app factory uvicorn workers call (settings from STEADY_* variables)."""
    return create_app(Platform(Settings.from_env()))


def run(settings: Settings, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
        workers: int = 1, announce: Callable[[str], None] = print,
        app_factory: Callable[[Platform], ServingApp] = create_app,
        worker_factory: str = "steadyml.serving.server:app_from_env") -> None:
    """Serve until SIGINT / SIGTERM; the shutdown flushes the prediction log.

    One process serves `app_factory(platform)`; with several workers each process calls
    `worker_factory` (a "module:function" uvicorn imports) with settings from the environment.
    """
    import uvicorn

    with Platform(settings) as platform:
        secret = first_start_token(platform)
    if secret is not None:
        announce("Created the first admin token. It is shown once; keep it for "
                 f"state-changing API calls (Authorization: Bearer ...):\n{secret}")
    announce(f"steadyml serving on http://{host}:{port}  (V2 inference /v2, admin API "
             f"/api/v1, docs /docs, metrics /metrics)")
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "warning",
                               "access_log": False, "timeout_graceful_shutdown": 30}
    if workers > 1:
        _export(settings)  # each worker process builds its app from the environment
        uvicorn.run(worker_factory, factory=True, workers=workers, **options)
    else:
        uvicorn.run(app_factory(Platform(settings)), **options)


def _export(settings: Settings) -> None:
    os.environ["STEADY_HOME"] = str(settings.home.absolute())
    for name, value in (("STEADY_DB_URL", settings.db_url),
                        ("STEADY_ARTIFACTS", settings.artifacts)):
        if value:
            os.environ[name] = value


def _circuit_opener(platform: Platform) -> Callable[[str, int, dict[str, Any]], None]:
    """Record an opened circuit as a revision without the candidate, audited with evidence."""
    def open_circuit(deployment: str, revision: int, evidence: dict[str, Any]) -> None:
        try:
            platform.deployments.rollback(
                deployment, reason=Reason.CIRCUIT_OPEN, if_revision=revision,
                note="circuit breaker opened on the candidate", evidence=evidence)
        except ConflictError:
            pass  # the deployment changed meanwhile: the newer revision stands
        except SteadyError:
            log.exception("could not record the open circuit of %s", deployment)

    return open_circuit


def _closer(platform: Platform) -> Callable[[], Any]:
    async def close() -> None:
        platform.close()

    return close


class BackgroundServer:
    """Run an ASGI app under uvicorn on 127.0.0.1 in a thread (demo, tests, notebooks).

    `with BackgroundServer(app) as url:` starts it on a free port and waits until it accepts
    connections; leaving the block shuts it down gracefully (the prediction log is flushed).
    """

    def __init__(self, app: Any, *, host: str = DEFAULT_HOST, port: int = 0,
                 start_timeout_s: float = 30.0) -> None:
        import uvicorn

        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port,
                                                     log_level="warning", lifespan="on"))
        self._thread: threading.Thread | None = None
        self._host = host
        self._start_timeout_s = start_timeout_s
        self.url = ""

    def __enter__(self) -> str:
        self._thread = threading.Thread(target=self._server.run, name="steady-server",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self._start_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("The server did not start; see the log above.")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{self._host}:{port}"
        return self.url

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=60)
