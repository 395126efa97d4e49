from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import steadyml
from steadyml import Platform
from steadyml.core.errors import (
    AliasNotFoundError,
    ArtifactCorruptError,
    InvalidModelRefError,
    InvalidNameError,
    ModelNotFoundError,
    SignatureMismatchError,
    UnsupportedModelError,
)
from steadyml.registry import ModelRef, Signature


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    return frame


def _train(platform: Platform, data: pd.DataFrame, c: float = 1.0):
    features = data.drop(columns="target")
    with steadyml.start_run("cancer", params={"C": c}, platform=platform) as run:
        ds = run.log_dataset(data, name="cancer")
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=3000))
        model.fit(features, data["target"])
        run.log_metrics({"acc": model.score(features, data["target"])})
        version = run.register_model("cancer", model, input_example=features.head(20))
    return run, ds, model, version


def test_register_load_predict_round_trip(platform: Platform, data: pd.DataFrame) -> None:
    run, ds, model, version = _train(platform, data)
    assert version.ref == "cancer:1" and version.flavor == "sklearn"
    assert version.run_id == run.id and version.metrics["acc"] > 0.9
    assert [d["fingerprint"] for d in version.datasets] == [ds.fingerprint]
    names = [c["name"] for c in version.signature["inputs"]]
    assert names == list(data.columns.drop("target"))
    loaded = steadyml.load_model("cancer:1", platform=platform)
    features = data.drop(columns="target")
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    np.testing.assert_allclose(loaded.predict_proba(features), model.predict_proba(features))
    shuffled = features[list(reversed(features.columns))]  # column order does not matter
    np.testing.assert_array_equal(loaded.predict(shuffled), model.predict(features))


def test_versions_increment_and_aliases_move(platform: Platform, data: pd.DataFrame) -> None:
    _train(platform, data, 0.5)
    _, _, _, v2 = _train(platform, data, 2.0)
    assert v2.version == 2
    platform.registry.set_alias("cancer:1", "champion")
    assert platform.registry.get("cancer@champion").version == 1
    moved = platform.registry.set_alias("cancer:2", "champion")
    assert moved.aliases == ["champion"]
    assert platform.registry.get("cancer@champion").version == 2
    assert platform.registry.get("cancer").version == 2  # bare name: latest
    entry = platform.audit_entries(action="alias.moved", limit=1)[0]
    assert entry.before == {"alias": "champion", "version": 1}
    assert entry.after == {"alias": "champion", "version": 2}
    listed = platform.registry.list_models()
    assert listed == [{"name": "cancer", "description": "", "latest_version": 2,
                       "versions": 2, "aliases": {"champion": 2},
                       "updated_ms": listed[0]["updated_ms"]}]
    platform.registry.delete_alias("cancer", "champion")
    with pytest.raises(AliasNotFoundError, match="steady models alias"):
        platform.registry.get("cancer@champion")


def test_lineage_names_data_code_params_environment(platform: Platform,
                                                    data: pd.DataFrame) -> None:
    run, ds, _, version = _train(platform, data, 0.7)
    platform.registry.set_alias(version.ref, "champion")
    doc = steadyml.lineage("cancer@champion", platform=platform)
    assert doc["model"]["ref"] == "cancer:1" and doc["model"]["aliases"] == ["champion"]
    assert doc["model"]["artifact"]["digest"] == f"sha256:{version.artifact_digest}"
    assert doc["run"]["id"] == run.id
    assert doc["datasets"][0]["fingerprint"] == ds.fingerprint
    assert doc["datasets"][0]["rows"] == len(data)
    assert doc["params"] == {"C": "0.7"}
    assert doc["metrics"]["acc"] == version.metrics["acc"]
    assert doc["environment"]["python_version"].startswith("3.")
    assert set(doc["code"]) == {"repo", "commit", "branch", "dirty", "diff_hash"}
    assert doc["deployments"] == []


@pytest.mark.parametrize("ref", ["", "a:b", "a@", "a:0", "a b", "x:1:2", "a@b@c"])
def test_bad_refs(ref: str) -> None:
    with pytest.raises(InvalidModelRefError):
        ModelRef.parse(ref)


def test_unknown_model_version_alias(platform: Platform, data: pd.DataFrame) -> None:
    with pytest.raises(ModelNotFoundError, match="steady models list"):
        platform.registry.get("ghost:1")
    _train(platform, data)
    with pytest.raises(ModelNotFoundError, match="no version 7"):
        platform.registry.get("cancer:7")
    with pytest.raises(AliasNotFoundError):
        platform.registry.get("cancer@prod")
    with pytest.raises(InvalidNameError):
        platform.registry.set_alias("cancer:1", "not valid!")
    with pytest.raises(ModelNotFoundError):
        platform.registry.set_alias("cancer:9", "champion")


def test_bad_models_and_signatures_leave_store_unchanged(platform: Platform,
                                                          data: pd.DataFrame) -> None:
    features = data.drop(columns="target")
    model = LogisticRegression(max_iter=3000).fit(features, data["target"])
    before = len(platform.audit_entries(limit=None))
    with pytest.raises(UnsupportedModelError):
        platform.registry.register("m", "not a model", input_example=features)
    wrong = Signature.infer(features.drop(columns=features.columns[0]))
    with pytest.raises(SignatureMismatchError, match=features.columns[0]):
        platform.registry.register("m", model, input_example=features, signature=wrong)
    assert platform.registry.list_models() == []
    assert len(platform.audit_entries(limit=None)) == before


def test_signature_mismatch_on_predict(platform: Platform, data: pd.DataFrame) -> None:
    _train(platform, data)
    loaded = platform.registry.load("cancer:1")
    features = data.drop(columns="target")
    with pytest.raises(SignatureMismatchError, match="mean_radius"):
        loaded.predict(features.drop(columns="mean_radius"))


def test_corrupt_artifact_is_never_loaded(platform: Platform, data: pd.DataFrame) -> None:
    _, _, _, version = _train(platform, data)
    path = Path(platform.artifacts.path_of(version.artifact_digest))
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(ArtifactCorruptError, match=version.artifact_digest):
        platform.registry.load("cancer:1")
    path.write_bytes(bytes(blob[:100]))  # truncated
    with pytest.raises(ArtifactCorruptError):
        platform.registry.load("cancer:1")
