"""A deployment whose policy requires gates refuses a model without them, unless forced."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from steadyml import Platform
from steadyml.monitoring import parse_policy
from steadyml.monitoring.policies import PolicyError
from steadyml.registry import GateRequiredError

X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
Y = [0, 1, 0, 1]


def gate(passed: bool, name: str = "model-quality") -> dict[str, object]:
    return {"gate": name, "passed": passed, "checks": [
        {"check": "metric_min", "subject": "roc_auc", "passed": passed,
         "actual": 0.9 if passed else 0.6, "expected": ">= 0.8"}]}


@pytest.fixture
def gated(platform: Platform) -> Platform:
    """fraud serves m:1; its policy requires data-quality and model-quality; m:2 is new."""
    platform.registry.register("m", LogisticRegression().fit(X, Y), input_example=X)
    platform.deployments.deploy("fraud", "m:1")
    platform.registry.register("m", LogisticRegression(C=0.5).fit(X, Y), input_example=X)
    text = "deployment: fraud\nrequired_gates: [data-quality, model-quality]\n"
    platform.policies.apply(parse_policy(text), source=text)
    return platform


def test_a_version_without_the_required_gates_is_refused(gated: Platform) -> None:
    with pytest.raises(GateRequiredError, match="Model m:2 has no passing gate 'data-quality'"):
        gated.deployments.deploy("fraud", "m:2", canary=10)
    gated.registry.record_gate("m:2", gate(True, "data-quality"))
    gated.registry.record_gate("m:2", gate(False))
    with pytest.raises(GateRequiredError, match=r"'model-quality': its latest result failed "
                                                r"\(roc_auc metric_min: expected >= 0.8, "
                                                r"actual 0.6\)"):
        gated.deployments.deploy("fraud", "m:2", canary=10)
    assert gated.deployments.current("fraud").candidate is None  # nothing changed

    gated.registry.record_gate("m:2", gate(True))
    revision = gated.deployments.deploy("fraud", "m:2", canary=10)
    assert revision.candidate is not None and revision.candidate.ref == "m:2"


def test_force_deploys_anyway_and_the_audit_says_so(gated: Platform) -> None:
    revision = gated.deployments.deploy("fraud", "m:2", canary=10, force=True)
    assert revision.candidate is not None and revision.candidate.ref == "m:2"
    entry = gated.audit_entries(subject="deployment:fraud", action="deployment.candidate")[0]
    assert "--force" in entry.evidence["forced"]


def test_no_policy_or_no_required_gates_admits_everything(platform: Platform) -> None:
    platform.registry.register("m", LogisticRegression().fit(X, Y), input_example=X)
    platform.deployments.deploy("fraud", "m:1")  # no policy at all
    text = "deployment: fraud\n"
    platform.policies.apply(parse_policy(text), source=text)
    platform.registry.register("m", LogisticRegression(C=0.5).fit(X, Y), input_example=X)
    assert platform.deployments.deploy("fraud", "m:2", shadow=True).candidate is not None


def test_a_bad_gate_name_in_the_policy_names_the_line() -> None:
    with pytest.raises(PolicyError, match=r"<policy>:2: required_gates\[0\]"):
        parse_policy("deployment: fraud\nrequired_gates: ['no spaces allowed']\n")
