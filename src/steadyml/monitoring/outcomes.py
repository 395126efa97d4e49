"""Delayed outcomes: ground truth attached to predictions by request id, minutes or weeks later.

Outcomes live in the metadata store (one row per request id; a later value replaces an earlier
one, as when a label is corrected). Joining them to the prediction log happens in DuckDB:
`joined` returns, for one deployment and window, each prediction with its outcome, and counts
the outcomes whose request id the log does not know, so they are reported, never dropped.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from steadyml.core.clock import Clock, SystemClock
from steadyml.core.errors import InvalidInputError
from steadyml.store.engine import MetadataStore, fetch_rows
from steadyml.store.tables import outcomes

MAX_BATCH = 100_000  # outcomes per API call
_CHUNK = 5_000


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    matched: int | None = None  # how many request ids the prediction log knows, when checked
    unknown: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "matched": self.matched, "unknown": self.unknown}


class Outcomes:
    """Store outcomes and read them back for the online metrics."""

    def __init__(self, store: MetadataStore, *, clock: Clock | None = None) -> None:
        self.store = store
        self.clock = clock or SystemClock()

    def ingest(self, records: Iterable[Mapping[str, Any]] | pa.Table, *,
               source: str = "api") -> IngestResult:
        """Store `{"request_id": ..., "value": ...}` records in one transaction.

        Every record is checked first; one bad record rejects the whole batch, naming it.
        """
        rows = _rows(records, self.clock.now_ms(), source)
        if not rows:
            return IngestResult(0)
        table = outcomes
        dialect = self.store.engine.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(table)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.request_id],
            set_={c: statement.excluded[c] for c in ("value_num", "value_text", "received_ms",
                                                     "source")})
        with self.store.write() as conn:
            for start in range(0, len(rows), _CHUNK):
                conn.execute(statement, rows[start:start + _CHUNK])
        return IngestResult(len(rows))

    def since(self, received_ms: int) -> pa.Table:
        """Return the outcomes received at or after `received_ms` (request_id, value_num,
        value_text, received_ms)."""
        query = sa.select(outcomes.c.request_id, outcomes.c.value_num, outcomes.c.value_text,
                          outcomes.c.received_ms).where(outcomes.c.received_ms >= received_ms)
        with self.store.read() as conn:
            fetched = fetch_rows(conn, query)
        columns = list(zip(*fetched, strict=True)) if fetched else [[], [], [], []]
        return pa.table({
            "request_id": pa.array(columns[0], pa.string()),
            "value_num": pa.array(columns[1], pa.float64()),
            "value_text": pa.array(columns[2], pa.string()),
            "received_ms": pa.array(columns[3], pa.int64())})

    def count(self) -> int:
        with self.store.read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(outcomes)).scalar())


def read_outcomes_file(path: str | os.PathLike[str]) -> pa.Table:
    """Read a CSV or Parquet file with `request_id` and `value` (or `outcome`) columns."""
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    text = os.fspath(path)
    if not os.path.exists(text):
        raise InvalidInputError(f"Outcomes file {text!r} does not exist.")
    try:
        table = pq.read_table(text) if text.endswith((".parquet", ".pq")) else \
            pcsv.read_csv(text, convert_options=pcsv.ConvertOptions(
                column_types={"request_id": pa.string()}))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"Cannot read outcomes from {text!r}: {exc}") from None
    if "value" not in table.column_names and "outcome" in table.column_names:
        table = table.rename_columns(["value" if c == "outcome" else c
                                      for c in table.column_names])
    missing = {"request_id", "value"} - set(table.column_names)
    if missing:
        raise InvalidInputError(f"Outcomes file {text!r} needs columns request_id and value "
                                f"(or outcome); it lacks {sorted(missing)} and has "
                                f"{table.column_names}.")
    return table.select(["request_id", "value"])


def _rows(records: Iterable[Mapping[str, Any]] | pa.Table, now_ms: int,
          source: str) -> list[dict[str, Any]]:
    if isinstance(records, pa.Table):
        records = records.to_pylist()
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InvalidInputError(f"Outcome {i} is not an object with request_id and value.")
        request_id = record.get("request_id")
        if not isinstance(request_id, str) or not request_id or len(request_id) > 128:
            raise InvalidInputError(
                f"Outcome {i}: request_id must be a non-empty string of at most 128 "
                f"characters, got {request_id!r}.")
        value = record.get("value")
        num, text = None, None
        if isinstance(value, bool):
            num = float(value)
        elif isinstance(value, int | float):
            try:
                num = float(value)
            except OverflowError:  # an int beyond float's range
                num = math.inf
            if not math.isfinite(num):
                raise InvalidInputError(f"Outcome {i} ({request_id}): value must be a finite "
                                        f"number, got {_show(value)}.")
        elif isinstance(value, str) and 0 < len(value) <= 256:
            text = value
        else:
            raise InvalidInputError(
                f"Outcome {i} ({request_id}): value must be a number, a boolean or a label "
                f"of at most 256 characters, got {value!r}.")
        rows.append({"request_id": request_id, "value_num": num, "value_text": text,
                     "received_ms": now_ms, "source": source})
    return rows


def _show(value: int | float) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}… ({len(text)} characters)"
