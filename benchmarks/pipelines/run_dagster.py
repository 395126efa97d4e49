"""The 10-step no-op chain in Dagster: a job of ten ops, `execute_in_process`.

Run in its own venv (benchmarks/.venvs/dagster) by bench_pipelines.py:

    benchmarks/.venvs/dagster/bin/python benchmarks/pipelines/run_dagster.py OUT.json

`execute_in_process` runs on an ephemeral instance (in memory, no daemon, no webserver) with
the in-process executor and the in-memory IO manager. Dagster has no cache of op results
for a job run: every run executes every op, so there is only a "cold" figure.
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("DAGSTER_HOME", "")
os.environ.pop("DAGSTER_HOME")  # the ephemeral instance, not one from the environment
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")

from dagster import In, Out, job, op  # noqa: E402

STEPS = 10
INSIDE: list[float] = []


def make_op(i: int):
    @op(name=f"s{i:02d}", ins={"value": In(int)}, out=Out(int))
    def step(value: int) -> int:
        t0 = time.perf_counter()
        out = value + 1
        INSIDE.append(time.perf_counter() - t0)
        return out

    return step


@op(out=Out(int))
def start() -> int:
    return 0


OPS = [make_op(i) for i in range(1, STEPS + 1)]


@job(name="bench_noop")
def chain() -> None:
    value = start()
    for step in OPS:
        value = step(value)


def timed() -> dict[str, float]:
    INSIDE.clear()
    t0 = time.perf_counter()
    result = chain.execute_in_process()
    wall = time.perf_counter() - t0
    assert result.success
    inside = sum(INSIDE)
    return {"wall_s": wall, "inside_s": inside, "executed": len(INSIDE),
            # the job has an 11th op (start) that makes the input; counted as overhead
            "overhead_per_step_ms": (wall - inside) / STEPS * 1000}


def main() -> None:
    out_path = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    import dagster

    t0 = time.perf_counter()
    timed()
    first_run_s = time.perf_counter() - t0
    runs = [{"cold": timed()} for _ in range(reps)]
    result = {"tool": "dagster", "version": dagster.__version__, "first_run_s": first_run_s,
              "runs": runs}
    with open(out_path, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
