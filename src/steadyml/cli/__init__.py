"""The `steady` command line.

`app` is the Typer app with every command registered. `main` (the console script) imports
only the module of the command it runs, so a command starts without importing the others.
"""

from typing import Any

from steadyml.cli.app import main

# Importing the submodule `steadyml.cli.app` bound it here as `app`; the package's `app` is
# the Typer app with every command registered, made on first use below.
del globals()["app"]

__all__ = ["app", "commands", "main"]


def __getattr__(name: str) -> Any:
    if name in ("app", "commands"):
        import importlib

        commands = importlib.import_module("steadyml.cli.commands")
        typer_app = importlib.import_module("steadyml.cli.app").app
        globals().update(app=typer_app, commands=commands)
        return typer_app if name == "app" else commands
    raise AttributeError(f"module 'steadyml.cli' has no attribute {name!r}")
