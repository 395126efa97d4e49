"""`steady pipeline schedule add|list|remove`, `steady pipeline triggers` and `... locks`."""

from __future__ import annotations

import typer
from rich.markup import escape

from steadyml.cli.app import open_from
from steadyml.cli.output import compact_table, console, json_option, print_json, when
from steadyml.cli.pipelines import _parse_params, pipeline_app
from steadyml.pipelines import load_pipeline
from steadyml.pipelines.locks import RunLocks
from steadyml.pipelines.schedules import Schedules, check_cron
from steadyml.pipelines.triggers import Triggers

schedule_app = typer.Typer(no_args_is_help=True,
                           help="Run pipelines on cron schedules (started by `steady server`).")
pipeline_app.add_typer(schedule_app, name="schedule")


@schedule_app.command("add")
def add(ctx: typer.Context, name: str = typer.Argument(..., help="A name for the schedule."),
        ref: str = typer.Argument(..., metavar="FILE:PIPELINE",
                                  help="A Python file and the Pipeline variable in it."),
        cron: str = typer.Option(..., "--cron",
                                 help='Five-field cron expression, e.g. "0 3 * * 1".'),
        timezone: str = typer.Option("UTC", "--timezone", "--tz",
                                     help="The time zone the cron expression is read in."),
        param: list[str] = typer.Option(None, "--param", "-p", metavar="KEY=VALUE",
                                        help="Set a param of each run; repeatable."),
        target: str = typer.Option(None, "--target",
                                   help="What the runs work on (default: the pipeline's)."),
        as_json: bool = json_option) -> None:
    """Run FILE:PIPELINE on a cron schedule; the file and params are checked now."""
    check_cron(cron, timezone)  # before importing the user's file
    texts = _parse_params(param or [])
    pipeline, source = load_pipeline(ref)
    pipeline.resolve_params(texts=texts)  # a wrong param fails here, not at 3 a.m.
    with open_from(ctx) as platform:
        schedule = Schedules(platform).add(name, ref=source, pipeline=pipeline.name, cron=cron,
                                           params=texts, target=target, timezone=timezone)
    if as_json:
        print_json(schedule.to_dict())
        return
    console.print(f"Scheduled [bold]{escape(name)}[/]: pipeline {escape(pipeline.name)} at "
                  f"{escape(schedule.cron)} ({schedule.timezone}); next run "
                  f"{when(schedule.next_run_ms)} UTC. `steady server` starts it.",
                  highlight=False, soft_wrap=True)


@schedule_app.command("list")
def list_schedules(ctx: typer.Context, as_json: bool = json_option) -> None:
    """List pipeline schedules with their next run and how the last one exited."""
    with open_from(ctx) as platform:
        found = Schedules(platform).list()
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    rows = [[s.name, s.pipeline, f"{s.cron} ({s.timezone})", s.target or "-",
             when(s.next_run_ms), when(s.last_run_ms),
             "-" if s.last_exit_code is None else str(s.last_exit_code),
             " ".join(f"{k}={v}" for k, v in sorted(s.params.items())) or "-"] for s in found]
    console.print(compact_table(f"{len(found)} pipeline schedule(s)",
                                ["name", "pipeline", "cron", "target", "next run (UTC)",
                                 "last run", "exit", "params"], rows))


@schedule_app.command("remove")
def remove(ctx: typer.Context, name: str = typer.Argument(..., help="The schedule's name.")
           ) -> None:
    """Remove a schedule; a run it already started goes on."""
    with open_from(ctx) as platform:
        Schedules(platform).remove(name)
    console.print(f"Removed schedule {escape(name)}.", highlight=False)


@pipeline_app.command("triggers")
def triggers(ctx: typer.Context,
             pipeline: str = typer.Option(None, "--pipeline", help="Only this pipeline."),
             target: str = typer.Option(None, "--target", help="Only this target."),
             limit: int = typer.Option(50, "--limit", "-n", help="At most this many."),
             as_json: bool = json_option) -> None:
    """List run requests (manual, schedule, drift), newest first: started, queued or refused."""
    with open_from(ctx) as platform:
        found = Triggers(platform).list(pipeline=pipeline, target=target, limit=limit)
    if as_json:
        print_json([t.to_dict() for t in found])
        return
    rows = [[when(t.requested_ms), t.pipeline, t.target, t.kind, t.origin or "-", t.status,
             (t.run_id or "")[:12] or "-", t.reason] for t in found]
    console.print(compact_table(f"{len(found)} trigger(s)",
                                ["requested (UTC)", "pipeline", "target", "kind", "origin",
                                 "status", "run", "reason"], rows))


@pipeline_app.command("locks")
def locks(ctx: typer.Context, as_json: bool = json_option) -> None:
    """List the targets a pipeline run holds now, with the run, its process and heartbeat."""
    with open_from(ctx) as platform:
        found = RunLocks(platform.store, platform.clock).list()
    if as_json:
        print_json([lock.to_dict() for lock in found])
        return
    rows = [[lock.target, lock.pipeline, (lock.run_id or "starting")[:12], when(lock.started_ms),
             when(lock.heartbeat_ms), f"{lock.pid}@{lock.host}"] for lock in found]
    console.print(compact_table(f"{len(found)} held target(s)",
                                ["target", "pipeline", "run", "since (UTC)", "heartbeat",
                                 "process"], rows))
