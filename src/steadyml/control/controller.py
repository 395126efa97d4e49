"""The controller: evaluate each deployment's policy on its schedule, act, and record why.

Per deployment with a policy, every `evaluate_every`:
- a canary candidate is judged against stable on the same rows (the current revision's):
  a breach of an SLO, or being worse than stable past the policy's margins, rolls it back at
  once; staying healthy for `min_samples` and `min_duration` moves it to the next step, and
  past the last step promotes it;
- the stable arm's SLOs over the policy window raise (deduplicated) alerts, resolved when clear;
- once per drift window, inputs (and predictions) are compared with the reference; sustained
  drift raises an alert and, within cooldown and budget, starts the retrain command.
Every action is a revision or an audit entry carrying its evidence; the timeline of what was
seen and done is in `controller_events`. An automatic action names the revision it judged, so
it never undoes a newer change made meanwhile.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from steadyml.control.drift_checks import judge_drift
from steadyml.control.events import Event, Recorder
from steadyml.control.windows import ArmStats, LogReader, online_metrics
from steadyml.core.errors import ConflictError, SteadyError
from steadyml.deployments import Mode, Revision
from steadyml.monitoring.policies import CanaryPolicy, Policy
from steadyml.platform import Platform

log = logging.getLogger("steadyml.controller")

LATENCY_FLOOR_MS = 1.0  # latency ratios below this absolute difference are noise


class Controller:
    """Enforce every stored policy; `start()` runs it in a thread, `run_once()` one pass."""

    def __init__(self, platform: Platform, *, log_root: str | None = None,
                 tick_s: float = 0.5) -> None:
        self.platform = platform
        self.reader = LogReader(log_root or platform.settings.resolved_logs)
        self.recorder = Recorder(platform)
        self.tick_s = tick_s
        self._due_ms: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- loop -------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="steadyml-controller",
                                            daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the store was unreachable: try again next tick
                log.exception("controller pass failed")
            self._stop.wait(self.tick_s)

    def run_once(self, *, force: bool = False) -> list[Event]:
        """Evaluate every deployment whose policy is due (all of them with `force`).

        A live canary is judged on every pass, not only when its policy is due: a bad one is
        rolled back as soon as the evidence is in, not up to `evaluate_every` later.
        """
        events: list[Event] = []
        now = self.platform.clock.now_ms()
        for deployment, policy in self.platform.policies.all().items():
            due = force or now >= self._due_ms.get(deployment, 0)
            try:
                if due:
                    self._due_ms[deployment] = now + int(policy.evaluate_every_s * 1000)
                    events += self.evaluate(deployment, policy)
                else:
                    events += self.evaluate(deployment, policy, canary_only=True)
            except SteadyError as exc:  # one broken deployment never stops the others
                log.error("%s: cannot evaluate its policy: %s", deployment, exc)
        return events

    def evaluate(self, deployment: str, policy: Policy, *,
                 canary_only: bool = False) -> list[Event]:
        """Judge one deployment now and act on what the policy allows."""
        revision = self.platform.deployments.current(deployment)
        now = self.platform.clock.now_ms()
        events: list[Event] = []
        if revision.candidate is not None and revision.mode is Mode.CANARY:
            events += self._judge_canary(revision, policy, now)
        if canary_only:
            return events
        events += self._judge_stable(revision, policy, now)
        if policy.drift is not None:
            events += judge_drift(self, revision, policy, now)
        return events

    # --- canary -----------------------------------------------------------------------------

    def _judge_canary(self, revision: Revision, policy: Policy, now: int) -> list[Event]:
        name = revision.deployment
        canary = policy.canary or CanaryPolicy()
        stats = self.reader.arm_stats(name, revision.created_ms, now + 1,
                                      revision=revision.revision)
        cand, stable = stats.get("candidate"), stats.get("stable")
        if cand is None:
            return []
        metrics: dict[str, Any] = {}
        if cand.requests < policy.min_samples:
            # Failures only add up: once those seen already breach at min_samples, the verdict
            # is certain and waiting for the rest only serves more errors.
            breaches = _certain_error_breaches(cand, stable, policy, canary)
            if not breaches:
                return []
        else:
            breaches = _slo_breaches(cand, policy, revision.config.price_per_core_hour)
            if stable is not None and stable.requests >= policy.min_samples:
                breaches += _relative_breaches(cand, stable, canary)
            metrics = self._canary_metrics(revision, policy, now)
            if metrics and canary.max_metric_drop is not None and policy.slo \
                    and policy.slo.metric:
                breaches += _metric_drop(metrics, policy, canary.max_metric_drop)
        evidence = {"revision": revision.revision, "weight": revision.weight,
                    "window": {"since_ms": revision.created_ms, "until_ms": now},
                    "candidate": cand.to_dict(),
                    "stable": stable.to_dict() if stable else None,
                    "online_metrics": metrics, "breaches": breaches}
        if breaches:
            what = "; ".join(b["message"] for b in breaches)
            if not policy.actions.rollback:
                return self._alert(revision, policy, "canary", f"candidate "
                                   f"{revision.candidate.ref} breaches: {what}", evidence)
            try:
                after = self.platform.deployments.rollback(
                    name, if_revision=revision.revision, evidence=evidence,
                    note=f"controller: candidate {revision.candidate.ref} {what}")
            except ConflictError:
                return []
            return [self.recorder.event(
                name, "rollback", f"rolled back candidate {revision.candidate.ref} at "
                f"{revision.weight:g}% ({what}); revision {after.revision}", evidence)]
        waited_s = (now - revision.created_ms) / 1000
        if cand.requests < canary.min_samples or waited_s < canary.min_duration_s \
                or not policy.actions.promote:
            return []
        following = [s for s in canary.steps if s > revision.weight]
        try:
            if not following or following[0] >= 100:
                after = self.platform.deployments.promote(
                    name, if_revision=revision.revision, evidence=evidence,
                    note=f"controller: {revision.candidate.ref} healthy at every step")
                return [self.recorder.event(
                    name, "promote", f"promoted {revision.candidate.ref} to stable after "
                    f"{cand.requests} healthy requests at {revision.weight:g}%; revision "
                    f"{after.revision}", evidence)]
            after = self.platform.deployments.set_weight(
                name, following[0], if_revision=revision.revision, evidence=evidence,
                note=f"controller: healthy at {revision.weight:g}%")
        except ConflictError:
            return []
        return [self.recorder.event(
            name, "step", f"candidate {revision.candidate.ref} healthy at {revision.weight:g}% "
            f"({cand.requests} requests, error rate {cand.error_rate:.2%}, p99 "
            f"{_ms(cand.p99_ms)}): {following[0]:g}%; revision {after.revision}", evidence)]

    def _canary_metrics(self, revision: Revision, policy: Policy,
                        now: int) -> dict[str, dict[str, Any]]:
        metric = policy.slo.metric if policy.slo else None
        if metric is None:
            return {}
        outcomes = self.platform.outcomes.since(revision.created_ms)
        joined = self.reader.with_outcomes(revision.deployment, revision.created_ms, now + 1,
                                           outcomes, revision=revision.revision)
        return online_metrics(joined, metric.name, self._business(policy))

    # --- stable -----------------------------------------------------------------------------

    def _judge_stable(self, revision: Revision, policy: Policy, now: int) -> list[Event]:
        if policy.slo is None:
            return []
        since = now - int(policy.window_s * 1000)
        stats = self.reader.arm_stats(revision.deployment, since, now + 1).get("stable")
        if stats is None or stats.requests < policy.min_samples:
            return []
        breaches = {b["slo"]: b for b in _slo_breaches(stats, policy,
                                                       revision.config.price_per_core_hour)}
        metric = policy.slo.metric
        if metric is not None:
            joined = self.reader.with_outcomes(revision.deployment, since, now + 1,
                                               self.platform.outcomes.since(since))
            values = online_metrics(joined, metric.name, self._business(policy)).get("stable")
            breach = _metric_breach(values, policy) if values else None
            if breach:
                breaches["metric"] = breach
        events: list[Event] = []
        evidence_base = {"window": {"since_ms": since, "until_ms": now},
                         "stable": stats.to_dict()}
        for key in ("error_rate", "latency_p99_ms", "cost_per_1k", "metric"):
            if key in breaches:
                events += self._alert(revision, policy, f"slo:{key}",
                                      f"stable {revision.stable.ref}: {breaches[key]['message']}",
                                      {**evidence_base, "breach": breaches[key]})
            elif self.platform.alerts.resolve(revision.deployment, f"slo:{key}") is not None:
                events.append(self.recorder.event(revision.deployment, "resolved",
                                                  f"slo:{key} is back within its objective",
                                                  evidence_base))
        return events

    # --- shared -----------------------------------------------------------------------------

    def _alert(self, revision: Revision, policy: Policy, key: str, message: str,
               evidence: dict[str, Any], severity: str = "warning") -> list[Event]:
        action = policy.actions.alert
        if not action.enabled:
            return []
        alert, notify = self.platform.alerts.raise_alert(
            revision.deployment, key, message, evidence=evidence, severity=severity,
            repeat_after_s=action.repeat_after_s)
        if not notify:
            return []
        self.recorder.notify(action.webhook, {
            "deployment": revision.deployment, "alert": alert.id, "key": key,
            "severity": severity, "message": message, "count": alert.count,
            "evidence": evidence})
        return [self.recorder.event(revision.deployment, "alert", message,
                                    {"alert": alert.id, "key": key, **evidence},
                                    audit_action="controller.alert")]

    def _business(self, policy: Policy) -> Any:
        if policy.business_metric is None:
            return None
        from steadyml.monitoring import load_business_metric

        return load_business_metric(policy.business_metric)


def _slo_breaches(stats: ArmStats, policy: Policy, price: float) -> list[dict[str, Any]]:
    slo, out = policy.slo, []
    if slo is None:
        return out
    if slo.error_rate is not None and stats.error_rate > slo.error_rate:
        out.append({"slo": "error_rate", "value": stats.error_rate, "limit": slo.error_rate,
                    "samples": stats.requests,
                    "message": f"error rate {stats.error_rate:.2%} > {slo.error_rate:.2%}"})
    if slo.latency_p99_ms is not None and stats.p99_ms is not None \
            and stats.p99_ms > slo.latency_p99_ms:
        out.append({"slo": "latency_p99_ms", "value": stats.p99_ms,
                    "limit": slo.latency_p99_ms, "samples": stats.requests,
                    "message": f"p99 {_ms(stats.p99_ms)} > {slo.latency_p99_ms:g} ms"})
    cost = stats.cost_per_1k(price)
    if slo.cost_per_1k is not None and cost is not None and cost > slo.cost_per_1k:
        out.append({"slo": "cost_per_1k", "value": cost, "limit": slo.cost_per_1k,
                    "samples": stats.requests,
                    "message": f"cost per 1k {cost:.6f} > {slo.cost_per_1k:g}"})
    return out


def _certain_error_breaches(cand: ArmStats, stable: ArmStats | None, policy: Policy,
                            canary: CanaryPolicy) -> list[dict[str, Any]]:
    """Breaches of the error-rate limits that no further successful request can undo.

    With f failures in fewer than `min_samples` requests, the error rate at `min_samples` is
    at least f / min_samples (compared with stable's error rate so far, for the increase).
    """
    floor = cand.failed / policy.min_samples
    out = []
    limit = policy.slo.error_rate if policy.slo else None
    if limit is not None and floor > limit:
        out.append({"slo": "error_rate", "value": floor, "limit": limit,
                    "samples": cand.requests, "certain_at": cand.requests,
                    "message": f"{cand.failed} failures in {cand.requests} requests: error "
                               f"rate at least {floor:.2%} > {limit:.2%} once "
                               f"{policy.min_samples} are in"})
    increase = canary.max_error_rate_increase
    if not out and increase is not None and stable is not None \
            and stable.requests >= policy.min_samples \
            and floor - stable.error_rate > increase:
        out.append({"slo": "error_rate_increase", "value": floor - stable.error_rate,
                    "limit": increase, "samples": cand.requests, "certain_at": cand.requests,
                    "message": f"{cand.failed} failures in {cand.requests} requests: error "
                               f"rate at least {floor:.2%} vs stable {stable.error_rate:.2%}"})
    return out


def _relative_breaches(cand: ArmStats, stable: ArmStats,
                       canary: CanaryPolicy) -> list[dict[str, Any]]:
    out = []
    worse = cand.error_rate - stable.error_rate
    if canary.max_error_rate_increase is not None and worse > canary.max_error_rate_increase:
        out.append({"slo": "error_rate_increase", "value": worse,
                    "limit": canary.max_error_rate_increase,
                    "message": f"error rate {cand.error_rate:.2%} vs stable "
                               f"{stable.error_rate:.2%}"})
    if canary.max_latency_ratio is not None and cand.p99_ms and stable.p99_ms \
            and cand.p99_ms - stable.p99_ms > LATENCY_FLOOR_MS \
            and cand.p99_ms / stable.p99_ms > canary.max_latency_ratio:
        out.append({"slo": "latency_ratio", "value": cand.p99_ms / stable.p99_ms,
                    "limit": canary.max_latency_ratio,
                    "message": f"p99 {_ms(cand.p99_ms)} vs stable {_ms(stable.p99_ms)}"})
    return out


def _metric_breach(values: dict[str, Any], policy: Policy) -> dict[str, Any] | None:
    metric = policy.slo.metric if policy.slo else None
    if metric is None or (values.get("n") or 0) < metric.min_outcomes:
        return None
    value = values.get(metric.name.value)
    if value is None:
        return None
    if metric.min is not None and value < metric.min:
        return {"slo": "metric", "metric": metric.name.value, "value": value,
                "limit": metric.min, "samples": values["n"],
                "message": f"{metric.name.value} {value:.4f} < {metric.min:g} "
                           f"({values['n']} outcomes)"}
    if metric.max is not None and value > metric.max:
        return {"slo": "metric", "metric": metric.name.value, "value": value,
                "limit": metric.max, "samples": values["n"],
                "message": f"{metric.name.value} {value:.4f} > {metric.max:g} "
                           f"({values['n']} outcomes)"}
    return None


def _metric_drop(metrics: dict[str, dict[str, Any]], policy: Policy,
                 limit: float) -> list[dict[str, Any]]:
    metric = policy.slo.metric if policy.slo else None
    cand, stable = metrics.get("candidate"), metrics.get("stable")
    if metric is None or cand is None or stable is None:
        return []
    if min(cand.get("n") or 0, stable.get("n") or 0) < metric.min_outcomes:
        return []
    a, b = cand.get(metric.name.value), stable.get(metric.name.value)
    if a is None or b is None:
        return []
    drop = (b - a) if metric.name.higher_is_better is not False else (a - b)
    if drop <= limit:
        return []
    return [{"slo": "metric_drop", "metric": metric.name.value, "value": drop, "limit": limit,
             "message": f"{metric.name.value} {a:.4f} vs stable {b:.4f}"}]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"

