"""Stores: metadata (engine, schema, migrations), content-addressed blobs, audit, prediction log."""

from steadyml.store import audit, tables
from steadyml.store.artifacts import ArtifactStore
from steadyml.store.audit import AuditEntry, ChainReport
from steadyml.store.engine import MetadataStore, create_store_engine
from steadyml.store.predictions import PredictionLog, PredictionLogError, PredictionRecord, open_log

__all__ = [
    "ArtifactStore",
    "AuditEntry",
    "ChainReport",
    "MetadataStore",
    "PredictionLog",
    "PredictionLogError",
    "PredictionRecord",
    "audit",
    "create_store_engine",
    "open_log",
    "tables",
]
