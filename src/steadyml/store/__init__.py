"""Metadata and artifact stores: engine, schema, migrations, content-addressed blobs, audit."""

from steadyml.store import audit, tables
from steadyml.store.artifacts import ArtifactStore
from steadyml.store.audit import AuditEntry, ChainReport
from steadyml.store.engine import MetadataStore, create_store_engine

__all__ = [
    "ArtifactStore",
    "AuditEntry",
    "ChainReport",
    "MetadataStore",
    "audit",
    "create_store_engine",
    "tables",
]
