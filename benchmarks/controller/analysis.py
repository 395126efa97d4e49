"""From one episode's client record, prediction log and audit entry to its timeline.

t0 is the send time of the first request the candidate handled (its first log row in the
canary revision, matched to the client's record by request id). Then, for the controller path:

  samples   t0 -> the min_samples-th candidate request is sent   (min_samples / (rate x share))
  flush     -> the last log segment holding those requests is on disk (file mtime)
  evaluate  -> the controller's pass that judged (the `until_ms` of its evidence)
  decide    -> the rollback revision is committed (its created_ms)
  observe   -> the 20 Hz poll of the admin API shows it           (t1: the figure reported)

and `served` (the server serves the rollback revision). A breaker rollback (reason
`circuit-open`) is committed by the serving process itself, so it has no flush or evaluate part.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from load import Episode

from _common import percentile

LOG_WAIT_S = 20.0


def wait_for_log(logs: Path, deployment: str, request_id: str) -> None:
    """Wait until the prediction log holds `request_id` (the episode's last request)."""
    deadline = time.monotonic() + LOG_WAIT_S
    while time.monotonic() < deadline:
        if any(r["request_id"] == request_id for r in _rows(logs, deployment)):
            return
        time.sleep(0.25)
    raise TimeoutError(f"the prediction log of {deployment} never showed {request_id} "
                       f"within {LOG_WAIT_S:g} s")


def _rows(logs: Path, deployment: str) -> list[dict[str, Any]]:
    import duckdb

    folder = logs / "predictions" / f"deployment={deployment}"
    if not any(folder.glob("*/*.parquet")):
        return []
    pattern = str(folder / "*" / "*.parquet").replace("'", "''")
    con = duckdb.connect()
    try:
        cursor = con.execute(
            "SELECT request_id, arm, status, revision, epoch_ms(ts) AS ts_ms, filename "
            f"FROM read_parquet('{pattern}', union_by_name = true, filename = true) "
            "WHERE \"row\" = 0 ORDER BY ts_ms")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()


def timeline(episode: Episode, logs: Path, *, min_samples: int,
             evidence: dict[str, Any] | None, rollback_created_ms: int | None
             ) -> dict[str, Any]:
    """Return the episode's figures: t1 - t0 and its parts, counts and failures."""
    rows = _rows(logs, episode.deployment)
    by_id = {r.request_id: r for r in episode.requests}
    canary = [r for r in rows if r["revision"] == episode.canary_revision]
    cand = [r for r in canary if r["arm"] == "candidate"]
    out: dict[str, Any] = {
        "deployment": episode.deployment, "canary_revision": episode.canary_revision,
        "rollback_revision": episode.rollback_revision, "reason": episode.rollback_reason,
        "rolled_back": episode.rollback_seen is not None,
    }
    out.update(_client_figures(episode))
    out["candidate_requests"] = len({r["request_id"] for r in cand})
    out["candidate_failed"] = len({r["request_id"] for r in cand if r["status"] != "ok"})
    out["canary_requests"] = len({r["request_id"] for r in canary})
    if not cand:
        return out
    first = by_id[cand[0]["request_id"]]
    t0 = first.sent
    out["t0_answered_s"] = round(cand[0]["ts_ms"] / 1000 - t0, 3)  # t0 by answer, from t0
    out["canary_live_s"] = round(t0 - episode.canary_deployed, 3)  # deploy -> first candidate
    marks: dict[str, float | None] = {
        "t1_seen": episode.rollback_seen,
        "committed": rollback_created_ms / 1000 if rollback_created_ms else None,
        "served": episode.rollback_served,
        "last_candidate_sent": by_id[cand[-1]["request_id"]].sent,
    }
    distinct = list(dict.fromkeys(r["request_id"] for r in cand))
    if len(distinct) >= min_samples:
        needed = set(distinct[:min_samples])
        marks["samples"] = by_id[distinct[min_samples - 1]].sent
        files = {r["filename"] for r in cand if r["request_id"] in needed}
        marks["flushed"] = max(os.stat(f).st_mtime for f in files)
    if evidence and isinstance(evidence.get("window"), dict):
        marks["evaluated"] = evidence["window"]["until_ms"] / 1000
    out["from_t0_s"] = {k: None if v is None else round(v - t0, 3) for k, v in marks.items()}
    out["t1_minus_t0_s"] = out["from_t0_s"]["t1_seen"]
    out["polls"] = _poll_figures(episode, t0)
    out["parts_s"] = _parts(out["from_t0_s"], episode.rollback_reason)
    if evidence:
        judged = evidence.get("candidate")  # a breaker's evidence names it: no figures
        judged = judged if isinstance(judged, dict) else {}
        out["evidence"] = {"candidate_requests": judged.get("requests"),
                           "candidate_failed": judged.get("failed", judged.get("failures")),
                           "candidate_p99_ms": judged.get("p99_ms"),
                           "stable_p99_ms": (evidence.get("stable") or {}).get("p99_ms"),
                           "breaches": [b.get("message") for b in evidence.get("breaches", [])],
                           **({k: evidence[k] for k in ("requests", "failures", "error_rate")
                               if k in evidence})}
    return out


def _parts(marks: dict[str, float | None], reason: str) -> dict[str, float | None]:
    order = ["samples", "flushed", "evaluated", "committed", "t1_seen"] \
        if reason == "rollback" else ["committed", "t1_seen"]
    names = {"samples": "samples", "flushed": "flush", "evaluated": "evaluate",
             "committed": "decide" if reason == "rollback" else "breaker", "t1_seen": "observe"}
    parts, before = {}, 0.0
    for mark in order:
        value = marks.get(mark)
        parts[names[mark]] = None if value is None else round(value - before, 3)
        before = value if value is not None else before
    return parts


def _poll_figures(episode: Episode, t0: float) -> dict[str, Any]:
    """How fresh the admin API's answers were: round trips, and the poll that saw the rollback."""
    rtts = sorted(p.at - p.asked for p in episode.polls)
    seen = next((p for p in episode.polls if p.revision == episode.rollback_revision), None)
    before = [p for p in episode.polls if seen is not None and p.at < seen.at]
    return {"count": len(rtts),
            "rtt_p50_ms": round(_pct(rtts, 50) * 1000, 1) if rtts else None,
            "rtt_max_ms": round(rtts[-1] * 1000, 1) if rtts else None,
            "seen_asked_s": round(seen.asked - t0, 3) if seen else None,
            "previous_answered_s": round(before[-1].at - t0, 3) if before else None}


def _client_figures(episode: Episode) -> dict[str, Any]:
    during = [r for r in episode.requests if r.due >= episode.canary_deployed]
    failed = [r for r in during if r.status != 200]
    lags = sorted(r.sent - r.due for r in episode.requests if r.sent)
    span = episode.requests[-1].due - episode.requests[0].due if episode.requests else 0.0
    latencies = sorted(r.done - r.sent for r in episode.requests if r.status == 200)
    return {
        "requests": len(episode.requests),
        "offered_rate": round((len(episode.requests) - 1) / span, 1) if span else None,
        "episode_requests": len(during),
        "client_failed": len(failed),
        "client_failures": sorted({r.error or str(r.status) for r in failed})[:5],
        "send_lag_p99_ms": round(_pct(lags, 99) * 1000, 1) if lags else None,
        "latency_p50_ms": round(_pct(latencies, 50) * 1000, 1) if latencies else None,
        "latency_p99_ms": round(_pct(latencies, 99) * 1000, 1) if latencies else None,
    }


def _pct(values: list[float], q: float) -> float:
    return percentile(values, q)
