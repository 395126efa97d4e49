"""`steady controller` (run the controller on its own) and `steady timeline`."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.markup import escape

from steadyml.cli.app import app, open_from
from steadyml.cli.inspections import Inspector
from steadyml.cli.output import (
    compact_table,
    console,
    err_console,
    json_option,
    print_json,
    when,
)
from steadyml.control import Controller, Event

log = logging.getLogger("steadyml.controller")


@app.command()
def controller(ctx: typer.Context,
               once: bool = typer.Option(False, "--once",
                                         help="Evaluate every policy once, now, and exit."),
               no_scheduler: bool = typer.Option(
                   False, "--no-scheduler", help="Do not start the pipeline schedules here."),
               as_json: bool = json_option) -> None:
    """Enforce every deployment's policy until Ctrl-C / SIGTERM (`steady server` runs it too).

    Each event (canary step, promotion, rollback, alert, drift, retrain) is printed as it
    happens: a line per event, or a JSON object per line with --json. The pipeline schedules
    run here too, as in `steady server`, unless --no-scheduler.
    """
    with open_from(ctx) as platform:
        runner = Controller(platform)
        if once:
            events = runner.run_once(force=True)
            if as_json:
                print_json(events)
            else:
                show_events(f"{len(events)} event(s)", events)
            return
        policies = len(platform.policies.all())
        err_console.print(f"controller running: {policies} deployment(s) with a policy; "
                          "Ctrl-C or SIGTERM stops it.", highlight=False)
        scheduler = None
        if not no_scheduler:
            from steadyml.pipelines import Scheduler

            scheduler = Scheduler(platform)
            scheduler.start()
        with _stop_signal() as stop:
            while not stop.is_set():
                try:
                    events = runner.run_once()
                except Exception as exc:  # the store was unreachable: try again next tick
                    log.exception("controller pass failed")
                    err_console.print(f"[red]controller pass failed:[/] {escape(str(exc))}",
                                      highlight=False)
                    events = []
                for event in events:
                    _print_event(event, as_json)
                stop.wait(runner.tick_s)
        if scheduler is not None:
            scheduler.stop()  # runs it started go on, and release their targets when done
        err_console.print("controller stopped.", highlight=False)


@app.command()
def timeline(ctx: typer.Context, deployment: str = typer.Argument(...),
             limit: int = typer.Option(500, "--limit", min=1, max=100_000),
             as_json: bool = json_option) -> None:
    """Show what the controller saw and did on DEPLOYMENT, oldest first."""
    with open_from(ctx) as platform:
        events = Inspector(platform).timeline(deployment, limit=limit)
    if as_json:
        print_json(events)
        return
    console.print(compact_table(f"{deployment}: {len(events)} controller event(s)",
                                ["time (UTC)", "kind", "message"],
                                [[when(e["ts_ms"]), e["kind"], e["message"]] for e in events]))


def show_events(title: str, events: list[Event]) -> None:
    console.print(compact_table(title, ["time (UTC)", "deployment", "kind", "message"],
                                [[when(e.ts_ms), e.deployment, e.kind, e.message]
                                 for e in events]))


def _print_event(event: Event, as_json: bool) -> None:
    if as_json:
        import json

        typer.echo(json.dumps(event.to_dict(), default=str))
    else:
        console.print(f"{when(event.ts_ms)}  {event.deployment}  [bold]{event.kind}[/]  "
                      f"{escape(event.message)}", highlight=False, soft_wrap=True)


@contextmanager
def _stop_signal() -> Iterator[threading.Event]:
    """Yield an event set by SIGTERM or Ctrl-C (SIGINT), restoring the handlers after."""
    stop = threading.Event()

    def handle(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
