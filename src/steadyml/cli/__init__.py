"""The `steady` command line."""

from steadyml.cli import commands
from steadyml.cli.app import app, main

__all__ = ["app", "commands", "main"]
