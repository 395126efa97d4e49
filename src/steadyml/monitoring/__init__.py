"""Monitoring: drift statistics, training–serving skew, online metrics from delayed outcomes."""

from steadyml.monitoring.drift import (
    DriftReport,
    DriftRule,
    FeatureDrift,
    FeatureRule,
    compute_drift,
)
from steadyml.monitoring.reference import CategoricalReference, NumericReference, Reference

__all__ = [
    "CategoricalReference",
    "DriftReport",
    "DriftRule",
    "FeatureDrift",
    "FeatureRule",
    "NumericReference",
    "Reference",
    "compute_drift",
]
