"""`steady server`: serving, the admin API and, in threads beside them, the controller and the
pipeline scheduler."""

from __future__ import annotations

import gc
import signal
import threading
from typing import TYPE_CHECKING, Any

import typer

from steadyml.cli.app import app, settings_of
from steadyml.cli.output import console
from steadyml.core.settings import Settings
from steadyml.platform import Platform

if TYPE_CHECKING:
    from steadyml.serving.app import ServingApp


@app.command()
def server(ctx: typer.Context,
           host: str = typer.Option("127.0.0.1", "--host",
                                    help="Address to bind; 127.0.0.1 keeps it on this machine."),
           port: int = typer.Option(8700, "--port", min=0, max=65535),
           workers: int = typer.Option(1, "--workers", min=1,
                                       help="Worker processes (each polls the store)."),
           no_controller: bool = typer.Option(False, "--no-controller",
                                              help="Serve only: do not enforce policies here "
                                                   "(run `steady controller` elsewhere)."),
           no_scheduler: bool = typer.Option(False, "--no-scheduler",
                                             help="Do not start scheduled pipeline runs here "
                                                  "(`steady pipeline schedule list`).")
           ) -> None:
    """Serve deployments (V2), the admin API (/docs), /metrics; run the policy controller."""
    from steadyml.control import Controller
    from steadyml.pipelines import Scheduler
    from steadyml.serving.server import run

    def announce(text: str) -> None:
        console.print(text, highlight=False, soft_wrap=True)

    settings = settings_of(ctx)
    controller: Controller | None = None
    scheduler: Scheduler | None = None
    restore = _exit_on_sigterm()
    try:
        if not no_scheduler:
            scheduler = Scheduler(Platform(settings))
            scheduler.start()
            count = len(scheduler.schedules.list())
            announce(f"scheduler running in this process: {count} pipeline schedule(s) "
                     "(`steady pipeline schedule add` adds one)")
        if not no_controller:
            controller = Controller(Platform(settings))
            controller.start()
            count = len(controller.platform.policies.all())
            announce(f"controller running in this process: {count} deployment(s) with a "
                     "policy (`steady policy apply FILE` adds one)")
        run(settings, host=host, port=port, workers=workers, announce=announce,
            app_factory=_app_with_inspections, worker_factory="steadyml.cli.server:worker_app")
    except KeyboardInterrupt:
        pass  # Ctrl-C: uvicorn has already shut down gracefully
    finally:
        if scheduler is not None:
            scheduler.stop()  # runs it started go on, and release their targets when done
            scheduler.platform.close()
        if controller is not None:
            controller.stop()
            controller.platform.close()
            gc.collect()  # release the controller's DuckDB objects before the interpreter ends
        restore()


def worker_app() -> ServingApp:
    """The app each uvicorn worker process builds (settings from STEADY_* variables)."""
    return _app_with_inspections(Platform(Settings.from_env()))


def _app_with_inspections(platform: Platform) -> ServingApp:
    from steadyml.cli.inspections import Inspector
    from steadyml.serving.server import create_app

    return create_app(platform, inspections=Inspector(platform))


def _exit_on_sigterm() -> Any:
    """Turn SIGTERM into SystemExit(0), so that `finally` blocks run; return the undo.

    uvicorn handles SIGTERM while it serves, then raises it again once it has shut down; with
    the default handler that would end the process before the controller is stopped.
    """
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handle(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, handle)
    return lambda: signal.signal(signal.SIGTERM, previous)
