"""Import every command module so each registers itself on the app."""

from steadyml.cli import demo, lineage, models, runs

__all__ = ["demo", "lineage", "models", "runs"]
