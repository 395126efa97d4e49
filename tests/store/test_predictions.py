"""The prediction log on real files, real threads, real DuckDB and a real S3-compatible server."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from services import wait_until
from steadyml.core.errors import InvalidInputError
from steadyml.store import predictions as predlog
from steadyml.store.predictions import (
    PredictionLog,
    PredictionLogError,
    PredictionRecord,
    PredictionsNotFoundError,
    open_log,
)

DAY_MS = 86_400_000
TS_MS = 1_718_000_000_000  # 2024-06-10T06:13:20Z
FEATURES = ["age", "amount", "score"]


def _append(log: PredictionLog, request_id: str, x: np.ndarray, y: np.ndarray, *,
            deployment: str = "fraud", arm: str = "stable", ts_ms: int = TS_MS,
            names: list[str] | None = None, model: str = "fraud-model", version: int = 3) -> bool:
    return log.append_batch(request_id=request_id, deployment=deployment, revision=7,
                            model=model, model_version=version, arm=arm, ts_ms=ts_ms,
                            latency_ms=1.25, inputs=x, outputs=y,
                            feature_names=names or FEATURES)


def _rows(relation: Any) -> pa.Table:
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # duckdb < 1.4
    return fetch()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "predictions").rglob("*") if p.is_file())


def test_rows_from_many_threads_are_all_written_once(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, segment_rows=500, flush_interval_s=0.05)
    log.start()
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 20, size=(8, 150))

    def send(thread: int) -> None:
        for i, n in enumerate(sizes[thread]):
            x = np.full((n, 3), float(thread))
            assert _append(log, f"t{thread}-{i}", x, np.arange(n, dtype=np.float64))

    threads = [threading.Thread(target=send, args=(t,)) for t in range(len(sizes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.flush(timeout_s=60)

    total = int(sizes.sum())
    stats = log.stats
    assert stats["accepted"] == stats["written"] == total
    assert stats["dropped"] == stats["failed"] == stats["errors"] == stats["queue_depth"] == 0
    assert stats["segments"] == len(_files(tmp_path)) >= total // 500
    counts = open_log(tmp_path).aggregate(
        "count(*) AS n, count(DISTINCT (request_id, row)) AS distinct_rows, max(row) AS top")
    assert counts.fetchall() == [(total, total, int(sizes.max()) - 1)]
    log.close()


def test_flush_waits_for_rows_accepted_before_it_while_others_keep_appending(
        tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, segment_rows=50, flush_interval_s=3600)
    log.start()
    late: list[tuple[int, int]] = []

    def append_then_flush(thread: int) -> None:
        for i in range(30):
            _append(log, f"t{thread}-{i}", np.ones((3, 3)), np.ones(3))
            accepted = log.stats["accepted"]  # includes this thread's rows, and maybe others'
            log.flush(timeout_s=60)
            if (written := log.stats["written"]) < accepted:
                late.append((accepted, written))

    threads = [threading.Thread(target=append_then_flush, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert late == []
    log.close()
    assert open_log(tmp_path).aggregate("count(*)").fetchall() == [(6 * 30 * 3,)]


def test_flush_makes_exact_values_visible_to_duckdb(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, flush_interval_s=3600)  # only flush() writes
    log.start()
    rng = np.random.default_rng(11)
    x = rng.normal(size=(50, 3)) * np.array([1.0, 1e300, 1e-300])
    x[0] = [np.nan, -0.0, np.inf]
    y = rng.random((50, 2))
    assert _append(log, "req-1", x, y)
    log.flush(timeout_s=60)

    table = _rows(open_log(tmp_path).order("row"))
    np.testing.assert_array_equal(
        np.column_stack([table[f"in_{n}"].to_numpy() for n in FEATURES]), x)
    np.testing.assert_array_equal(
        np.column_stack([table["out_0"].to_numpy(), table["out_1"].to_numpy()]), y)
    assert table["row"].to_pylist() == list(range(50))
    first = table.slice(0, 1).to_pylist()[0]
    assert {k: first[k] for k in ("request_id", "deployment", "revision", "model",
                                  "model_version", "arm", "latency_ms", "status")} == {
        "request_id": "req-1", "deployment": "fraud", "revision": 7, "model": "fraud-model",
        "model_version": 3, "arm": "stable", "latency_ms": 1.25, "status": "ok"}
    assert first["ts"] == dt.datetime.fromtimestamp(TS_MS / 1000, dt.UTC)
    assert first["date"] == dt.date(2024, 6, 10)

    segment = pq.read_schema(_files(tmp_path)[0])
    assert {f.name: str(f.type) for f in segment} == {
        "request_id": "string", "row": "int32", "deployment": "string", "revision": "int32",
        "model": "string", "model_version": "int32", "arm": "string",
        "ts": "timestamp[ms, tz=UTC]", "latency_ms": "float", "status": "string",
        "cpu_ms": "float", "in_age": "double", "in_amount": "double", "in_score": "double",
        "out_0": "double", "out_1": "double"}
    log.close()


def test_segments_are_partitioned_by_deployment_and_date(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as log:
        for deployment in ("fraud", "churn"):
            for day in (0, 1):
                _append(log, f"{deployment}-{day}", np.ones((2, 3)), np.zeros(2),
                        deployment=deployment, ts_ms=TS_MS + day * DAY_MS)
        log.flush(timeout_s=60)
        dirs = sorted(str(p.parent.relative_to(tmp_path)) for p in _files(tmp_path))
        assert dirs == [f"predictions/deployment={d}/date=2024-06-{day}"
                        for d in ("churn", "fraud") for day in (10, 11)]
        rows = open_log(tmp_path).filter(
            "deployment = 'churn' AND date = DATE '2024-06-11'").project("request_id")
        assert rows.fetchall() == [("churn-1",), ("churn-1",)]


def test_shadow_rows_and_different_feature_sets_read_together(tmp_path: Path) -> None:
    with PredictionLog(tmp_path) as log:
        x = np.array([[30.0, 12.5, 0.1]])
        _append(log, "r1", x, np.array([0.0]), arm="stable")
        _append(log, "r1", x, np.array([1.0]), arm="shadow", model="fraud-next", version=4)
        # A candidate with other features, one of them text, and class labels as outputs.
        log.append_batch(request_id="r2", deployment="fraud", revision=8, model="fraud-v2",
                         model_version=1, arm="candidate", ts_ms=TS_MS, latency_ms=2.0,
                         inputs={"age": np.array([41]), "country": np.array(["FR"])},
                         outputs=np.array(["legit"]))
        log.append(PredictionRecord("r3", 0, "fraud", 7, "fraud-model", 3, "stable", TS_MS,
                                    0.5, np.array([1.0, 2.0, 3.0]), 1.0))
        log.flush(timeout_s=60)
        by_arm = {r["arm"] + "/" + r["request_id"]: r for r in _rows(open_log(tmp_path)
                                                                     ).to_pylist()}
    assert by_arm["shadow/r1"]["model"] == "fraud-next"
    assert (by_arm["shadow/r1"]["out"], by_arm["stable/r1"]["out"]) == (1.0, 0.0)
    candidate = by_arm["candidate/r2"]
    assert (candidate["in_age"], candidate["in_country"], candidate["in_amount"]) == \
        (41.0, "FR", None)
    assert (candidate["out_text"], candidate["out"]) == ("legit", None)
    assert by_arm["stable/r1"]["out_text"] is None
    assert by_arm["stable/r3"]["in_age"] is None  # the log gave no feature names
    assert by_arm["stable/r3"]["in_0"] == 1.0


def test_full_queue_drops_whole_batches_counts_them_and_warns_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(predlog, "DROP_WARNING_INTERVAL_S", 1e9)  # one warning, however slow
    log = PredictionLog(tmp_path, max_queue_rows=10, flush_interval_s=3600)
    with pytest.raises(PredictionLogError, match="call start"):
        _append(log, "r0", np.ones((1, 3)), np.ones(1))  # accepted, then nobody writes it
        log.flush()
    # The writer is not started: the queue only fills.
    accepted = [_append(log, f"r{i}", np.ones((n, 3)), np.ones(n))
                for i, n in enumerate([4, 4, 2, 1, 11], start=1)]
    assert accepted == [True, True, False, True, False]  # 1 + 4 + 4 (+2 no) + 1 (+11 no)
    assert log.stats == {"accepted": 10, "written": 0, "dropped": 13, "failed": 0, "errors": 0,
                         "segments": 0, "queue_depth": 10}
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "dropped 2 rows" in warnings[0].getMessage()

    log.start()
    log.flush(timeout_s=60)
    assert _append(log, "r6", np.ones((10, 3)), np.ones(10))  # room again once written
    log.close()
    assert not _append(log, "late", np.ones((1, 3)), np.ones(1))
    stats = log.stats
    assert (stats["accepted"], stats["written"], stats["dropped"]) == (20, 20, 14)
    got = open_log(tmp_path).aggregate("request_id, count(*)", "request_id").order("1")
    assert got.fetchall() == [("r0", 1), ("r1", 4), ("r2", 4), ("r4", 1), ("r6", 10)]


def test_close_flushes_everything_and_is_idempotent(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, segment_rows=10**9, flush_interval_s=3600)
    log.start()
    for i in range(20):
        _append(log, f"r{i}", np.ones((5, 3)), np.ones(5))
    assert _files(tmp_path) == []  # nothing was due yet
    log.close()
    log.close()
    assert log.stats["written"] == 100
    assert open_log(tmp_path).aggregate("count(*)").fetchall() == [(100,)]
    with pytest.raises(PredictionLogError, match="closed"):
        log.start()


def test_close_without_start_writes_what_was_accepted(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    _append(log, "r1", np.ones((3, 3)), np.ones(3))
    log.close()
    assert pq.read_table(_files(tmp_path)[0]).num_rows == 3


def test_readers_never_see_a_partial_segment(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, segment_rows=2_000, flush_interval_s=0.01)
    log.start()
    stop = threading.Event()
    seen: set[Path] = set()
    problems: list[str] = []

    def read_continuously() -> None:
        while not stop.is_set():
            for path in (tmp_path / "predictions").glob("**/*.parquet"):
                try:
                    if path not in seen:
                        pq.read_table(path)  # the whole file, footer and all
                        seen.add(path)
                except FileNotFoundError:
                    problems.append(f"{path} vanished")
                except Exception as exc:  # noqa: BLE001 - any read failure is the finding
                    problems.append(f"{path}: {exc}")

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        for i in range(200):
            _append(log, f"r{i}", np.random.default_rng(i).random((100, 3)), np.ones(100))
        log.flush(timeout_s=60)
    finally:
        stop.set()
        reader.join()
    log.close()
    assert problems == []
    names = [p.name for p in _files(tmp_path)]
    assert names and all(n.endswith(".parquet") and not n.startswith(".") for n in names)


def test_a_failing_store_keeps_the_rows_and_retries(tmp_path: Path) -> None:
    blocker = tmp_path / "predictions"
    blocker.write_text("a file where the log wants a directory")
    log = PredictionLog(tmp_path, flush_interval_s=0.01)
    log.start()
    _append(log, "r1", np.ones((4, 3)), np.ones(4))
    wait_until(lambda: log.stats["errors"] >= 2, timeout_s=30, what="two failed writes")
    assert log.stats["queue_depth"] == 4
    with pytest.raises(PredictionLogError, match="not done after 0 s.*4 accepted rows"):
        log.flush(timeout_s=0)

    blocker.unlink()
    log.flush(timeout_s=60)
    log.close()
    assert log.stats["written"] == 4
    assert open_log(tmp_path).aggregate("count(*)").fetchall() == [(4,)]


def test_close_reports_rows_it_could_not_write(tmp_path: Path) -> None:
    (tmp_path / "predictions").write_text("in the way")
    log = PredictionLog(tmp_path)
    log.start()
    _append(log, "r1", np.ones((6, 3)), np.ones(6))
    with pytest.raises(PredictionLogError, match="6 prediction rows could not be written"):
        log.close(timeout_s=0.2)
    assert log.stats["failed"] == 6
    log.close()  # already closed: nothing more to report


def test_bad_input_is_refused_before_it_is_queued(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path)
    with pytest.raises(InvalidInputError, match="Unknown arm 'blue'"):
        _append(log, "r", np.ones((1, 3)), np.ones(1), arm="blue")
    with pytest.raises(InvalidInputError, match=r"\(n, k\) array"):
        _append(log, "r", np.ones(3), np.ones(1))
    with pytest.raises(InvalidInputError, match="n=2 rows"):
        _append(log, "r", np.ones((2, 3)), np.ones(3))
    with pytest.raises(InvalidInputError, match="do not name the 3 input columns"):
        _append(log, "r", np.ones((1, 3)), np.ones(1), names=["a", "a", "b"])
    with pytest.raises(InvalidInputError, match="deployment name"):
        _append(log, "r", np.ones((1, 3)), np.ones(1), deployment="../etc")
    assert log.stats["accepted"] == 0


def test_open_log_says_when_nothing_is_logged(tmp_path: Path) -> None:
    with pytest.raises(PredictionsNotFoundError, match="No predictions are logged"):
        open_log(tmp_path)


def test_segments_land_whole_on_an_s3_compatible_store(
        s3_url: str, s3_storage_options: dict[str, Any]) -> None:
    import fsspec

    with PredictionLog(s3_url, storage_options=s3_storage_options, segment_rows=100) as log:
        for i in range(5):
            x = np.random.default_rng(i).random((60, 3))
            _append(log, f"r{i}", x, x.sum(axis=1), deployment="fraud" if i % 2 else "churn")
        log.flush(timeout_s=60)
        assert log.stats["written"] == 300

    fs, path = fsspec.core.url_to_fs(s3_url, skip_instance_cache=True, **s3_storage_options)
    keys = fs.find(f"{path}/predictions")
    assert keys and all(k.endswith(".parquet") for k in keys)
    assert {k.split("/")[-3] for k in keys} == {"deployment=fraud", "deployment=churn"}
    tables = []
    for key in keys:
        with fs.open(key, "rb") as handle:
            tables.append(pq.read_table(handle))
    table = pa.concat_tables(tables).sort_by([("request_id", "ascending"), ("row", "ascending")])
    assert table.num_rows == 300
    x = np.column_stack([table[f"in_{n}"].to_numpy() for n in FEATURES])
    np.testing.assert_array_equal(
        x, np.vstack([np.random.default_rng(i).random((60, 3)) for i in range(5)]))
    np.testing.assert_array_equal(table["out"].to_numpy(), x.sum(axis=1))

    # DuckDB reads the same objects through fsspec: no extension to download.
    count = open_log(s3_url, storage_options=s3_storage_options).aggregate("count(*)")
    assert count.fetchall() == [(300,)]


CHILD = textwrap.dedent("""
    import signal, sys
    import numpy as np
    from steadyml.store.predictions import PredictionLog

    root, ready, batches, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    # Nothing is due before shutdown: only close() on SIGTERM can write these rows.
    log = PredictionLog(root, segment_rows=10**9, flush_interval_s=3600)
    log.start()

    def on_sigterm(signum, frame):
        log.close()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    for i in range(batches):
        assert log.append_batch(
            request_id=f"r{i}", deployment="fraud", revision=1, model="m", model_version=1,
            arm="stable", ts_ms=1_718_000_000_000, latency_ms=1.0,
            inputs=np.full((rows, 2), float(i)), outputs=np.zeros(rows),
            feature_names=["a", "b"])
    open(ready, "w").close()
    while True:
        signal.pause()
""")


def test_sigterm_flushes_every_accepted_row(tmp_path: Path) -> None:
    batches, rows = 300, 7
    ready = tmp_path / "ready"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path / "log"), str(ready), str(batches),
         str(rows)], stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        wait_until(lambda: ready.exists() or child.poll() is not None, timeout_s=120,
                   what="the child to append its batches")
        assert child.poll() is None, child.communicate()[1]
        assert not (tmp_path / "log" / "predictions").exists()
        child.send_signal(signal.SIGTERM)
        _, stderr = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, stderr
    table = _rows(open_log(tmp_path / "log"))
    assert table.num_rows == batches * rows
    assert len(set(zip(table["request_id"].to_pylist(), table["row"].to_pylist(),
                       strict=True))) == batches * rows


def test_append_rows_records_a_model_call_of_several_requests(tmp_path) -> None:
    import numpy as np
    import pyarrow.dataset as pads

    log = PredictionLog(str(tmp_path), flush_interval_s=0.1)
    log.start()
    inputs = np.arange(12, dtype=float).reshape(6, 2)
    assert log.append_rows(request_ids=["a", "b", "c"], rows_per_request=[1, 3, 2],
                           latency_ms=[1.5, 2.5, 3.5], deployment="d", revision=2, model="m",
                           model_version=4, arm="candidate", ts_ms=1_700_000_000_000,
                           inputs=inputs, outputs=np.arange(6), feature_names=["x", "y"])
    log.close()
    table = pads.dataset(str(tmp_path / "predictions"), format="parquet",
                         partitioning="hive").to_table().sort_by([("in_x", "ascending")])
    assert table.column("request_id").to_pylist() == ["a", "b", "b", "b", "c", "c"]
    assert table.column("row").to_pylist() == [0, 0, 1, 2, 0, 1]
    assert table.column("latency_ms").to_pylist() == [1.5, 2.5, 2.5, 2.5, 3.5, 3.5]
    assert table.column("in_y").to_pylist() == [1.0, 3.0, 5.0, 7.0, 9.0, 11.0]
    assert table.column("arm").to_pylist() == ["candidate"] * 6
    with pytest.raises(InvalidInputError, match="one id, count and latency per request"):
        PredictionLog(str(tmp_path)).append_rows(
            request_ids=["a"], rows_per_request=[2], latency_ms=[1.0], deployment="d",
            revision=1, model="m", model_version=1, arm="stable", ts_ms=0,
            inputs=np.zeros((3, 1)), outputs=np.zeros(3), feature_names=["x"])
