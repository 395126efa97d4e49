"""Import every command module so each registers itself on the app."""

from steadyml.cli import (
    controller,
    demo,
    deployments,
    lineage,
    models,
    monitoring,
    pipeline_schedules,
    pipelines,
    policies,
    runs,
    server,
    skew,
    tokens,
)

__all__ = ["controller", "demo", "deployments", "lineage", "models", "monitoring",
           "pipeline_schedules", "pipelines",
           "policies", "runs", "server", "skew", "tokens"]
