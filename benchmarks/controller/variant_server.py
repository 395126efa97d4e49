"""Diagnostic only: `steady server` with the prediction log's flush interval changed.

  STEADY_HOME=H python variant_server.py PORT --flush-interval-s 0.25

The same wiring as `steady server` (1 worker, the controller in a thread beside it, the admin
API with its inspections), except that the serving app's `PredictionLog` gets
`flush_interval_s` (no CLI option or setting exposes it; the product's default is 2 s). It
shows what a shorter flush would buy the controller; it is not a configuration users run.
"""

from __future__ import annotations

import argparse
import signal
import sys

from steadyml import Platform, Settings
from steadyml.cli.inspections import Inspector
from steadyml.control import Controller
from steadyml.serving.server import create_app, run
from steadyml.store.predictions import PredictionLog


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("--flush-interval-s", type=float, required=True)
    args = ap.parse_args()
    settings = Settings.from_env()

    def app_factory(platform: Platform):  # noqa: ANN202 (a ServingApp)
        log = PredictionLog(platform.settings.resolved_logs,
                            flush_interval_s=args.flush_interval_s)
        return create_app(platform, prediction_log=log, inspections=Inspector(platform))

    # As `steady server`: SIGTERM becomes SystemExit once uvicorn has shut down, so the
    # controller is stopped in `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    controller = Controller(Platform(settings))
    controller.start()
    try:
        run(settings, port=args.port, app_factory=app_factory)
    finally:
        controller.stop()
        controller.platform.close()


if __name__ == "__main__":
    main()
