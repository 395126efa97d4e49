"""The 10-step no-op chain in Prefect: ten tasks in one flow, local, no server configured.

Run in its own venv (benchmarks/.venvs/prefect) by bench_pipelines.py:

    benchmarks/.venvs/prefect/bin/python benchmarks/pipelines/run_prefect.py OUT.json

With PREFECT_API_URL unset, Prefect 3 serves its API from a temporary local server (SQLite
under PREFECT_HOME, here a fresh temp directory); the first flow run in the process starts it
and is reported apart (`first_flow_s`). Tasks cache on their inputs and source
(`INPUTS + TASK_SOURCE`, results persisted), like steadyml's steps: the first run with a new
`start` executes every task (cold), the same run again reuses them all (cached).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="bench-prefect-"))
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

from prefect import flow, task  # noqa: E402
from prefect.cache_policies import INPUTS, TASK_SOURCE  # noqa: E402

STEPS = 10
INSIDE: list[float] = []


@task(cache_policy=INPUTS + TASK_SOURCE, persist_result=True)
def noop(value: int) -> int:
    t0 = time.perf_counter()
    out = value + 1
    INSIDE.append(time.perf_counter() - t0)
    return out


@flow(name="bench-noop")
def chain(start: int) -> int:
    value = start
    for _ in range(STEPS):
        value = noop(value)
    return value


def timed(start: int) -> dict[str, float]:
    INSIDE.clear()
    t0 = time.perf_counter()
    result = chain(start)
    wall = time.perf_counter() - t0
    assert result == start + STEPS, result
    inside = sum(INSIDE)
    return {"wall_s": wall, "inside_s": inside, "executed": len(INSIDE),
            "overhead_per_step_ms": (wall - inside) / STEPS * 1000}


def main() -> None:
    out_path = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    import prefect

    t0 = time.perf_counter()
    first = timed(10**6)  # starts the temporary server; also a warm-up
    first_flow_s = time.perf_counter() - t0
    timed(10**6)
    runs = []
    for rep in range(reps):
        start = rep * 1000  # a new input: every task executes
        runs.append({"cold": timed(start), "cached": timed(start)})
    result = {"tool": "prefect", "version": prefect.__version__, "first_flow_s": first_flow_s,
              "first_flow_executed": first["executed"], "runs": runs,
              "api_url": os.environ.get("PREFECT_API_URL")}
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
