"""The Markdown page of a controller benchmark result (results/controller.md)."""

from __future__ import annotations

from typing import Any


def _s(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}"


def _policy(sc: dict[str, Any], st: dict[str, Any]) -> str:
    p = sc.get("policy") or {"min_samples": st["min_samples"],
                             "evaluate_every": st["evaluate_every"],
                             "canary_percent": st["canary_percent"]}
    return f"{p['min_samples']}, {p['evaluate_every']}, {p['canary_percent']:g} %"


def _need(sc: dict[str, Any], st: dict[str, Any]) -> str:
    """Seconds of traffic the candidate needs to reach min_samples at its share."""
    p = sc.get("policy") or {"min_samples": st["min_samples"],
                             "canary_percent": st["canary_percent"]}
    if sc["summary"]["reasons"] == ["circuit-open"]:  # the breaker opens at 20 requests
        return f"{20 / (st['rate'] * p['canary_percent'] / 100):.2f} s (breaker: 20)"
    return f"{p['min_samples'] / (st['rate'] * p['canary_percent'] / 100):.2f} s"


def _under(sc: dict[str, Any], goal_s: float) -> int:
    return sum(1 for e in sc["episodes"]
               if e.get("t1_minus_t0_s") is not None and e["t1_minus_t0_s"] < goal_s)


def render(doc: dict[str, Any]) -> str:
    st, m = doc["settings"], doc["machine"]
    lines = [
        "# Controller: first bad canary prediction to completed rollback",
        "",
        f"Goal (issue 4): under {doc['goal_s']:g} s at {st['rate']:g} requests/s with the "
        "policy's minimum samples. Written by `benchmarks/bench_controller.py` "
        "(see `benchmarks/controller/README.md`).",
        "",
        f"Run {doc['started']} – {doc.get('finished', '?')}, commit "
        f"`{str(doc['git'].get('commit'))[:12]}` (src/ uncommitted edits: "
        f"{doc['git'].get('src_dirty')}); `{doc['command']}`.",
        f"Machine: {m.get('cpu')}, {m.get('cpus')} CPUs ({m.get('cpus_usable')} usable), "
        f"{m.get('memory_gib')} GiB, {m.get('os')}, kernel {m.get('kernel')}, Python "
        f"{m.get('python')}. " + (f"Held {doc['lock']} (waited {doc['lock_wait_s']} s)."
                                  if doc.get("lock") else "Did not hold /tmp/bench.lock."),
        "",
        *[f"Merged in later: {m['command'].split('--scenarios ')[-1].split()[0]} "
          f"({m['started']} – {m['finished']}, commit `{str(m['git'].get('commit'))[:12]}`)."
          for m in doc.get("merged", [])],
        "",
        "**t0** = when the first request the candidate handled was *sent* (client clock; "
        "matched by request id to the candidate's first row in the prediction log). "
        "**t1** = when the 20 Hz poll of `GET /api/v1/deployments/{name}` first shows a "
        "later revision without the candidate. Every episode is a fresh deployment.",
        "",
        "Before each episode the script waits (up to 30 s) for the shared machine to be below "
        "0.5 busy cores; the episodes table shows the CPU the server, the load generator and "
        "everything else (other tenants) used during each.",
        "",
        "## Settings",
        "",
        f"- Load: {st['rate']:g} requests/s open loop (scheduled send times, one task each, on "
        "64 keep-alive HTTP/1.1 connections; `controller/load.py`), single-row V2 requests, "
        f"no routing key; {st['warmup_s']:g} s of stable-only "
        f"load, then `deploy --canary {st['canary_percent']:g}`; load kept on "
        f"{st['tail_s']:g} s after the rollback is served. {st['repeat']} episodes per "
        "scenario.",
        f"- Policy: `min_samples: {st['min_samples']}` (per arm, before anything is judged), "
        f"`evaluate_every: {st['evaluate_every']}`, canary first step "
        f"{st['canary_percent']:g} %, `max_error_rate_increase: 0.02`, "
        "`max_latency_ratio: 1.5`, `slo.error_rate: 0.02`, rollback allowed.",
        f"- Samples needed at the canary share: {st['min_samples']} / "
        f"({st['rate']:g} × {st['canary_percent']:g} %) = "
        f"{st['min_samples'] / (st['rate'] * st['canary_percent'] / 100):.2f} s of traffic.",
        f"- Product timings (not configurable from `steady server`): prediction log flush "
        f"every {st['flush_interval_s']:g} s, controller tick {st['controller_tick_s']:g} s, "
        f"server store poll {st['server_poll_s']:g} s; circuit breaker: {st['breaker']}.",
        "",
        "```yaml",
        st["policy"].rstrip(),
        "```",
        "",
        "## Results",
        "",
        "| scenario | min_samples, evaluate_every, canary | samples need | rolled back by | "
        "t1 − t0 median | min | max | rollback served (median) | episodes under the goal | "
        "client-visible failures | candidate failures (answered by stable) | "
        "candidate requests |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, sc in doc["scenarios"].items():
        s = sc["summary"]
        lines.append(
            f"| `{name}` | {_policy(sc, st)} | {_need(sc, st)} | "
            f"{', '.join(s['reasons']) or 'nothing'} | **{_s(s.get('median_s'))} s**"
            f" | {_s(s.get('min_s'))} | {_s(s.get('max_s'))} | {_s(s.get('served_median_s'))} | "
            f"{_under(sc, doc['goal_s'])}/{s['episodes']} | {s['client_failed_total']} of "
            f"{s['episode_requests_total']} | {s['candidate_failed_total']} | "
            f"{s['candidate_requests_total']} |")
    lines += ["", "Scenarios (policy as in Settings unless the table says otherwise):", ""]
    lines += [f"- `{name}`: {sc['what']} ({sc['candidate']}; {sc['server']})."
              for name, sc in doc["scenarios"].items()]
    lines += [
        "",
        "## Where the time goes (medians, seconds)",
        "",
        "Controller path (`rollback`): **samples** t0 → the min_samples-th candidate request "
        "sent; **flush** → the last log segment holding those requests is on disk; "
        "**evaluate** → the controller pass that judged (its evidence's `until_ms`); "
        "**decide** → the rollback revision committed; **observe** → the poll sees it. "
        "Breaker path (`circuit-open`): **breaker** t0 → the revision the serving process "
        "records when the breaker opens. Each part is a median on its own, so they need not "
        "add up to the total. `evaluate` is slightly negative when a pass took its clock "
        "just before the segment landed and its query ran just after; read evaluate + decide "
        "together then.",
        "",
        "| scenario | samples | flush | evaluate | decide | breaker | observe | total |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, sc in doc["scenarios"].items():
        p = sc["summary"].get("parts_median_s") or {}
        lines.append(f"| `{name}` | {_s(p.get('samples'))} | {_s(p.get('flush'))} | "
                     f"{_s(p.get('evaluate'))} | {_s(p.get('decide'))} | "
                     f"{_s(p.get('breaker'))} | {_s(p.get('observe'))} | "
                     f"{_s(sc['summary'].get('median_s'))} |")
    lines += ["", "## Episodes", "",
              "| scenario | # | reason | t1 − t0 | parts | candidate requests / failed | "
              "evidence: candidate requests, breaches | client failed | offered req/s | "
              "send lag p99 ms | latency p50 / p99 ms | CPU cores: server, client, others |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, sc in doc["scenarios"].items():
        for i, e in enumerate(sc["episodes"], 1):
            parts = ", ".join(f"{k} {_s(v)}" for k, v in (e.get("parts_s") or {}).items())
            ev, c = e.get("evidence") or {}, e.get("cores") or {}
            judged = ev.get("candidate_requests") or ev.get("requests") or "–"
            breaches = "; ".join(ev.get("breaches") or []) or (
                f"breaker: {ev.get('failures')} of {ev.get('requests')} failed"
                if "failures" in ev else "")
            lines.append(
                f"| `{name}` | {i} | {e['reason'] or '–'} | {_s(e.get('t1_minus_t0_s'))} | "
                f"{parts} | {e['candidate_requests']} / {e['candidate_failed']} | "
                f"{judged}, {breaches} | {e['client_failed']} | {e['offered_rate']} | "
                f"{e['send_lag_p99_ms']} | {e['latency_p50_ms']} / {e['latency_p99_ms']} | "
                f"{c.get('server')}, {c.get('client')}, {c.get('others')} |")
    lines.append("")
    return "\n".join(lines)
