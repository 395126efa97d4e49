"""Monitoring: drift, skew, online metrics from delayed outcomes, policies, alerts.

Names are imported on first use (PEP 562): importing one submodule, or the package, does not
import the others (drift, the HTML report, the policy schema).
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "Alert": "alerts",
    "Alerts": "alerts",
    "CategoricalReference": "reference",
    "DriftReport": "drift",
    "DriftRule": "drift",
    "EXAMPLE_POLICY": "policies",
    "FeatureDrift": "drift",
    "FeatureRule": "drift",
    "FeatureSkew": "skew",
    "IngestResult": "outcomes",
    "NumericReference": "reference",
    "OnlineMetric": "policies",
    "Outcomes": "outcomes",
    "Policies": "alerts",
    "Policy": "policies",
    "PolicyError": "policies",
    "PolicyNotFoundError": "alerts",
    "Reference": "reference",
    "SkewReport": "skew",
    "business_metric": "online",
    "classification_metrics": "online",
    "compute_drift": "drift",
    "compute_skew": "skew",
    "load_business_metric": "online",
    "parse_duration": "policies",
    "parse_policy": "policies",
    "policy_from_dict": "policies",
    "read_outcomes_file": "outcomes",
    "regression_metrics": "online",
    "render_drift_report": "report",
}

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


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
