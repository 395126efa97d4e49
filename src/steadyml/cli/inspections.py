"""Monitoring on demand: drift now, a drift report, online metrics, the controller's timeline.

One `Inspector` answers these for the CLI and, passed into the serving app, for the admin API,
so `steady drift fraud --json` and `GET /api/v1/deployments/fraud/drift` give the same document.
Drift is judged exactly as the controller judges it (`evaluate_drift`), with the deployment's
applied policy when it has one, else the default rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from steadyml.cli.output import seconds_text
from steadyml.control import Controller, drift_history, evaluate_drift, online_metrics
from steadyml.core.errors import DatasetNotFoundError, InvalidInputError
from steadyml.deployments import Revision
from steadyml.monitoring import (
    DriftReport,
    OnlineMetric,
    Policy,
    PolicyNotFoundError,
    compute_skew,
    load_business_metric,
    policy_from_dict,
)
from steadyml.monitoring.policies import DriftReference
from steadyml.platform import Platform
from steadyml.registry.lineage import iso
from steadyml.tracking import datasets as ds

DEFAULT_DRIFT_WINDOW_S = 3600.0  # when the deployment's policy has no drift section
DEFAULT_METRICS_WINDOW_S = 86400.0
MAX_WINDOW_S = 3650 * 86400.0


@dataclass(frozen=True)
class DriftCheck:
    """One on-demand drift evaluation and what it means."""

    deployment: str
    revision: Revision
    policy: Policy
    policy_source: str  # applied | default
    start_ms: int
    end_ms: int
    rows: int
    reports: list[DriftReport]  # none when the window is empty
    flagged: list[str]
    has_reference: bool

    @property
    def enough_samples(self) -> bool:
        return any(r.enough_samples for r in self.reports)

    @property
    def status(self) -> str:
        """no_reference | no_data | not_enough_samples | drift | no_drift"""
        if not self.has_reference:
            return "no_reference"
        if self.rows == 0:
            return "no_data"
        if not self.enough_samples:
            return "not_enough_samples"
        return "drift" if self.flagged else "no_drift"

    @property
    def message(self) -> str:
        window = seconds_text(self.window_s)
        reference = self.policy.drift.reference if self.policy.drift else DriftReference.TRAINING
        if self.status == "no_reference":
            missing = []
            if reference in (DriftReference.TRAINING, DriftReference.BOTH):
                missing.append(f"model {self.revision.stable.ref} has no training dataset (log "
                               "one with run.log_dataset in the run that registers it)")
            if reference in (DriftReference.WINDOW, DriftReference.BOTH):
                offset = self.policy.drift.reference_offset_s if self.policy.drift else 0.0
                missing.append(f"no predictions were logged in the {window} window "
                               f"{seconds_text(offset)} earlier")
            return ("Cannot judge drift: no reference to compare with; "
                    + " and ".join(missing) + f". The window holds {self.rows} rows.")
        if self.status == "no_data":
            return (f"No successful predictions of the stable arm in the last {window}: nothing "
                    "to judge yet.")
        if self.status == "not_enough_samples":
            return (f"Not enough samples to judge drift yet: {self.rows} rows in the last "
                    f"{window}, at least {self.policy.min_samples} needed per feature "
                    "(min_samples). Nothing is flagged.")
        if self.status == "drift":
            return (f"Drift in {', '.join(self.flagged)} ({self.rows} rows in the last "
                    f"{window}).")
        return f"No drift: {self.rows} rows in the last {window}, no feature flagged."

    @property
    def window_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000

    def to_dict(self, *, histograms: bool = False) -> dict[str, Any]:
        drift = self.policy.drift
        return {
            "deployment": self.deployment, "revision": self.revision.revision,
            "model": self.revision.stable.ref,
            "window": {"start": iso(self.start_ms), "end": iso(self.end_ms),
                       "start_ms": self.start_ms, "end_ms": self.end_ms,
                       "seconds": self.window_s, "rows": self.rows},
            "reference": drift.reference.value if drift else "training",
            "policy": self.policy_source, "min_samples": self.policy.min_samples,
            "status": self.status, "message": self.message,
            "enough_samples": self.enough_samples, "flagged": self.flagged,
            "reports": [r.to_dict(histograms=histograms) for r in self.reports],
        }


class Inspector:
    """Answer monitoring questions about deployments from the store and the prediction log."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.controller = Controller(platform)  # never started: its reader and recorder

    def drift(self, deployment: str, *, window_s: float | None = None,
              reference: DriftReference | str | None = None) -> DriftCheck:
        """Compare the stable arm's last window with the reference, as the controller would."""
        revision = self.platform.deployments.current(deployment)
        policy, source = self._drift_policy(deployment, window_s, reference)
        assert policy.drift is not None and policy.drift.window_s is not None
        end = self.platform.clock.now_ms()
        start = end - int(policy.drift.window_s * 1000)
        reports, flagged, rows = evaluate_drift(self.controller, revision, policy, until_ms=end)
        has_reference = bool(reports)
        if rows == 0:  # nothing to show for an empty window (compute_drift judges nothing there)
            reports, flagged = [], []
        return DriftCheck(deployment, revision, policy, source, start, end, rows, reports,
                          flagged, has_reference)

    def drift_document(self, deployment: str, *, window_s: float | None = None,
                       reference: DriftReference | str | None = None) -> dict[str, Any]:
        """Return a drift check as JSON-able data (the CLI's --json and the API's answer)."""
        return self.drift(deployment, window_s=window_s, reference=reference).to_dict()

    def report(self, deployment: str, *, window_s: float | None = None
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Return the report and history `render_drift_report` draws, for the last window."""
        check = self.drift(deployment, window_s=window_s)
        if check.status in ("no_reference", "no_data"):
            raise InvalidInputError(f"No drift report for {deployment!r}: {check.message}")
        last = check.reports[-1]
        data = last.to_dict(histograms=True)
        features = [f for f in data["features"] if f["name"] != "prediction"]
        predictions = next((f for f in data["features"] if f["name"] == "prediction"), None)
        if predictions is not None and predictions["drifted"] and \
                "prediction" not in check.flagged:
            predictions["drifted"] = False
            predictions["reason"] += ("; not flagged: the policy sets no drift.predictions.psi"
                                      if predictions["judged"] else "")
        rule = {k: v for k, v in data["rule"].items() if k != "features" or v}
        document = {
            "deployment": deployment,
            "window": {"start": iso(check.start_ms), "end": iso(check.end_ms),
                       "rows": check.rows},
            "reference": {"kind": "window" if last.reference.startswith("window") else
                          "training", "description": last.reference,
                          "rows": max((f.n_ref for f in last.features), default=None)},
            "rule": rule, "flagged": check.flagged, "features": features,
            "predictions": predictions, "status": check.status, "message": check.message,
        }
        history = [{"end": iso(w["end_ms"]), "rows": w["rows"], "flagged": w["flagged"],
                    "features": w["features"]}
                   for w in drift_history(self.platform, deployment)]
        return document, history

    def online(self, deployment: str, *, window_s: float | None = None,
               metric: OnlineMetric | str | None = None) -> dict[str, Any]:
        """Return online metrics per arm from the outcomes joined to the window's predictions."""
        self.platform.deployments.current(deployment)  # a clear error for an unknown name
        policy = self._policy(deployment)
        slo_metric = policy.slo.metric if policy and policy.slo else None
        if metric is None and slo_metric is not None:
            metric = slo_metric.name
        if metric is not None and metric not in set(OnlineMetric):
            raise InvalidInputError(f"Unknown online metric {metric!r}; choose one of "
                                    f"{', '.join(OnlineMetric)}.")
        chosen = None if metric is None else OnlineMetric(metric)
        business = None
        if chosen is OnlineMetric.BUSINESS:
            if policy is None or policy.business_metric is None:
                raise InvalidInputError(
                    f"The business metric of {deployment!r} is named by its policy's "
                    "business_metric ('module:function'); apply a policy that sets it.")
            business = load_business_metric(policy.business_metric)
        window_s = DEFAULT_METRICS_WINDOW_S if window_s is None else window_s
        _check_window(window_s, "metrics")
        end = self.platform.clock.now_ms()
        start = end - int(window_s * 1000)
        outcomes = self.platform.outcomes.since(start)
        reader = self.controller.reader
        joined = reader.with_outcomes(deployment, start, end + 1, outcomes)
        arms = online_metrics(joined, chosen, business)
        return {"deployment": deployment,
                "window": {"start": iso(start), "end": iso(end), "seconds": window_s},
                "metric": None if chosen is None else chosen.value,
                "outcomes": outcomes.num_rows, "matched": joined.num_rows,
                "unknown": reader.unmatched(outcomes) if outcomes.num_rows else 0,
                "arms": arms}

    def skew(self, deployment: str, *, keys: Sequence[str], offline: str | None = None,
             window_s: float | None = None, atol: float = 1e-6, rtol: float = 1e-6,
             max_mismatch_rate: float = 0.01) -> dict[str, Any]:
        """Compare the values served in the window with the offline values for the same keys.

        `offline` is a Parquet file, or `dataset:NAME` (its latest version) or `dataset:ID`;
        by default the training dataset of the model the stable arm serves.
        """
        revision = self.platform.deployments.current(deployment)
        window_s = DEFAULT_DRIFT_WINDOW_S if window_s is None else window_s
        _check_window(window_s, "skew")
        end = self.platform.clock.now_ms()
        start = end - int(window_s * 1000)
        table, source = self._offline(offline, revision)
        served = self.controller.reader.inputs(deployment, start, end + 1, with_keys=True)
        document: dict[str, Any] = {
            "deployment": deployment,
            "window": {"start": iso(start), "end": iso(end), "seconds": window_s,
                       "rows": served.num_rows},
            "offline": {"source": source, "rows": table.num_rows}}
        if served.num_rows == 0:
            return {**document, "status": "no_data", "report": None,
                    "message": f"No successful predictions in the last "
                               f"{seconds_text(window_s)}: nothing to compare."}
        keys = list(keys)
        features = [c for c in served.column_names if c in table.column_names
                    and c not in keys and c not in ("request_id", "row", "ts")]
        report = compute_skew(served, table, keys=keys, features=features, atol=atol,
                              rtol=rtol, max_mismatch_rate=max_mismatch_rate)
        if report.matched_rows == 0:
            status = "no_match"
            message = (f"None of the {served.num_rows} served rows has its key "
                       f"({', '.join(keys)}) in {source}.")
        elif report.flagged:
            status = "skew"
            message = (f"Training–serving skew in {', '.join(report.flagged)} "
                       f"({report.matched_rows} rows matched on {', '.join(keys)}).")
        else:
            status = "no_skew"
            message = (f"No skew: {report.matched_rows} rows matched on {', '.join(keys)}, "
                       f"{len(features)} feature(s) agree.")
        return {**document, "status": status, "message": message, "report": report.to_dict()}

    def _offline(self, offline: str | None, revision: Revision) -> tuple[pa.Table, str]:
        """Return the offline rows to compare with, and where they came from."""
        tracking = self.platform.tracking
        if offline is not None and not offline.startswith("dataset:"):
            table, _ = ds.to_table(offline)
            return table, offline
        with self.platform.store.read() as conn:
            if offline is None:
                mv = self.platform.registry.get(revision.stable.ref)
                training = [d for d in mv.datasets if d.get("context") == "training"] or \
                    mv.datasets
                if not training:
                    raise InvalidInputError(
                        f"Model {revision.stable.ref} has no training dataset to compare with; "
                        "pass --offline FILE.parquet or --offline dataset:NAME.")
                dataset = ds.get_dataset(conn, int(training[0]["id"]))
            else:
                ref = offline.removeprefix("dataset:")
                if ref.isdigit():
                    dataset = ds.get_dataset(conn, int(ref))
                else:
                    found = ds.find_datasets(conn, name=ref)
                    if not found:
                        raise DatasetNotFoundError(ref)
                    dataset = found[0]
        return (tracking.read_dataset(dataset),
                f"dataset {dataset.name} (id {dataset.id}, {dataset.fingerprint[:19]}…)")

    def timeline(self, deployment: str, *, limit: int = 500) -> list[dict[str, Any]]:
        """Return what the controller saw and did on `deployment`, oldest first."""
        self.platform.deployments.current(deployment)
        events = self.controller.recorder.timeline(deployment, limit=limit)
        return [{**e.to_dict(), "time": iso(e.ts_ms)} for e in events]

    def _policy(self, deployment: str) -> Policy | None:
        try:
            return self.platform.policies.get(deployment)
        except PolicyNotFoundError:
            return None

    def _drift_policy(self, deployment: str, window_s: float | None,
                      reference: DriftReference | str | None) -> tuple[Policy, str]:
        """Return the applied policy with a drift section (and the overrides), or the default."""
        if window_s is not None:
            _check_window(window_s, "drift")
        if reference is not None and reference not in set(DriftReference):
            raise InvalidInputError(f"The drift reference must be one of training, window or "
                                    f"both, got {reference!r}.")
        policy = self._policy(deployment)
        data = policy.to_dict() if policy is not None else {"deployment": deployment}
        drift = dict(data.get("drift") or {"window": DEFAULT_DRIFT_WINDOW_S})
        if window_s is not None:
            drift["window"] = window_s
        if reference is not None:
            drift["reference"] = DriftReference(reference).value
        # Evaluated once, now: a short --window must not trip the evaluate_every check.
        data["evaluate_every"] = min(float(data.get("evaluate_every") or 5.0),
                                     float(drift["window"]))
        data["drift"] = drift
        source = f"the policy of {deployment}" if policy else "the default drift rule"
        return (policy_from_dict(data, source=source),
                "applied" if policy is not None else "default")


def _check_window(window_s: float, what: str) -> None:
    if not 0 < window_s <= MAX_WINDOW_S:
        raise InvalidInputError(f"The {what} window must be longer than 0 s and at most "
                                f"3650d, got {window_s:g} s.")
