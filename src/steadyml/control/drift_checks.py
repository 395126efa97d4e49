"""Drift as the controller judges it: windows, references, persistence, the retrain trigger.

A drift window of the stable arm's successful rows is compared with the policy's reference:
the training dataset's profile, the same-length window `reference_offset` earlier (to tell a
weekly pattern from a real shift), or both, in which case only features drifted against both
count. Each window's result is stored; `persistence` consecutive drifted windows are needed
before the retrain command runs, and then only outside its cooldown and within its budget.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from steadyml.control.events import Event
from steadyml.control.windows import training_reference
from steadyml.core.fingerprints import canonical_json
from steadyml.core.settings import Settings
from steadyml.deployments import Revision
from steadyml.monitoring import DriftReport, DriftRule, FeatureRule, Reference, compute_drift
from steadyml.monitoring.policies import DriftReference, Policy, RetrainAction
from steadyml.store.tables import drift_windows

if TYPE_CHECKING:
    from steadyml.control.controller import Controller
    from steadyml.platform import Platform


def drift_rule(policy: Policy) -> DriftRule:
    """Return the decision rule a policy's drift section describes."""
    assert policy.drift is not None
    d = policy.drift
    return DriftRule(
        alpha=d.alpha, numeric_effect=d.numeric_effect, categorical_effect=d.categorical_effect,
        psi=d.psi, min_samples=policy.min_samples,
        features={name: FeatureRule(o.numeric_effect, o.categorical_effect, o.psi, o.ignore)
                  for name, o in d.features.items()})


def evaluate_drift(controller: Controller, revision: Revision, policy: Policy, *,
                   until_ms: int) -> tuple[list[DriftReport], list[str], int]:
    """Compare the window ending at `until_ms` with the policy's reference(s).

    Returns the reports, the features drifted against every reference, and the window's rows.
    """
    assert policy.drift is not None
    d = policy.drift
    window_ms = int((d.window_s or policy.window_s) * 1000)
    reader, name = controller.reader, revision.deployment
    current = reader.inputs(name, until_ms - window_ms, until_ms, arm="stable")
    rule = drift_rule(policy)
    references: list[Reference] = []
    if d.reference in (DriftReference.TRAINING, DriftReference.BOTH):
        training = training_reference(controller.platform, revision.stable.model,
                                      revision.stable.version)
        if training is not None:
            references.append(training)
    if d.reference in (DriftReference.WINDOW, DriftReference.BOTH):
        offset = int(d.reference_offset_s * 1000)
        earlier = reader.inputs(name, until_ms - offset - window_ms, until_ms - offset,
                                arm="stable")
        if earlier.num_rows:
            references.append(Reference.from_table(
                earlier, description=f"window {d.reference_offset_s / 3600:g} h earlier"))
    reports = [compute_drift(ref, current, rule=rule) for ref in references]
    judged = [r for r in reports if r.enough_samples]
    flagged = sorted(set.intersection(*(set(r.flagged) for r in judged))) if judged else []
    predictions = d.predictions
    if predictions is not None and not predictions.ignore and predictions.psi is not None:
        flagged = [f for f in flagged if f != "prediction"]
        for report in judged:
            try:
                feature = report.feature("prediction")
            except KeyError:
                continue
            if feature.psi is not None and feature.psi >= predictions.psi:
                flagged.append("prediction")
                break
    elif "prediction" in flagged:
        flagged.remove("prediction")
    return reports, flagged, current.num_rows


def judge_drift(controller: Controller, revision: Revision, policy: Policy,
                now: int) -> list[Event]:
    """Evaluate the drift window if one has passed since the last; alert and retrain on it."""
    assert policy.drift is not None
    platform = controller.platform
    name = revision.deployment
    window_ms = int((policy.drift.window_s or policy.window_s) * 1000)
    last = _last_window_end(platform, name)
    if last is not None and now - last < window_ms:
        return []
    reports, flagged, rows = evaluate_drift(controller, revision, policy, until_ms=now)
    enough = any(r.enough_samples for r in reports)
    _store_window(platform, name, now, window_ms, policy, reports, flagged, rows)
    if not enough:
        return []
    evidence = {"window": {"since_ms": now - window_ms, "until_ms": now, "rows": rows},
                "references": [r.reference for r in reports], "flagged": flagged,
                "rule": reports[0].rule.to_dict() if reports else None,
                "features": {f.name: f.to_dict(histogram=False) for r in reports
                             for f in r.features if f.name in flagged}}
    if not flagged:
        if platform.alerts.resolve(name, "drift") is not None:
            return [controller.recorder.event(name, "resolved", "no drift in the last window",
                                              evidence)]
        return []
    changed = [f for r in reports for f in r.features if f.kind in ("type_changed", "missing")]
    events = []
    for f in changed:
        events += controller._alert(revision, policy, f"schema:{f.name}",
                                    f"input {f.name!r}: {f.reason}", evidence,
                                    severity="critical")
    events += controller._alert(revision, policy, "drift",
                                f"drift in {_names(flagged)} ({rows} rows vs "
                                f"{' and '.join(r.reference for r in reports)})", evidence)
    events.append(controller.recorder.event(name, "drift", f"drifted: {_names(flagged)}",
                                            evidence))
    streak = _streak(platform, name, policy.drift.persistence)
    retrain = policy.actions.retrain
    if retrain is not None and streak >= policy.drift.persistence:
        events += _maybe_retrain(controller, name, policy, now, {**evidence, "streak": streak})
    return events


def _maybe_retrain(controller: Controller, name: str, policy: Policy, now: int,
                   evidence: dict[str, Any]) -> list[Event]:
    retrain = policy.actions.retrain
    assert retrain is not None
    recorder = controller.recorder
    last = recorder.last_retrain_ms(name)
    if last is not None and now - last < retrain.cooldown_s * 1000:
        return [recorder.event(name, "skipped", f"retrain held: cooldown until "
                               f"{(last + retrain.cooldown_s * 1000 - now) / 1000:.0f} s from "
                               "now", evidence)]
    cost = retrain.estimated_cost or 0.0
    if retrain.budget is not None:
        spent = recorder.retrain_spend(name, now - int(retrain.budget_period_s * 1000))
        if spent + cost > retrain.budget:
            return [recorder.event(name, "skipped", f"retrain held: budget {retrain.budget:g} "
                                   f"has {retrain.budget - spent:g} left, a retrain costs "
                                   f"{cost:g}", {**evidence, "spent": spent})]
    argv = retrain_argv(controller.platform.settings, retrain)
    recorder.start_retrain(name, argv, cost, evidence)
    return [recorder.event(name, "retrain", f"retrain started: {' '.join(argv)} "
                           f"(drift sustained over {evidence['streak']} windows, estimated "
                           f"cost {cost:g})", evidence)]


def retrain_argv(settings: Settings, retrain: RetrainAction) -> list[str]:
    """Return the program a retrain runs: the policy's command, or its pipeline run as a drift
    trigger on the controller's own stores."""
    if retrain.command is not None:
        return list(retrain.command)
    assert retrain.pipeline is not None
    argv = [sys.executable, "-m", "steadyml", "--home", str(settings.home)]
    if settings.db_url:
        argv += ["--db-url", settings.db_url]
    if settings.artifacts:
        argv += ["--artifacts", settings.artifacts]
    argv += ["pipeline", "run", retrain.pipeline, "--trigger", "drift"]
    if retrain.target:
        argv += ["--target", retrain.target]
    for key, value in retrain.params.items():
        argv += ["-p", f"{key}={value}"]
    return argv


def drift_history(platform: Platform, deployment: str, limit: int = 200) -> list[dict[str, Any]]:
    """Return the stored drift windows, oldest first (the report's drift-over-time)."""
    query = sa.select(drift_windows).where(drift_windows.c.deployment == deployment) \
        .order_by(drift_windows.c.end_ms.desc()).limit(limit)
    with platform.store.read() as conn:
        rows = list(conn.execute(query))
    return [{"end_ms": r.end_ms, "rows": r.rows, "reference": r.reference,
             "flagged": json.loads(r.flagged), "features": json.loads(r.summary)}
            for r in reversed(rows)]


def _names(features: list[str], shown: int = 5) -> str:
    more = len(features) - shown
    return ", ".join(features[:shown]) + (f" and {more} more" if more > 0 else "")


def _last_window_end(platform: Platform, deployment: str) -> int | None:
    with platform.store.read() as conn:
        return conn.execute(sa.select(sa.func.max(drift_windows.c.end_ms)).where(
            drift_windows.c.deployment == deployment)).scalar()


def _store_window(platform: Platform, deployment: str, end_ms: int, window_ms: int,
                  policy: Policy, reports: list[DriftReport], flagged: list[str],
                  rows: int) -> None:
    summary = {f.name: {"psi": f.psi, "drifted": f.name in flagged, "judged": f.judged}
               for r in reports[-1:] for f in r.features}
    assert policy.drift is not None
    with platform.store.write() as conn:
        conn.execute(sa.insert(drift_windows).values(
            deployment=deployment, end_ms=end_ms, window_s=window_ms / 1000,
            reference=policy.drift.reference.value, rows=rows,
            flagged=canonical_json(flagged if any(r.enough_samples for r in reports) else None),
            summary=canonical_json(summary)))


def _streak(platform: Platform, deployment: str, persistence: int) -> int:
    """Count the latest consecutive windows with drift (up to `persistence`)."""
    query = sa.select(drift_windows.c.flagged).where(
        drift_windows.c.deployment == deployment).order_by(
        drift_windows.c.end_ms.desc()).limit(persistence)
    with platform.store.read() as conn:
        rows = [json.loads(r[0]) for r in conn.execute(query)]
    streak = 0
    for flagged in rows:
        if not flagged:
            break
        streak += 1
    return streak
