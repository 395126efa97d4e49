"""Monitoring: drift, online metrics from delayed outcomes, policies, alerts."""

from steadyml.monitoring.alerts import Alert, Alerts, Policies, PolicyNotFoundError
from steadyml.monitoring.drift import (
    DriftReport,
    DriftRule,
    FeatureDrift,
    FeatureRule,
    compute_drift,
)
from steadyml.monitoring.online import (
    business_metric,
    classification_metrics,
    load_business_metric,
    regression_metrics,
)
from steadyml.monitoring.outcomes import IngestResult, Outcomes, read_outcomes_file
from steadyml.monitoring.policies import (
    EXAMPLE_POLICY,
    OnlineMetric,
    Policy,
    PolicyError,
    parse_duration,
    parse_policy,
    policy_from_dict,
)
from steadyml.monitoring.reference import CategoricalReference, NumericReference, Reference
from steadyml.monitoring.report import render_drift_report
from steadyml.monitoring.skew import FeatureSkew, SkewReport, compute_skew

__all__ = [
    "Alert",
    "Alerts",
    "CategoricalReference",
    "DriftReport",
    "DriftRule",
    "EXAMPLE_POLICY",
    "FeatureDrift",
    "FeatureRule",
    "FeatureSkew",
    "IngestResult",
    "NumericReference",
    "OnlineMetric",
    "Outcomes",
    "Policies",
    "Policy",
    "PolicyError",
    "PolicyNotFoundError",
    "Reference",
    "SkewReport",
    "business_metric",
    "classification_metrics",
    "compute_drift",
    "compute_skew",
    "load_business_metric",
    "parse_duration",
    "parse_policy",
    "policy_from_dict",
    "read_outcomes_file",
    "regression_metrics",
    "render_drift_report",
]
