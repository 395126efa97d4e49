"""Import every command module so each registers itself on the app."""

from steadyml.cli import demo, deployments, lineage, models, runs, server, tokens

__all__ = ["demo", "deployments", "lineage", "models", "runs", "server", "tokens"]
