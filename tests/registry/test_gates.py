"""Gate results on model versions, on every store backend: recorded, audited, read, required."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from steadyml import Platform
from steadyml.core.errors import ConflictError, InvalidInputError, ModelNotFoundError
from steadyml.registry import GateRequiredError, check_gates

X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
Y = [0, 1, 0, 1]


def result(passed: bool, gate: str = "model-quality") -> dict[str, object]:
    return {"gate": gate, "passed": passed, "checks": [
        {"check": "metric_min", "subject": "roc_auc", "passed": passed,
         "actual": 0.91 if passed else 0.71, "expected": ">= 0.8"}]}


@pytest.fixture
def churn(platform: Platform) -> Platform:
    version = platform.registry.register("churn", LogisticRegression().fit(X, Y),
                                         input_example=X)
    platform.registry.set_alias(version.ref, "champion")
    return platform


def test_recorded_results_read_back_newest_last_and_audited(churn: Platform) -> None:
    registry = churn.registry
    registry.record_gate("churn:1", result(False))
    registry.record_gate("churn@champion", result(True))
    registry.record_gate("churn:1", result(True, gate="data-quality"))

    records = registry.gates("churn:1")
    assert [(r.ref, r.gate, r.passed) for r in records] == [
        ("churn:1", "model-quality", False), ("churn:1", "model-quality", True),
        ("churn:1", "data-quality", True)]
    assert records[0].result == result(False) and records[0].actor == churn.actor
    assert records[0].failed_checks() == ["roc_auc metric_min: expected >= 0.8, actual 0.71"]
    assert [r.passed for r in registry.gates("churn:1", gate="model-quality")] == [False, True]
    entries = churn.audit_entries(action="gate.recorded")
    assert len(entries) == 3
    assert churn.verify_audit().ok


def test_check_gates_requires_the_newest_result_of_each_gate_to_pass(churn: Platform) -> None:
    with pytest.raises(GateRequiredError) as raised:
        check_gates(churn, "churn@champion", ["model-quality"])
    assert str(raised.value) == ("Model churn:1 has no passing gate 'model-quality': no result "
                                 "of it is recorded. Run the pipeline's gates, or deploy with "
                                 "--force.")
    assert isinstance(raised.value, ConflictError)

    churn.registry.record_gate("churn:1", result(True))
    check_gates(churn.registry, "churn:1", ["model-quality"])
    churn.registry.record_gate("churn:1", result(False))
    with pytest.raises(GateRequiredError, match=r"latest result failed \(roc_auc metric_min: "
                                                r"expected >= 0.8, actual 0.71\)"):
        check_gates(churn, "churn:1", ["model-quality"])


def test_bad_results_and_refs_are_refused(churn: Platform) -> None:
    with pytest.raises(InvalidInputError, match="'gate' name"):
        churn.registry.record_gate("churn:1", {"passed": True})
    with pytest.raises(InvalidInputError, match="'passed' flag"):
        churn.registry.record_gate("churn:1", {"gate": "g", "passed": "yes"})
    with pytest.raises(ModelNotFoundError):
        churn.registry.record_gate("churn:9", result(True))
    assert churn.registry.gates("churn:1") == []
    assert churn.audit_entries(action="gate.recorded") == []
