"""`steady runs list|show`."""

from __future__ import annotations

import typer

from steadyml.cli.app import app, open_from
from steadyml.cli.output import console, json_option, print_json, table, when

runs_app = typer.Typer(no_args_is_help=True, help="List and inspect tracked runs.")
app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def list_runs(
    ctx: typer.Context,
    experiment: str = typer.Option(None, "--experiment", "-e", help="Only this experiment."),
    filter: str = typer.Option(None, "--filter", "-f",
                               help="e.g. \"metrics.acc > 0.9 and params.model = 'rf'\"."),
    order_by: list[str] = typer.Option(None, "--order-by", "-o",
                                       help="e.g. 'metrics.acc DESC'; repeatable."),
    limit: int = typer.Option(50, "--limit", "-n", help="At most this many runs."),
    as_json: bool = json_option,
) -> None:
    """List runs, newest first unless --order-by says otherwise."""
    with open_from(ctx) as platform:
        found = platform.tracking.search_runs(experiment=experiment, filter=filter,
                                              order_by=order_by, limit=limit)
    if as_json:
        print_json(found)
        return
    metric_keys = sorted({k for r in found for k in r.metrics})[:6]
    rows = [[r.id[:12], r.experiment, r.name, r.status, when(r.start_ms),
             (r.code.commit or "-")[:10] + ("*" if r.code.dirty else ""),
             *[r.metrics.get(k) for k in metric_keys]] for r in found]
    console.print(table(f"{len(found)} run(s)", ["run", "experiment", "name", "status",
                                                  "started (UTC)", "commit", *metric_keys], rows))


@runs_app.command("show")
def show_run(ctx: typer.Context, run_id: str = typer.Argument(..., help="Run id."),
             as_json: bool = json_option) -> None:
    """Show a run: params, metrics, tags, datasets, artifacts, code and environment."""
    with open_from(ctx) as platform:
        details = platform.tracking.run_details(_full_id(platform, run_id))
    run = details["run"]
    if as_json:
        env = details["environment"]
        print_json({"run": run,
                    "datasets": [{"context": c, **d.to_dict()} for c, d in details["datasets"]],
                    "artifacts": details["artifacts"], "environment": env})
        return
    console.print(f"[bold]Run {run.id}[/]  {run.experiment}/{run.name}  [cyan]{run.status}[/]")
    console.print(f"started {when(run.start_ms)}  ended {when(run.end_ms)}  by {run.actor}")
    console.print(f"code: commit {run.code.commit or 'unknown'}"
                  f"{' (dirty, diff ' + (run.code.diff_hash or '')[:12] + ')' if run.code.dirty else ''}"
                  f"  branch {run.code.branch or '-'}  source {run.source or '-'}")
    env = details["environment"]
    if env:
        console.print(f"environment: Python {env['python_version']} on {env['platform']}, "
                      f"{len(env['packages'])} packages (hash {env['hash'][:12]})")
    console.print(table("params", ["key", "value"], sorted(run.params.items())))
    console.print(table("metrics (latest)", ["key", "value"], sorted(run.metrics.items())))
    if run.tags:
        console.print(table("tags", ["key", "value"], sorted(run.tags.items())))
    if details["datasets"]:
        console.print(table("datasets", ["context", "name", "fingerprint", "rows", "uri"], [
            [c, d.name, d.fingerprint[:16], d.num_rows, d.uri] for c, d in details["datasets"]]))
    if details["artifacts"]:
        console.print(table("artifacts", ["path", "sha256", "bytes"], [
            [a["path"], a["digest"][:16], a["size"]] for a in details["artifacts"]]))


def _full_id(platform: object, run_id: str) -> str:
    """Accept a unique prefix of a run id, as printed by `steady runs list`."""
    from steadyml.core.errors import RunNotFoundError

    if len(run_id) == 32:
        return run_id
    matches = platform.tracking.search_runs(  # type: ignore[attr-defined]
        filter=f"attributes.run_id LIKE '{run_id.replace(chr(39), '')}%'", limit=2)
    if len(matches) != 1:
        raise RunNotFoundError(run_id)
    return matches[0].id
