"""Deployments: named endpoints, their arms and numbered revisions (state only, no HTTP)."""

from steadyml.deployments.revisions import (
    Arm,
    DeploymentConfig,
    DeploymentNotFoundError,
    Mode,
    Reason,
    Revision,
    RevisionNotFoundError,
)
from steadyml.deployments.rollouts import Deployments, ModelResolver

__all__ = [
    "Arm",
    "DeploymentConfig",
    "DeploymentNotFoundError",
    "Deployments",
    "Mode",
    "ModelResolver",
    "Reason",
    "Revision",
    "RevisionNotFoundError",
]
