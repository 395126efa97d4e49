"""Serve models over HTTP: the Open Inference Protocol (V2), batching, routing, prediction log."""

from steadyml.serving.app import ServingApp
from steadyml.serving.batching import Batcher
from steadyml.serving.breaker import CircuitBreaker
from steadyml.serving.metrics import ServingMetrics
from steadyml.serving.protocol import InferRequest, ProtocolError, SignatureCodec
from steadyml.serving.runtime import DeploymentRuntime, ModelCache, Runtimes
from steadyml.serving.server import BackgroundServer, create_app, run
from steadyml.store.predictions import PredictionLog, PredictionRecord, open_log

__all__ = [
    "BackgroundServer",
    "Batcher",
    "CircuitBreaker",
    "DeploymentRuntime",
    "InferRequest",
    "ModelCache",
    "PredictionLog",
    "PredictionRecord",
    "ProtocolError",
    "Runtimes",
    "ServingApp",
    "ServingMetrics",
    "SignatureCodec",
    "create_app",
    "open_log",
    "run",
]
