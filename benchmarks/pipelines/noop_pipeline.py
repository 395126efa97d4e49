"""Ten no-op steps in a chain: each takes the previous step's output and returns a small int.

Loaded by path like a user's pipeline file (`steady pipeline run noop_pipeline.py:noop`).
The steps do no work, so a run's wall time is the pipeline machinery's.
"""

from __future__ import annotations

from steadyml.pipelines import Pipeline, step

STEPS = 10


@step(outputs="v01")
def s01(start: int = 0) -> int:
    return start + 1


@step(outputs="v02")
def s02(v01: int) -> int:
    return v01 + 1


@step(outputs="v03")
def s03(v02: int) -> int:
    return v02 + 1


@step(outputs="v04")
def s04(v03: int) -> int:
    return v03 + 1


@step(outputs="v05")
def s05(v04: int) -> int:
    return v04 + 1


@step(outputs="v06")
def s06(v05: int) -> int:
    return v05 + 1


@step(outputs="v07")
def s07(v06: int) -> int:
    return v06 + 1


@step(outputs="v08")
def s08(v07: int) -> int:
    return v07 + 1


@step(outputs="v09")
def s09(v08: int) -> int:
    return v08 + 1


@step(outputs="v10")
def s10(v09: int) -> int:
    return v09 + 1


noop = Pipeline("bench-noop", [s01, s02, s03, s04, s05, s06, s07, s08, s09, s10])
