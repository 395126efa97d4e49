"""`steady server`."""

from __future__ import annotations

import typer

from steadyml.cli.app import app, settings_of
from steadyml.cli.output import console


@app.command()
def server(ctx: typer.Context,
           host: str = typer.Option("127.0.0.1", "--host",
                                    help="Address to bind; 127.0.0.1 keeps it on this machine."),
           port: int = typer.Option(8700, "--port", min=0, max=65535),
           workers: int = typer.Option(1, "--workers", min=1,
                                       help="Worker processes (each polls the store).")) -> None:
    """Serve every deployment (V2 inference), the admin API (/docs) and /metrics."""
    from steadyml.serving.server import run

    run(settings_of(ctx), host=host, port=port, workers=workers,
        announce=lambda text: console.print(text, highlight=False, soft_wrap=True))
