"""The prediction log: every prediction appended to Parquet segments, queryable with DuckDB.

Layout, in Hive partitions, under a local directory or any fsspec URL (`s3://bucket/prefix`):

    <root>/predictions/deployment=<name>/date=YYYY-MM-DD/<unix ms>-<random id>.parquet

A request calls `append_batch` once for all its rows. A background thread gathers the batches
and writes a segment when `segment_rows` rows wait, when the oldest has waited
`flush_interval_s`, or when `flush()` or `close()` asks. A segment appears whole or not at all:
locally it is written to a hidden `.part` file and renamed; on an object store it is one PUT.
Each segment has its own schema, so read the log with `union_by_name`, as `open_log` does.
Columns: request_id, row, deployment, revision, model, model_version, arm, ts (UTC), latency_ms,
status ("ok", or "error" / "timeout" for a request the model failed: outputs NaN), cpu_ms (the
model call's CPU time per row); `in_<feature>` per input feature (float64, or string for text); the outputs as `out`
(one per row) or `out_0..out_<c-1>`, float64; text outputs (class labels) as `out_text` or
`out_<j>_text`, so that they never turn another model's numeric `out` into text.

When the queue is full: rows accepted but not yet written (waiting, or held for a retry while
storage fails) count against `max_queue_rows`. A batch that would pass that bound is dropped
whole and at once: `append_batch` returns False without blocking, so the request is neither
slowed nor failed for the log's sake; `stats["dropped"]` counts the dropped rows (export it as a
metric) and a warning with the count is logged at most once every 10 s. A batch larger than
`max_queue_rows` is always dropped; so are batches offered after `close()`.

When storage fails: an encoded segment is kept and retried under the same name (so a retry after
a PUT whose answer was lost overwrites, never duplicates), backing off from 0.1 s to 5 s;
`stats["errors"]` counts the failures. `close()` retries until its deadline, then raises
`PredictionLogError` with the number of rows it could not write (`stats["failed"]`).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import numpy as np

from steadyml.core.errors import (
    ConfigurationError,
    InvalidInputError,
    NotFoundError,
    StoreError,
)
from steadyml.core.ids import check_name
from steadyml.store.prediction_segments import (
    Batch,
    Segment,
    batch_inputs,
    batch_outputs,
    encode_segments,
)

if TYPE_CHECKING:
    import duckdb

_logger = logging.getLogger(__name__)

DROP_WARNING_INTERVAL_S = 10.0
BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 5.0


class Arm(StrEnum):
    STABLE = "stable"
    CANDIDATE = "candidate"
    SHADOW = "shadow"


class PredictionLogError(StoreError):
    """The prediction log could not write rows it had accepted."""


class PredictionsNotFoundError(NotFoundError):
    def __init__(self, location: str) -> None:
        super().__init__(f"No predictions are logged under {location}. Send requests to a "
                         "deployment first, or check the log location (STEADY_HOME).")


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One prediction: one row of a request (a batch of n rows gives rows 0..n-1)."""

    request_id: str
    row: int
    deployment: str
    revision: int
    model: str
    model_version: int
    arm: str
    ts_ms: int
    latency_ms: float
    inputs: np.ndarray | Mapping[str, Any]  # one row of features, or feature name -> value
    outputs: np.ndarray | float | int | str  # a scalar, or a 1-D row of outputs
    status: str = "ok"


class PredictionLog:
    """Take predictions from request threads; write them as Parquet from a background thread."""

    def __init__(self, root: str | os.PathLike[str], *,
                 feature_names: Sequence[str] | None = None, max_queue_rows: int = 200_000,
                 segment_rows: int = 50_000, flush_interval_s: float = 2.0,
                 storage_options: dict[str, Any] | None = None) -> None:
        if max_queue_rows < 1 or segment_rows < 1 or not flush_interval_s > 0:
            raise ConfigurationError(
                f"Prediction log limits must be positive, got max_queue_rows={max_queue_rows}, "
                f"segment_rows={segment_rows}, flush_interval_s={flush_interval_s}.")
        self.root = os.fspath(root).rstrip("/")
        self.feature_names = None if feature_names is None else tuple(feature_names)
        self.max_queue_rows = max_queue_rows
        self.segment_rows = segment_rows
        self.flush_interval_s = flush_interval_s
        self.storage_options = storage_options
        lock = threading.Lock()
        self._work = threading.Condition(lock)  # the writer waits here
        self._done = threading.Condition(lock)  # flush() and close() wait here
        self._queue: deque[Batch] = deque()
        self._queued_rows = 0
        self._buffered_rows = 0  # accepted, neither written nor given up: the queue's bound
        self._seq = 0  # the last batch accepted
        self._taken_seq = 0  # the last batch the writer took from the queue
        self._durable_seq = 0  # every batch up to this one is written or given up
        self._flush_seq = 0  # flush() waits for the batches up to this one
        self._retry: list[Segment] = []
        self._retry_at = 0.0
        self._backoff_s = 0.0
        self._last_error: str | None = None
        self._counts = {"accepted": 0, "written": 0, "dropped": 0, "failed": 0, "errors": 0,
                        "segments": 0}
        self._unwarned_drops = 0
        self._warned_at = -math.inf
        self._thread: threading.Thread | None = None
        self._writer_done = False
        self._closed = False
        self._stopping = False
        self._stop_deadline = math.inf
        self._fs: Any = None
        self._base = ""
        self._is_local = True
        self._checked_names: set[tuple[str, ...]] = set()
        self._checked_deployments: set[str] = set()

    # --- request path ----------------------------------------------------------------------

    def append_batch(self, *, request_id: str, deployment: str, revision: int, model: str,
                     model_version: int, arm: str, ts_ms: int, latency_ms: float,
                     inputs: np.ndarray | Mapping[str, Any], outputs: np.ndarray,
                     feature_names: Sequence[str] | None = None, status: str = "ok") -> bool:
        """Queue a request's rows; return False if the queue was full and they were dropped.

        `inputs` is an (n, k) array named by `feature_names` (else the log's, else 0..k-1), or a
        mapping of feature name to n values; `outputs` is (n,) or (n, c). Never blocks on I/O.
        """
        names, x = batch_inputs(inputs, self.feature_names if feature_names is None
                                else feature_names, self._checked_names)
        return self._enqueue(Batch(
            len(x), 0, str(request_id), self._deployment(deployment), int(revision), str(model),
            int(model_version), _arm(arm), int(ts_ms), float(latency_ms), str(status), names, x,
            batch_outputs(outputs, len(x))))

    def append_rows(self, *, request_ids: Sequence[str], rows_per_request: Sequence[int],
                    latency_ms: Sequence[float], deployment: str, revision: int, model: str,
                    model_version: int, arm: str, ts_ms: int,
                    inputs: np.ndarray | Mapping[str, Any], outputs: np.ndarray,
                    feature_names: Sequence[str] | None = None, status: str = "ok",
                    cpu_ms_per_row: float = 0.0) -> bool:
        """Queue one model call's rows, which belong to several requests, in one go.

        The cheap path for a serving process: one queue entry per batch of requests, not
        per request. `rows_per_request[i]` rows of `inputs` belong to `request_ids[i]`.
        """
        names, x = batch_inputs(inputs, self.feature_names if feature_names is None
                                else feature_names, self._checked_names)
        counts = np.asarray(rows_per_request, dtype=np.int64)
        if len(request_ids) != len(counts) or len(latency_ms) != len(counts) or \
                int(counts.sum()) != len(x):
            raise InvalidInputError(
                f"append_rows got {len(request_ids)} request ids, {len(counts)} row counts "
                f"summing to {int(counts.sum())} and {len(latency_ms)} latencies for "
                f"{len(x)} rows; give one id, count and latency per request.")
        starts = np.cumsum(counts) - counts
        batch = Batch(
            len(x), 0, str(request_ids[0]) if request_ids else "", self._deployment(deployment),
            int(revision), str(model), int(model_version), _arm(arm), int(ts_ms),
            float(latency_ms[0]) if len(latency_ms) else 0.0, str(status), names, x,
            batch_outputs(outputs, len(x)),
            row_request_ids=[r for r, c in zip(request_ids, counts.tolist(), strict=True)
                             for _ in range(c)],
            row_index=np.arange(len(x), dtype=np.int64) - np.repeat(starts, counts),
            row_latency_ms=np.repeat(np.asarray(latency_ms, dtype=np.float64), counts),
            cpu_ms=float(cpu_ms_per_row))
        return self._enqueue(batch)

    def append(self, record: PredictionRecord) -> bool:
        """Queue one prediction; a request's rows are cheaper through `append_batch`."""
        if isinstance(record.inputs, Mapping):
            names, x = batch_inputs({k: [v] for k, v in record.inputs.items()}, None,
                                    self._checked_names)
        else:
            names, x = batch_inputs(np.asarray(record.inputs).reshape(1, -1),
                                    self.feature_names, self._checked_names)
        outputs = np.asarray(record.outputs)
        return self._enqueue(Batch(
            1, int(record.row), str(record.request_id), self._deployment(record.deployment),
            int(record.revision), str(record.model), int(record.model_version),
            _arm(record.arm), int(record.ts_ms), float(record.latency_ms), str(record.status),
            names, x, batch_outputs(outputs.reshape(1, *outputs.shape), 1)))

    def _enqueue(self, batch: Batch) -> bool:
        if batch.n == 0:
            return True
        warn = 0
        with self._work:
            if self._closed or self._buffered_rows + batch.n > self.max_queue_rows:
                self._counts["dropped"] += batch.n
                self._unwarned_drops += batch.n
                now = time.monotonic()
                if now - self._warned_at >= DROP_WARNING_INTERVAL_S:
                    self._warned_at, warn, self._unwarned_drops = now, self._unwarned_drops, 0
                accepted = False
            else:
                self._seq += 1
                batch.seq = self._seq
                batch.queued_at = time.monotonic()
                was_empty = not self._queue
                self._queue.append(batch)
                self._queued_rows += batch.n
                self._buffered_rows += batch.n
                self._counts["accepted"] += batch.n
                if was_empty or self._queued_rows - batch.n < self.segment_rows <= self._queued_rows:
                    self._work.notify()
                accepted = True
        if warn:
            _logger.warning(
                "Prediction log %s %s: dropped %d rows (%d in all so far). Raise "
                "max_queue_rows (now %d) or check that the storage keeps up.", self.root,
                "is closed" if self._closed else "queue is full", warn, self.stats["dropped"],
                self.max_queue_rows)
        return accepted

    def _deployment(self, name: str) -> str:
        if name not in self._checked_deployments:  # the name becomes a path component
            check_name(name, "deployment")
            if len(self._checked_deployments) < 10_000:
                self._checked_deployments.add(name)
        return name

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the background writer; calling it again does nothing."""
        with self._work:
            if self._closed:
                raise PredictionLogError(f"The prediction log at {self.root} is closed; "
                                         "create a new PredictionLog to log again.")
            if self._thread is None:
                self._start_writer()

    def _start_writer(self) -> None:
        import fsspec

        try:
            # A fresh instance, as in ArtifactStore: the cache would pin old credentials.
            self._fs, path = fsspec.core.url_to_fs(self.root, skip_instance_cache=True,
                                                   **(self.storage_options or {}))
        except (ImportError, ValueError) as exc:
            raise ConfigurationError(
                f"Cannot open the prediction log at {self.root!r}: {exc}. For s3:// URLs "
                "install 'steadyml[s3]'.") from exc
        self._base = f"{path.rstrip('/')}/predictions"
        self._is_local = "file" in _protocols(self._fs)
        self._thread = threading.Thread(target=self._run, name="steadyml-prediction-log",
                                        daemon=True)
        self._thread.start()

    def flush(self, timeout_s: float | None = None) -> None:
        """Return once every row accepted before the call is written; raise if time runs out."""
        deadline = math.inf if timeout_s is None else time.monotonic() + timeout_s
        with self._work:
            target = self._seq
            if self._durable_seq >= target:
                return
            self._flush_seq = max(self._flush_seq, target)
            self._work.notify()
            while self._durable_seq < target:
                left = deadline - time.monotonic()
                if self._thread is None or self._writer_done or left <= 0:
                    raise PredictionLogError(self._unwritten_message(
                        "not started (call start())" if self._thread is None else
                        "stopped" if self._writer_done else f"not done after {timeout_s} s"))
                self._done.wait(None if left == math.inf else left)

    def close(self, timeout_s: float = 30) -> None:
        """Write every accepted row and stop the writer; raise if some could not be written.

        Safe to call more than once: later calls do nothing.
        """
        with self._work:
            if self._closed:
                return
            self._closed = self._stopping = True
            self._stop_deadline = time.monotonic() + timeout_s
            if self._thread is None and self._queue:
                self._start_writer()  # rows accepted before start(): write them now
            self._work.notify()
            thread = self._thread
        if thread is not None:
            # The writer gives up at the deadline; the slack lets a write under way finish.
            thread.join(timeout=max(0.0, self._stop_deadline - time.monotonic()) + 1.0)
        with self._work:
            if thread is not None and thread.is_alive():
                raise PredictionLogError(self._unwritten_message(f"not done after {timeout_s} s"))
            if self._counts["failed"]:
                raise PredictionLogError(
                    f"{self._counts['failed']} prediction rows could not be written to the log "
                    f"at {self.root}; last error: {self._last_error}. They are lost; check the "
                    "storage and the warnings logged before.")

    @property
    def stats(self) -> dict[str, int]:
        """Rows accepted, written, dropped (queue full), failed; write errors; rows queued."""
        with self._work:
            return {**self._counts, "queue_depth": self._buffered_rows}

    def __enter__(self) -> PredictionLog:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unwritten_message(self, state: str) -> str:
        return (f"The prediction log writer for {self.root} is {state}: {self._buffered_rows} "
                f"accepted rows are not written yet (last storage error: {self._last_error}). "
                "Check that the storage is reachable and writable.")

    # --- writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._work:
                    batches = self._wait_for_work()
                if batches is None:
                    return
                self._write_round(batches)
        except BaseException:
            _logger.exception("The prediction log writer for %s stopped on an unexpected error; "
                              "rows still queued will not be written.", self.root)
            raise
        finally:
            with self._work:
                self._writer_done = True
                self._done.notify_all()

    def _wait_for_work(self) -> list[Batch] | None:
        """Wait until a segment is due; take its batches (none: only retries are due)."""
        while True:
            now = time.monotonic()
            if self._stopping and not self._queue and not self._retry:
                return None
            if self._stopping and self._retry and now >= self._stop_deadline:
                self._give_up()
                return None
            if self._retry:
                wait: float | None = self._retry_at - now
            elif (self._stopping or self._flush_seq > self._durable_seq
                  or self._queued_rows >= self.segment_rows):
                wait = 0.0
            elif self._queue:
                wait = self._queue[0].queued_at + self.flush_interval_s - now
            else:
                wait = None
            if self._stopping and wait is not None:
                wait = min(wait, self._stop_deadline - now)
            if wait is not None and wait <= 0:
                return self._take()
            self._work.wait(wait)

    def _take(self) -> list[Batch]:
        batches, rows = [], 0
        while self._queue and rows < self.segment_rows:
            batch = self._queue.popleft()
            batches.append(batch)
            rows += batch.n
        self._queued_rows -= rows
        if batches:
            self._taken_seq = batches[-1].seq
        return batches

    def _give_up(self) -> None:
        rows = sum(s.rows for s in self._retry) + self._queued_rows
        self._counts["failed"] += rows
        self._buffered_rows -= rows
        self._retry, self._queued_rows = [], 0
        self._queue.clear()
        self._durable_seq = self._taken_seq = self._seq
        self._done.notify_all()
        _logger.error("Prediction log %s: gave up on %d rows at close; last error: %s",
                      self.root, rows, self._last_error)

    def _write_round(self, batches: list[Batch]) -> None:
        segments, failed_rows = encode_segments(batches, self._base) if batches else ([], 0)
        pending = self._retry + segments
        written = 0
        error: Exception | None = None
        for segment in pending:
            try:
                self._put(segment)
            except Exception as exc:  # OSError, botocore, aiohttp...: all mean "retry later"
                error = exc
                break
            written += 1
        left = pending[written:]
        rows = sum(s.rows for s in pending[:written])
        with self._work:
            self._retry = left
            self._counts["written"] += rows
            self._counts["segments"] += written
            self._counts["failed"] += failed_rows
            self._buffered_rows -= rows + failed_rows
            if left:
                self._durable_seq = min(s.first_seq for s in left) - 1
                self._counts["errors"] += 1
                self._last_error = f"{type(error).__name__}: {error}"
                self._backoff_s = min(max(2 * self._backoff_s, BACKOFF_MIN_S), BACKOFF_MAX_S)
                self._retry_at = time.monotonic() + self._backoff_s
            else:
                self._durable_seq = self._taken_seq
                self._backoff_s = 0.0
            self._done.notify_all()
        if error is not None:
            _logger.warning("Prediction log %s: cannot write a segment (%s); %d rows kept, "
                            "retrying in %.1f s.", self.root, self._last_error,
                            sum(s.rows for s in left), self._backoff_s)

    def _put(self, segment: Segment) -> None:
        if not self._is_local:
            self._fs.pipe_file(segment.path, segment.data)  # one PUT: all or nothing
            return
        directory, name = os.path.split(segment.path)
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, f".{name}.part")  # hidden, and not *.parquet
        try:
            with open(tmp, "wb") as handle:
                handle.write(segment.data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, segment.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)  # make the rename itself durable
        finally:
            os.close(fd)


def _arm(arm: str) -> str:
    try:
        return Arm(arm).value
    except ValueError:
        raise InvalidInputError(f"Unknown arm {arm!r}; use one of "
                                f"{', '.join(a.value for a in Arm)}.") from None


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


def open_log(root: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None,
             connection: duckdb.DuckDBPyConnection | None = None) -> duckdb.DuckDBPyRelation:
    """Return the prediction log under `root` as a DuckDB relation and a `predictions` view.

    Rows carry the file columns plus the partition column `date`; feature sets that differ
    between segments are merged by name, missing values as NULL.
    """
    import duckdb
    import fsspec

    fs, path = fsspec.core.url_to_fs(os.fspath(root), skip_instance_cache=True,
                                     **(storage_options or {}))
    base = f"{path.rstrip('/')}/predictions"
    if not fs.exists(base):
        raise PredictionsNotFoundError(os.fspath(root))
    con = connection if connection is not None else duckdb.connect()
    protocol = _protocols(fs)[0]
    if protocol == "file":
        pattern = f"{base}/**/*.parquet"
    else:
        con.register_filesystem(fs)  # DuckDB reads through fsspec: no extension to download
        pattern = f"{protocol}://{base}/**/*.parquet"
    quoted = pattern.replace("'", "''")
    con.execute(
        f"CREATE OR REPLACE VIEW predictions AS SELECT * FROM read_parquet('{quoted}', "
        "hive_partitioning = true, union_by_name = true, "
        "hive_types = {'deployment': 'VARCHAR', 'date': 'DATE'})")
    return con.view("predictions")
