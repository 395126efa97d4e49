"""Many processes tracking into one store at once lose nothing (SQLite and PostgreSQL).

Each process uses the public SDK (docs/sdk-contract.md), as eight training scripts sharing one
STEADY_HOME or one PostgreSQL would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import steadyml  # imported before the processes are released together, so they overlap
from services import run_in_processes
from steadyml import Settings
from steadyml.store import MetadataStore, create_store_engine
from steadyml.store.tables import experiments, latest_metrics, metrics, runs

PROCESSES = 8
RUNS_PER_PROCESS = 20
STEPS = 10
KEYS = 50
EXPERIMENTS = ("concurrency-a", "concurrency-b")  # shared: created by whichever comes first


def _value(process: int, run: int, step: int, key: int) -> float:
    return process * 1_000_000 + run * 10_000 + step * 100 + key + 0.25


def _track(home: str, db_url: str, process: int) -> list[str]:
    run_ids = []
    settings = Settings(home=Path(home), db_url=db_url)
    with steadyml.open_platform(settings) as platform:
        for r in range(RUNS_PER_PROCESS):
            experiment = EXPERIMENTS[r % len(EXPERIMENTS)]
            with steadyml.start_run(experiment, name=f"p{process}-r{r:02d}",
                                    params={"process": process, "run": r},
                                    platform=platform) as run:
                for step in range(STEPS):
                    run.log_metrics({f"m{k:02d}": _value(process, r, step, k)
                                     for k in range(KEYS)}, step=step)
                run_ids.append(run.id)
    return run_ids


def _count(conn: sa.Connection, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()


@pytest.mark.slow
def test_processes_tracking_at_once_lose_nothing(store_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    # Migrate first (test_migrations covers racing migrations): the processes then start
    # tracking at the same moment instead of one after another behind the migration lock.
    MetadataStore(store_url).close()
    results = run_in_processes(_track, [(str(home), store_url, p) for p in range(PROCESSES)],
                               timeout_s=600)
    # Any "database is locked" (or any other error) in a process fails run_in_processes.
    run_ids = [run_id for ids in results for run_id in ids]
    total_runs = PROCESSES * RUNS_PER_PROCESS
    assert len(set(run_ids)) == total_runs

    engine = create_store_engine(store_url)
    try:
        with engine.connect() as conn:
            assert _count(conn, runs) == total_runs
            assert _count(conn, runs, runs.c.status == "FINISHED") == total_runs
            assert set(conn.execute(sa.select(runs.c.id)).scalars()) == set(run_ids)
            per_experiment = dict(conn.execute(
                sa.select(experiments.c.name, sa.func.count(runs.c.id))
                .join(runs, runs.c.experiment_id == experiments.c.id)
                .group_by(experiments.c.name)).all())
            assert per_experiment == {name: total_runs // len(EXPERIMENTS)
                                      for name in EXPERIMENTS}
            assert _count(conn, experiments) == len(EXPERIMENTS)
            # The processes really ran at the same time: every one started before any ended.
            spans = conn.execute(
                sa.select(sa.func.substr(runs.c.name, 1, 3).label("process"),
                          sa.func.min(runs.c.start_ms), sa.func.max(runs.c.end_ms))
                .group_by("process")).all()
            assert len(spans) == PROCESSES
            assert max(start for _, start, _ in spans) < min(end for _, _, end in spans)

            assert _count(conn, metrics) == total_runs * STEPS * KEYS
            # No duplicated and no missing (run, key, step).
            distinct = sa.select(metrics.c.run_id, metrics.c.key, metrics.c.step).distinct()
            assert conn.execute(sa.select(sa.func.count()).select_from(distinct.subquery())) \
                .scalar() == total_runs * STEPS * KEYS
            # Every value arrived intact: the sum matches the one computed here.
            expected_sum = sum(_value(p, r, s, k) for p in range(PROCESSES)
                               for r in range(RUNS_PER_PROCESS) for s in range(STEPS)
                               for k in range(KEYS))
            assert conn.execute(sa.select(sa.func.sum(metrics.c.value))).scalar() \
                == pytest.approx(expected_sum, rel=1e-12)

            assert _count(conn, latest_metrics) == total_runs * KEYS
            assert _count(conn, latest_metrics, latest_metrics.c.step == STEPS - 1) \
                == total_runs * KEYS
    finally:
        engine.dispose()
