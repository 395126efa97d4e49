"""Diagnostic only: steadyml's serving app under uvicorn with one thing changed.

  python steady_variant.py STEADY_HOME PORT [--no-log] [--gc-freeze] [--gc-log FILE]

The same `create_app` and uvicorn options `steady server` uses (1 worker), except:
  --no-log     `log_predictions=False` (no CLI flag exposes it): what the prediction log costs
  --gc-freeze  after startup (models loaded and warmed) run gc.collect() then gc.freeze(), so
               the cyclic collector no longer walks the long-lived heap (imports, models)
  --gc-log     record every collection (generation, pause) and write a JSON summary to FILE
               at shutdown
These are not configurations users run; they show where time goes and what a change would buy.
"""

import argparse
import gc
import json
import time

import uvicorn

from steadyml import Platform, Settings
from steadyml.serving.server import create_app

ap = argparse.ArgumentParser()
ap.add_argument("home")
ap.add_argument("port", type=int)
ap.add_argument("--no-log", action="store_true")
ap.add_argument("--gc-freeze", action="store_true")
ap.add_argument("--gc-log")
args = ap.parse_args()

app = create_app(Platform(Settings(home=args.home)), log_predictions=not args.no_log)
pauses: list[tuple[float, int, float]] = []  # (time, generation, pause seconds)
_started: list[float] = [0.0]


def _on_gc(phase: str, info: dict) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        pauses.append((time.monotonic(), info["generation"], time.perf_counter() - _started[0]))


original_startup, original_shutdown = app.startup, app.shutdown


async def startup() -> None:
    await original_startup()
    if args.gc_freeze:
        gc.collect()
        gc.freeze()
    if args.gc_log:
        gc.callbacks.append(_on_gc)


async def shutdown() -> None:
    await original_shutdown()
    if args.gc_log:
        summary = {"frozen_objects": gc.get_freeze_count(),
                   "tracked_objects": len(gc.get_objects())}
        for gen in (0, 1, 2):
            p = sorted(x[2] for x in pauses if x[1] == gen)
            summary[f"gen{gen}"] = {
                "collections": len(p), "total_ms": round(sum(p) * 1000, 1),
                "max_ms": round(max(p, default=0) * 1000, 2),
                "median_ms": round(p[len(p) // 2] * 1000, 3) if p else 0}
        summary["gen2_times"] = [round(x[0], 3) for x in pauses if x[1] == 2]
        with open(args.gc_log, "w") as f:
            json.dump(summary, f, indent=1)


app.startup, app.shutdown = startup, shutdown  # type: ignore[method-assign]
uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
            timeout_graceful_shutdown=30)
