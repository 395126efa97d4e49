"""The tracking service: owns transactions and audit entries around the run repository."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import pyarrow as pa

from steadyml.core.clock import Clock, SystemClock
from steadyml.core.errors import InvalidInputError, UnsupportedDataError
from steadyml.core.ids import check_key, new_id
from steadyml.store import audit
from steadyml.store.artifacts import ArtifactStore
from steadyml.store.engine import MetadataStore
from steadyml.tracking import datasets as ds
from steadyml.tracking import runs as rr
from steadyml.tracking.environment import (
    CodeVersion,
    Environment,
    capture_code,
    capture_environment,
    source_of_main,
)
from steadyml.tracking.profiles import profile_table


class Tracker:
    """Create runs and record what they log."""

    def __init__(self, store: MetadataStore, artifacts: ArtifactStore, *, actor: str,
                 clock: Clock | None = None) -> None:
        self.store = store
        self.artifacts = artifacts
        self.actor = actor
        self.clock = clock or SystemClock()
        self._known_environments: set[str] = set()
        self._experiment_ids: dict[str, int] = {}  # experiments are never deleted

    def create_run(self, experiment: str, *, name: str | None = None,
                   params: Mapping[str, object] | None = None,
                   tags: Mapping[str, object] | None = None,
                   code: CodeVersion | None = None, environment: Environment | None = None,
                   capture: bool = True) -> str:
        """Start a RUNNING run; code and environment are captured unless given or disabled."""
        if capture:
            code = code or capture_code()
            environment = environment or capture_environment()
        code = code or CodeVersion()
        run_id = new_id()
        now = self.clock.now_ms()
        with self.store.write() as conn:
            exp_id = self._experiment_ids.get(experiment)
            if exp_id is None:
                exp_id = rr.ensure_experiment(conn, experiment, now)
            if environment is not None and environment.hash not in self._known_environments:
                rr.ensure_environment(conn, environment, now)
            rr.insert_run(conn, run_id=run_id, experiment_id=exp_id, name=name or run_id[:8],
                          actor=self.actor, now_ms=now, source=source_of_main(), code=code,
                          environment_hash=environment.hash if environment else None)
            rr.write_params(conn, run_id, params or {})
            rr.write_tags(conn, run_id, tags or {})
            audit.append(conn, self.clock, actor=self.actor, action="run.created",
                         subject=f"run:{run_id}",
                         after={"experiment": experiment, "git_commit": code.commit,
                                "git_dirty": code.dirty})
        self._experiment_ids[experiment] = exp_id
        if environment is not None:
            self._known_environments.add(environment.hash)
        return run_id

    def finish_run(self, run_id: str, status: rr.RunStatus = rr.RunStatus.FINISHED) -> None:
        with self.store.write() as conn:
            previous = rr.set_status(conn, run_id, status, self.clock.now_ms())
            audit.append(conn, self.clock, actor=self.actor, action="run.finished",
                         subject=f"run:{run_id}", before={"status": str(previous)},
                         after={"status": str(status)})

    def log_batch(self, run_id: str, *,
                  metrics: Mapping[str, float] | Iterable[tuple[str, float, int, int]] = (),
                  step: int = 0, params: Mapping[str, object] | None = None,
                  tags: Mapping[str, object] | None = None) -> None:
        """Record metrics, params and tags in one transaction: all of them or none."""
        batch = rr.make_metrics(metrics, step, self.clock.now_ms())
        with self.store.write() as conn:
            rr.require_running(conn, run_id)
            rr.write_params(conn, run_id, params or {})
            rr.write_tags(conn, run_id, tags or {})
            rr.write_metrics(conn, run_id, batch)

    def log_artifact(self, run_id: str, path: str | os.PathLike[str],
                     name: str | None = None) -> str:
        """Store a local file as an artifact of the run; return its digest."""
        source = Path(path)
        if not source.is_file():
            raise InvalidInputError(f"Artifact {str(source)!r} is not a file.")
        artifact_path = check_key(name or source.name, "artifact")
        digest = self.artifacts.put_file(source)
        with self.store.write() as conn:
            rr.require_running(conn, run_id)
            rr.write_artifact(conn, run_id, artifact_path, digest, source.stat().st_size)
        return digest

    def log_dataset(self, run_id: str, data: Any, *, name: str, context: str = "training",
                    store_copy: bool | None = None) -> ds.Dataset:
        """Fingerprint, profile and record a dataset as an input of the run.

        In-memory data is stored as Parquet in the artifact store; a Parquet path is recorded
        by URI unless `store_copy` is True.
        """
        check_key(context, "dataset context")
        table, uri = ds.to_table(data)
        fp = ds.fingerprint(table)
        profile = profile_table(table)
        digest = None
        if store_copy or (store_copy is None and uri is None):
            digest = self.artifacts.put_bytes(ds.to_parquet_bytes(table))
            uri = self.artifacts.uri_of(digest)
        with self.store.write() as conn:
            rr.require_running(conn, run_id)
            dataset = ds.insert_dataset(conn, name=name, table=table, fp=fp, uri=uri or "",
                                        digest=digest, profile=profile,
                                        now_ms=self.clock.now_ms())
            ds.link_run(conn, run_id, dataset.id, context)
            audit.append(conn, self.clock, actor=self.actor, action="dataset.logged",
                         subject=f"run:{run_id}",
                         after={"dataset": name, "fingerprint": fp, "rows": table.num_rows,
                                "context": context})
        return dataset

    def read_dataset(self, dataset: ds.Dataset) -> pa.Table:
        """Return a logged dataset's rows, refusing data that is not what was logged.

        A stored copy is checked against its artifact digest; a dataset recorded by path is
        re-read and its fingerprint compared with the one recorded.
        """
        import pyarrow.parquet as pq

        if dataset.digest:
            return pq.read_table(io.BytesIO(self.artifacts.get_bytes(dataset.digest)))
        if not dataset.uri.startswith("file://"):
            raise UnsupportedDataError(f"Dataset {dataset.name!r} (id {dataset.id}) has no "
                                       f"stored copy and {dataset.uri!r} is not a local file.")
        table, _ = ds.to_table(url2pathname(urlparse(dataset.uri).path))
        if ds.fingerprint(table) != dataset.fingerprint:
            raise UnsupportedDataError(
                f"Dataset {dataset.name!r} (id {dataset.id}) changed since it was logged: "
                f"{dataset.uri} no longer has fingerprint {dataset.fingerprint[:19]}…. "
                "Log the new data as a new dataset.")
        return table

    def get_run(self, run_id: str) -> rr.Run:
        with self.store.read() as conn:
            return rr.get_run(conn, run_id)

    def search_runs(self, *, experiment: str | None = None, filter: str | None = None,
                    order_by: Sequence[str] | None = None, limit: int = 1000,
                    offset: int = 0) -> list[rr.Run]:
        with self.store.read() as conn:
            return rr.search_runs(conn, experiment=experiment, filter=filter,
                                  order_by=order_by, limit=limit, offset=offset)

    def metric_history(self, run_id: str, key: str) -> list[rr.Metric]:
        with self.store.read() as conn:
            rr.get_run(conn, run_id)
            return rr.metric_history(conn, run_id, key)

    def run_details(self, run_id: str) -> dict[str, Any]:
        """Return everything recorded of a run: the run, its datasets, artifacts, environment."""
        with self.store.read() as conn:
            run = rr.get_run(conn, run_id)
            inputs = ds.run_inputs(conn, run_id)
            artifacts = rr.list_artifacts(conn, run_id)
            env = rr.get_environment(conn, run.environment_hash) if run.environment_hash else None
        return {"run": run, "datasets": inputs, "artifacts": artifacts, "environment": env}

    def list_experiments(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return rr.list_experiments(conn)
