from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import steadyml
from steadyml import Platform
from steadyml.core.errors import ConflictError, InvalidInputError, ModelNotFoundError
from steadyml.deployments import DeploymentNotFoundError, Mode, Reason, RevisionNotFoundError


@pytest.fixture
def models(platform: Platform) -> Platform:
    rng = np.random.default_rng(0)
    X = rng.random((60, 3))
    y = (X[:, 0] > 0.5).astype(int)
    for c in (0.1, 1.0, 10.0):
        with steadyml.start_run("e", platform=platform) as run:
            run.register_model("m", LogisticRegression(C=c).fit(X, y), input_example=X)
    platform.registry.set_alias("m:3", "champion")
    return platform


def test_deploy_canary_promote_history(models: Platform) -> None:
    d = models.deployments
    first = d.deploy("fraud", "m:1")
    assert (first.revision, first.stable.ref, first.candidate) == (1, "m:1", None)
    canary = d.deploy("fraud", "m@champion", canary=10)
    assert canary.revision == 2 and canary.mode is Mode.CANARY and canary.weight == 10
    assert canary.stable.ref == "m:1" and canary.candidate.ref == "m:3"
    moved = d.set_weight("fraud", 50)
    assert moved.weight == 50 and moved.reason is Reason.WEIGHT
    promoted = d.promote("fraud")
    assert promoted.stable.ref == "m:3" and promoted.candidate is None
    assert [r.revision for r in d.history("fraud")] == [4, 3, 2, 1]
    actions = [e.action for e in models.audit_entries(subject="deployment:fraud")]
    assert actions == ["deployment.promote", "deployment.weight", "deployment.candidate",
                       "deployment.deploy"]
    entry = models.audit_entries(subject="deployment:fraud", limit=1)[0]
    assert entry.before["candidate"] == "m:3" and entry.after["stable"] == "m:3"


def test_rollback_drops_candidate_then_returns_to_previous_stable(models: Platform) -> None:
    d = models.deployments
    d.deploy("fraud", "m:1")
    d.deploy("fraud", "m:2", shadow=True)
    dropped = d.rollback("fraud")
    assert dropped.stable.ref == "m:1" and dropped.candidate is None
    d.deploy("fraud", "m:2")
    d.deploy("fraud", "m:3")
    back = d.rollback("fraud")
    assert back.stable.ref == "m:2" and back.reason is Reason.ROLLBACK
    exact = d.rollback("fraud", to=2)
    assert exact.stable.ref == "m:1" and exact.candidate.ref == "m:2"
    assert exact.mode is Mode.SHADOW
    assert d.current("fraud").revision == exact.revision == 7


def test_blue_green_is_warm_candidate_with_no_traffic(models: Platform) -> None:
    d = models.deployments
    d.deploy("api", "m:1")
    bg = d.deploy("api", "m:2", blue_green=True)
    assert bg.mode is Mode.BLUE_GREEN and bg.weight == 0
    assert d.promote("api").stable.ref == "m:2"


def test_bad_deployment_changes_are_refused_and_change_nothing(models: Platform) -> None:
    d = models.deployments
    with pytest.raises(ConflictError, match="no stable model yet"):
        d.deploy("fraud", "m:1", canary=5)
    with pytest.raises(DeploymentNotFoundError, match="steady deploy"):
        d.current("fraud")
    d.deploy("fraud", "m:1")
    with pytest.raises(InvalidInputError, match="one of"):
        d.deploy("fraud", "m:2", canary=5, shadow=True)
    with pytest.raises(InvalidInputError, match="percentage"):
        d.deploy("fraud", "m:2", canary=0)
    with pytest.raises(ConflictError, match="already the stable"):
        d.deploy("fraud", "m:1", canary=5)
    with pytest.raises(ConflictError, match="no candidate"):
        d.promote("fraud")
    with pytest.raises(ConflictError, match="nothing to roll back"):
        d.rollback("fraud")
    with pytest.raises(RevisionNotFoundError):
        d.rollback("fraud", to=9)
    for absurd in (0, -1, 2**63):  # found by fuzzing the admin API: once a 500
        with pytest.raises(InvalidInputError, match="numbered from 1"):
            d.rollback("fraud", to=absurd)
    with pytest.raises(ModelNotFoundError):
        d.deploy("fraud", "m:9")
    assert [r.revision for r in d.history("fraud")] == [1]


def test_lineage_of_a_deployment_and_where_a_model_serves(models: Platform) -> None:
    models.deployments.deploy("fraud", "m:1")
    models.deployments.deploy("fraud", "m:2", canary=20)
    doc = models.lineage("fraud")
    assert doc["deployment"] == "fraud" and doc["revision"] == 2
    arms = {a["arm"]: a for a in doc["arms"]}
    assert arms["stable"]["model"] == "m:1" and arms["stable"]["traffic_percent"] == 80
    assert arms["candidate"]["traffic_percent"] == 20
    assert arms["candidate"]["lineage"]["model"]["ref"] == "m:2"
    model_doc = models.lineage("m:2")
    assert model_doc["deployments"] == [{"deployment": "fraud", "arm": "candidate",
                                         "revision": 2, "since": doc["since"]}]
    assert models.deployments.heads() == {"fraud": 2}
