"""`steady deploy|promote|rollback|status` and `steady deployments list|history`."""

from __future__ import annotations

import typer

from steadyml.cli.app import app, open_from
from steadyml.cli.output import console, json_option, print_json, table, when
from steadyml.deployments import Revision

deployments_app = typer.Typer(no_args_is_help=True, help="List deployments and their history.")
app.add_typer(deployments_app, name="deployments")


@app.command()
def deploy(ctx: typer.Context,
           deployment: str = typer.Argument(..., help="Deployment name, e.g. fraud."),
           model_ref: str = typer.Argument(..., help="NAME:VERSION or NAME@ALIAS."),
           canary: float = typer.Option(None, "--canary", min=0.0, max=100.0,
                                        help="Run as a candidate answering PCT % of requests."),
           shadow: bool = typer.Option(False, "--shadow",
                                       help="Run as a candidate on mirrored traffic only."),
           blue_green: bool = typer.Option(False, "--blue-green",
                                           help="Load and warm as a candidate; switch on "
                                                "`steady promote`."),
           as_json: bool = json_option) -> None:
    """Serve MODEL_REF on DEPLOYMENT: the stable model, or a candidate beside it."""
    with open_from(ctx) as platform:
        revision = platform.deployments.deploy(deployment, model_ref, canary=canary,
                                               shadow=shadow, blue_green=blue_green)
    show_revision(revision, as_json)


@app.command()
def promote(ctx: typer.Context, deployment: str = typer.Argument(...),
            as_json: bool = json_option) -> None:
    """Make DEPLOYMENT's candidate its stable model."""
    with open_from(ctx) as platform:
        revision = platform.deployments.promote(deployment)
    show_revision(revision, as_json)


@app.command()
def rollback(ctx: typer.Context, deployment: str = typer.Argument(...),
             to: int = typer.Option(None, "--to", help="Restore exactly this revision."),
             as_json: bool = json_option) -> None:
    """Undo DEPLOYMENT's last change: drop its candidate, or return to the previous model."""
    with open_from(ctx) as platform:
        revision = platform.deployments.rollback(deployment, to=to)
    show_revision(revision, as_json)


@app.command()
def status(ctx: typer.Context, deployment: str = typer.Argument(...),
           as_json: bool = json_option) -> None:
    """Show DEPLOYMENT's revision, arms and traffic shares."""
    with open_from(ctx) as platform:
        revision = platform.deployments.current(deployment)
    show_revision(revision, as_json)


@deployments_app.command("list")
def list_deployments(ctx: typer.Context, as_json: bool = json_option) -> None:
    """List deployments with the models they serve now."""
    with open_from(ctx) as platform:
        current = platform.deployments.list()
    if as_json:
        print_json(current)
        return
    console.print(table(f"{len(current)} deployment(s)", ["deployment", *_COLUMNS],
                        [[r.deployment, *_row(r)] for r in current]))


@deployments_app.command("history")
def history(ctx: typer.Context, deployment: str = typer.Argument(...),
            as_json: bool = json_option) -> None:
    """List every revision of DEPLOYMENT, newest first."""
    with open_from(ctx) as platform:
        revisions = platform.deployments.history(deployment)
    if as_json:
        print_json(revisions)
        return
    console.print(table(f"deployment {deployment}", [*_COLUMNS, "reason", "by"],
                        [[*_row(r), r.reason, r.actor] for r in revisions]))


_COLUMNS = ["rev", "stable", "candidate", "mode", "cand. %", "since (UTC)"]


def _row(r: Revision) -> list[object]:
    return [r.revision, r.stable.ref, r.candidate.ref if r.candidate else None, r.mode,
            r.weight if r.candidate else None, when(r.created_ms)]


def show_revision(revision: Revision, as_json: bool) -> None:
    """Print one revision: JSON, or a line per arm for people."""
    if as_json:
        print_json(revision)
        return
    r = revision
    console.print(f"[bold]{r.deployment}[/] revision {r.revision} ({r.reason}, "
                  f"{when(r.created_ms)} UTC by {r.actor})")
    share = r.weight if r.candidate is not None and r.mode is not None and \
        r.mode.value == "canary" else 0.0
    console.print(f"  stable     {r.stable.ref:<24} {100 - share:g} % of traffic")
    if r.candidate is not None:
        role = {"canary": f"{share:g} % of traffic", "shadow": "mirrored, never answers",
                "blue-green": "warm, switches on promote"}[str(r.mode)]
        console.print(f"  candidate  {r.candidate.ref:<24} {r.mode}: {role}")
