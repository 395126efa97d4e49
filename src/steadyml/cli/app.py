"""The `steady` command: parse options, build Settings, call one function, print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from steadyml.cli.output import err_console
from steadyml.core.errors import SteadyError
from steadyml.core.settings import Settings
from steadyml.platform import Platform


class _Group(TyperGroup):
    """Print a SteadyError once, to stderr, and exit 1 (no traceback for expected errors)."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except SteadyError as exc:
            # escape: a message naming an extra (pip install 'steadyml[ray]') is not markup
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(getattr(exc, "exit_code", 1)) from exc


app = typer.Typer(
    cls=_Group, no_args_is_help=True, add_completion=False, rich_markup_mode="rich",
    help="steadyml: track, register, deploy and watch production ML models.\n\n"
         "State lives in STEADY_HOME (default ./.steady); set STEADY_DB_URL and "
         "STEADY_ARTIFACTS to use PostgreSQL and S3-compatible storage instead.")


@app.callback()
def _root(
    ctx: typer.Context,
    home: Path = typer.Option(None, "--home", envvar="STEADY_HOME", show_envvar=True,
                              help="Directory holding the SQLite store, artifacts and logs."),
    db_url: str = typer.Option(None, "--db-url", envvar="STEADY_DB_URL", show_envvar=True,
                               help="Metadata store URL, e.g. postgresql+psycopg://u@h/db."),
    artifacts: str = typer.Option(None, "--artifacts", envvar="STEADY_ARTIFACTS",
                                  show_envvar=True,
                                  help="Artifact store URL, e.g. s3://bucket/prefix."),
) -> None:
    ctx.obj = Settings.from_env(home=home, db_url=db_url, artifacts=artifacts)


def settings_of(ctx: typer.Context) -> Settings:
    """Return the Settings the root command built."""
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, Settings) else Settings.from_env()


def open_from(ctx: typer.Context) -> Platform:
    return Platform(settings_of(ctx))


# The module(s) under steadyml.cli registering each top-level command (a test keeps this in
# step with the app): `main` imports only these, so a command starts without the others.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "alerts": ("monitoring",), "audit": ("lineage",), "controller": ("controller",),
    "demo": ("demo",), "deploy": ("deployments",), "deployments": ("deployments",),
    "drift": ("monitoring",), "lineage": ("lineage",), "models": ("models",),
    "outcomes": ("monitoring",), "pipeline": ("pipelines", "pipeline_schedules"),
    "policy": ("policies",), "promote": ("deployments",), "report": ("monitoring",),
    "rollback": ("deployments",), "runs": ("runs",), "server": ("server",), "skew": ("skew",),
    "status": ("deployments",), "timeline": ("controller",), "token": ("tokens",),
}
_VALUED_OPTIONS = ("--home", "--db-url", "--artifacts")


def command_of(argv: list[str]) -> str | None:
    """Return the top-level command `argv` runs, or None (help, or no command)."""
    args = iter(argv)
    for arg in args:
        if arg in _VALUED_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def main() -> None:
    """Entry point of the `steady` console script."""
    import importlib
    import sys

    modules = COMMAND_MODULES.get(command_of(sys.argv[1:]) or "")
    if modules is None:  # help, or an unknown command: register every command
        importlib.import_module("steadyml.cli.commands")
    else:
        for module in modules:
            importlib.import_module(f"steadyml.cli.{module}")
    app()
