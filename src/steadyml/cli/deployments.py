"""`steady deploy|promote|rollback|status` and `steady deployments list|history`."""

from __future__ import annotations

from typing import Any

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
           force: bool = typer.Option(False, "--force",
                                      help="Deploy even without the passing gates the "
                                           "deployment's policy requires (audited)."),
           as_json: bool = json_option) -> None:
    """Serve MODEL_REF on DEPLOYMENT: the stable model, or a candidate beside it."""
    with open_from(ctx) as platform:
        revision = platform.deployments.deploy(deployment, model_ref, canary=canary,
                                               shadow=shadow, blue_green=blue_green,
                                               force=force)
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
           server: str = typer.Option("http://127.0.0.1:8700", "--server",
                                      envvar="STEADY_SERVER", show_envvar=True,
                                      help="A running `steady server`, for live figures."),
           as_json: bool = json_option) -> None:
    """Show DEPLOYMENT's revision, arms, traffic shares and (from the server) live figures."""
    with open_from(ctx) as platform:
        revision = platform.deployments.current(deployment)
    live, problem = _live(server, deployment)
    if as_json:
        print_json({**revision.to_dict(), "live": live, "serving_revision":
                    None if live is None else live.get("serving_revision"),
                    "live_error": problem})
        return
    show_revision(revision, False)
    if live is None:
        console.print(f"[dim]live figures: {problem}[/]")
        return
    rows = [[a["arm"], a["model"], a["requests"], a["rate_per_s"], a["error_rate"],
             a["p50_ms"], a["p99_ms"], None if a["cost_per_1k"] is None
             else f"{a['cost_per_1k']:.6f}"] for a in live["live"].values()]
    console.print(table(f"live, last 60 s (server at revision {live.get('serving_revision')})",
                        ["arm", "model", "requests", "req/s", "error rate", "p50 ms",
                         "p99 ms", "cost / 1k"], rows))


def _live(server: str, deployment: str) -> tuple[dict[str, Any] | None, str | None]:
    """Ask a running server for a deployment's live figures (its view, not the store's)."""
    import json
    import urllib.error
    import urllib.request
    from urllib.parse import quote

    url = f"{server.rstrip('/')}/api/v1/deployments/{quote(deployment)}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return json.loads(response.read()), None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return None, f"no server answered at {server} ({reason}); start `steady server`"


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
