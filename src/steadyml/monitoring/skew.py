"""Training–serving skew: the values served for a key against the offline values for that key.

Drift compares two distributions; skew compares the same rows. When the offline data holds the
rows that were served (keyed by an entity id and timestamp, or by the request id the client
sent), every served feature value should equal the offline one. A feature computed one way in
the training pipeline and another way in serving (a unit change, a stale lookup, a default
filled in for a missing value) shows up here as a mismatch rate, long before it shows up as a
drifted distribution.

One DuckDB pass joins the served rows with the offline rows on the keys and aggregates every
feature at once. Two numeric values match when `|served - offline| <= atol + rtol * |offline|`
(as `numpy.isclose`); text values match when equal; a value missing on one side only is a
mismatch. Offline keys that occur more than once are ambiguous: they are counted and left out.
A feature is skewed when its mismatch rate is above `max_mismatch_rate`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from steadyml.core.errors import InvalidInputError
from steadyml.monitoring.columns import Kind, arrow_kind

EXAMPLES = 5


@dataclass
class FeatureSkew:
    """One feature's comparison over the matched rows."""

    name: str
    kind: str  # numeric | categorical | type_changed
    matched: int
    mismatches: int
    one_side_missing: int  # mismatches where exactly one side has no value
    mean_abs_diff: float | None = None  # numeric: over rows where both have a value
    max_abs_diff: float | None = None
    mean_abs_diff_norm: float | None = None  # over the offline std of the matched rows
    skewed: bool = False
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def mismatch_rate(self) -> float | None:
        return self.mismatches / self.matched if self.matched else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "mismatch_rate": self.mismatch_rate}


@dataclass
class SkewReport:
    """Served rows joined with offline rows on `keys`, and each feature's mismatches."""

    keys: list[str]
    served_rows: int
    offline_rows: int
    matched_rows: int
    unmatched_served: int  # served keys the offline data does not hold
    ambiguous_keys: int  # offline keys held more than once (left out)
    features: list[FeatureSkew]
    atol: float
    rtol: float
    max_mismatch_rate: float

    @property
    def flagged(self) -> list[str]:
        return sorted(f.name for f in self.features if f.skewed)

    def feature(self, name: str) -> FeatureSkew:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"keys": self.keys, "served_rows": self.served_rows,
                "offline_rows": self.offline_rows, "matched_rows": self.matched_rows,
                "unmatched_served": self.unmatched_served, "ambiguous_keys": self.ambiguous_keys,
                "rule": {"atol": self.atol, "rtol": self.rtol,
                         "max_mismatch_rate": self.max_mismatch_rate},
                "flagged": self.flagged, "features": [f.to_dict() for f in self.features]}


def compute_skew(served: pa.Table, offline: pa.Table, *, keys: Sequence[str],
                 features: Sequence[str] | None = None, atol: float = 1e-6,
                 rtol: float = 1e-6, max_mismatch_rate: float = 0.01,
                 examples: int = EXAMPLES) -> SkewReport:
    """Compare `served` with `offline` row by row on `keys`; every common column by default.

    Raises `InvalidInputError` for a key or feature missing on either side, or a bad tolerance.
    """
    import duckdb

    keys = list(keys)
    _check_columns(served, offline, keys, features)
    if not (atol >= 0 and rtol >= 0 and 0 <= max_mismatch_rate <= 1):
        raise InvalidInputError(f"Skew tolerances must be non-negative and max_mismatch_rate "
                                f"between 0 and 1, got atol={atol}, rtol={rtol}, "
                                f"max_mismatch_rate={max_mismatch_rate}.")
    names = list(features) if features is not None else [
        c for c in served.column_names if c in offline.column_names and c not in keys]
    kinds = {n: _kind(served, offline, n) for n in names}
    con = duckdb.connect()
    try:
        con.register("served_t", served)
        con.register("offline_t", offline)
        on = " AND ".join(f"s.{_q(k)} = o.{_q(k)}" for k in keys)
        key_list = ", ".join(_q(k) for k in keys)
        con.execute(f"""CREATE TEMP VIEW offline_u AS SELECT * EXCLUDE (_steady_n) FROM (
            SELECT *, count(*) OVER (PARTITION BY {key_list}) AS _steady_n FROM offline_t)
            WHERE _steady_n = 1""")
        ambiguous = con.execute(f"""SELECT count(*) FROM (SELECT {key_list} FROM offline_t
            GROUP BY {key_list} HAVING count(*) > 1)""").fetchone()[0]
        aggregates = ["count(*)"]
        for name in names:
            aggregates += _aggregates(name, kinds[name], atol, rtol)
        totals = con.execute(f"SELECT {', '.join(aggregates)} FROM served_t s "
                             f"JOIN offline_u o ON {on}").fetchone()
        matched = int(totals[0])
        out, at = [], 1
        for name in names:
            width = 5 if kinds[name] is Kind.NUMERIC else 2
            out.append(_feature(name, kinds[name], matched, totals[at:at + width]))
            at += width
        for f in out:  # a feature whose type differs is skewed whatever its values say
            f.skewed = f.kind == "type_changed" or bool(
                f.matched and f.mismatches / f.matched > max_mismatch_rate)
            if f.mismatches and examples:
                f.examples = _examples(con, f.name, kinds[f.name], keys, on, atol, rtol,
                                       examples)
    finally:
        con.close()
    return SkewReport(keys, served.num_rows, offline.num_rows, matched,
                      served.num_rows - matched, int(ambiguous), out, atol, rtol,
                      max_mismatch_rate)


def _check_columns(served: pa.Table, offline: pa.Table, keys: list[str],
                   features: Sequence[str] | None) -> None:
    if not keys:
        raise InvalidInputError("Skew needs at least one key column to match served rows "
                                "with offline rows (e.g. request_id, or entity id and time).")
    for side, table in (("served", served), ("offline", offline)):
        absent = [c for c in [*keys, *(features or [])] if c not in table.column_names]
        if absent:
            raise InvalidInputError(
                f"The {side} data has no column(s) {', '.join(map(repr, absent))}; it has "
                f"{', '.join(table.column_names) or 'none'}.")


def _kind(served: pa.Table, offline: pa.Table, name: str) -> Kind | None:
    """The comparison a feature gets; None when one side is numeric and the other text."""
    a = arrow_kind(served.schema.field(name).type)
    b = arrow_kind(offline.schema.field(name).type)
    return a if a is b else None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sides(name: str, kind: Kind | None) -> tuple[str, str, str, str]:
    """SQL for the served and offline values, and for each being missing (NULL, or NaN)."""
    s, o = f"s.{_q(name)}", f"o.{_q(name)}"
    if kind is not Kind.NUMERIC:
        return s, o, f"({s} IS NULL)", f"({o} IS NULL)"
    s, o = f"CAST({s} AS DOUBLE)", f"CAST({o} AS DOUBLE)"
    return s, o, f"coalesce(isnan({s}), true)", f"coalesce(isnan({o}), true)"


def _mismatch(name: str, kind: Kind | None, atol: float, rtol: float) -> str:
    s, o, s_missing, o_missing = _sides(name, kind)
    if kind is Kind.NUMERIC:
        close = f"abs({s} - {o}) <= {atol!r} + {rtol!r} * abs({o})"
        return (f"CASE WHEN {s_missing} OR {o_missing} THEN {s_missing} <> {o_missing} "
                f"ELSE NOT ({close}) END")
    return f"CAST({s} AS VARCHAR) IS DISTINCT FROM CAST({o} AS VARCHAR)"


def _aggregates(name: str, kind: Kind | None, atol: float, rtol: float) -> list[str]:
    s, o, s_missing, o_missing = _sides(name, kind)
    out = [f"count(*) FILTER (WHERE {_mismatch(name, kind, atol, rtol)})",
           f"count(*) FILTER (WHERE {s_missing} <> {o_missing})"]
    if kind is Kind.NUMERIC:
        both = f"NOT {s_missing} AND NOT {o_missing}"
        out += [f"avg(abs({s} - {o})) FILTER (WHERE {both})",
                f"max(abs({s} - {o})) FILTER (WHERE {both})",
                f"stddev_samp({o}) FILTER (WHERE NOT {o_missing})"]
    return out


def _feature(name: str, kind: Kind | None, matched: int, values: Sequence[Any]) -> FeatureSkew:
    out = FeatureSkew(name, kind.value if kind is not None else "type_changed", matched,
                      int(values[0]), int(values[1]))
    if kind is Kind.NUMERIC:
        mean, most, std = values[2], values[3], values[4]
        out.mean_abs_diff = None if mean is None else float(mean)
        out.max_abs_diff = None if most is None else float(most)
        if mean is not None and std:
            out.mean_abs_diff_norm = float(mean) / float(std)
    return out


def _examples(con: Any, name: str, kind: Kind | None, keys: list[str], on: str, atol: float,
              rtol: float, limit: int) -> list[dict[str, Any]]:
    select = ", ".join([f"s.{_q(k)}" for k in keys] +
                       [f"s.{_q(name)} AS served", f"o.{_q(name)} AS offline"])
    rows = con.execute(f"SELECT {select} FROM served_t s JOIN offline_u o ON {on} "
                       f"WHERE {_mismatch(name, kind, atol, rtol)} LIMIT {int(limit)}"
                       ).fetchall()
    return [{"key": dict(zip(keys, map(_plain, row[:len(keys)]), strict=True)),
             "served": _plain(row[-2]), "offline": _plain(row[-1])} for row in rows]


def _plain(value: Any) -> Any:
    """A JSON-able value: NaN as None, timestamps as ISO text."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
