"""Prometheus metrics of a serving process, and the cost of predictions.

Cost: the CPU seconds spent in `predict`, per model version, times the deployment's price
per core-hour, reported per 1,000 predictions.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                     2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass
class Usage:
    predictions: int = 0
    cpu_s: float = 0.0

    def cost_per_1k(self, price_per_core_hour: float) -> float | None:
        if not self.predictions:
            return None
        return self.cpu_s / self.predictions * 1000 * price_per_core_hour / 3600


WINDOW_S = 60.0
WINDOW_MAX = 50_000


@dataclass
class LiveWindow:
    """The last minute of requests of one arm: what `status` reports as live figures."""

    events: deque[tuple[float, float, bool]] = field(
        default_factory=lambda: deque(maxlen=WINDOW_MAX))

    def add(self, latency_s: float, ok: bool) -> None:
        self.events.append((time.monotonic(), latency_s, ok))

    def summary(self, now: float | None = None) -> dict[str, Any]:
        now = time.monotonic() if now is None else now
        recent = [e for e in self.events if now - e[0] <= WINDOW_S]
        if not recent:
            return {"requests": 0, "rate_per_s": 0.0, "error_rate": None, "p50_ms": None,
                    "p99_ms": None}
        latencies = np.fromiter((e[1] for e in recent), float, len(recent)) * 1000
        span = max(now - recent[0][0], 1.0)
        return {"requests": len(recent), "rate_per_s": round(len(recent) / span, 2),
                "error_rate": round(sum(1 for e in recent if not e[2]) / len(recent), 4),
                "p50_ms": round(float(np.percentile(latencies, 50)), 3),
                "p99_ms": round(float(np.percentile(latencies, 99)), 3)}


class ServingMetrics:
    """The metrics one serving process exposes at /metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("steady_requests", "Inference requests answered, by status.",
                                ["deployment", "arm", "model_version", "code"], registry=r)
        self.errors = Counter("steady_prediction_errors",
                              "Requests that failed, by kind (model, timeout, input).",
                              ["deployment", "arm", "model_version", "kind"], registry=r)
        self.latency = Histogram("steady_request_latency_seconds",
                                 "Time from request received to response ready.",
                                 ["deployment", "arm", "model_version"],
                                 buckets=LATENCY_BUCKETS_S, registry=r)
        self.batch_rows = Histogram("steady_batch_rows", "Rows per model call.",
                                    ["deployment", "model_version"], buckets=BATCH_BUCKETS,
                                    registry=r)
        self.queue_depth = Gauge("steady_queue_depth", "Requests waiting for a batch.",
                                 ["deployment", "arm"], registry=r)
        self.load_seconds = Gauge("steady_model_load_seconds",
                                  "Time to load and warm a model version.",
                                  ["model_version"], registry=r)
        self.cpu_seconds = Counter("steady_predict_cpu_seconds",
                                   "CPU seconds spent in predict.",
                                   ["deployment", "model_version"], registry=r)
        self.predictions = Counter("steady_predictions", "Rows predicted.",
                                   ["deployment", "model_version"], registry=r)
        self.cost = Gauge("steady_cost_per_1k_predictions",
                          "CPU cost of 1,000 predictions at the deployment's core-hour price.",
                          ["deployment", "model_version"], registry=r)
        self.revision = Gauge("steady_deployment_revision", "Revision being served.",
                              ["deployment"], registry=r)
        self.log_dropped = Gauge("steady_prediction_log_dropped_rows",
                                 "Prediction log rows dropped because its queue was full.",
                                 registry=r)
        self.usage: dict[tuple[str, str], Usage] = defaultdict(Usage)
        self.live: dict[tuple[str, str, str], LiveWindow] = defaultdict(LiveWindow)

    def observe(self, deployment: str, arm: str, model_version: str, latency_s: float, *,
                ok: bool) -> None:
        """Count one answered request (ok) or failed one."""
        if ok:
            self.requests.labels(deployment, arm, model_version, "200").inc()
            self.latency.labels(deployment, arm, model_version).observe(latency_s)
        self.live[(deployment, arm, model_version)].add(latency_s, ok)

    def live_summary(self, deployment: str, price_per_core_hour: float) -> dict[str, Any]:
        """Return live figures per arm of a deployment, with cost per 1,000 predictions."""
        out = {}
        for (name, arm, version), window in list(self.live.items()):
            if name == deployment:
                usage = self.usage.get((deployment, version))
                out[f"{arm} {version}"] = {
                    "arm": arm, "model": version, **window.summary(),
                    "cost_per_1k": usage.cost_per_1k(price_per_core_hour) if usage else None}
        return out

    def record_batch(self, deployment: str, model_version: str, rows: int, cpu_s: float) -> None:
        self.batch_rows.labels(deployment, model_version).observe(rows)
        self.cpu_seconds.labels(deployment, model_version).inc(cpu_s)
        self.predictions.labels(deployment, model_version).inc(rows)
        usage = self.usage[(deployment, model_version)]
        usage.predictions += rows
        usage.cpu_s += cpu_s

    def exposition(self, *, prices: dict[str, float], gauges: dict[str, Any]) -> bytes:
        """Return the text exposition, refreshing gauges computed at scrape time."""
        for (deployment, version), usage in self.usage.items():
            cost = usage.cost_per_1k(prices.get(deployment, 0.0))
            if cost is not None:
                self.cost.labels(deployment, version).set(cost)
        for (deployment, arm), depth in gauges.get("queue_depth", {}).items():
            self.queue_depth.labels(deployment, arm).set(depth)
        for deployment, revision in gauges.get("revision", {}).items():
            self.revision.labels(deployment).set(revision)
        self.log_dropped.set(gauges.get("log_dropped", 0))
        return generate_latest(self.registry)
