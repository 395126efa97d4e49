"""Lineage: which data, code, params and environment produced a model version.

The registry does not read runs itself; the layer above passes a `RunRecords` source in.
Deployment references (what serves the model) slot in as the `deployments` list.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from steadyml.registry.versions import ModelVersion

LINEAGE_VERSION = 1


class RunRecords(Protocol):
    def run_record(self, run_id: str) -> dict[str, Any] | None:
        """Return {"run", "code", "params", "metrics", "datasets", "environment"} or None."""
        ...


def model_lineage(version: ModelVersion, *, artifact_uri: str, runs: RunRecords,
                  deployments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return the lineage document of a model version (documented in README, 'Lineage')."""
    record = runs.run_record(version.run_id) if version.run_id else None
    datasets = list(version.datasets)
    if not datasets and record:
        datasets = record["datasets"]
    return {
        "lineage_version": LINEAGE_VERSION,
        "model": {
            "ref": version.ref, "name": version.name, "version": version.version,
            "aliases": version.aliases, "flavor": version.flavor,
            "registered_at": iso(version.created_ms), "registered_by": version.actor,
            "description": version.description,
            "artifact": {"digest": f"sha256:{version.artifact_digest}", "uri": artifact_uri,
                         "size": version.artifact_size},
            "signature": version.signature, "metrics": version.metrics, "tags": version.tags,
        },
        "run": record["run"] if record else None,
        "code": record["code"] if record else None,
        "datasets": datasets,
        "params": record["params"] if record else {},
        "metrics": record["metrics"] if record else {},
        "environment": record["environment"] if record else None,
        "deployments": deployments or [],
    }


def iso(ms: int | None) -> str | None:
    """Format epoch milliseconds as an ISO-8601 UTC timestamp."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
