"""The whole register → load → lineage path on PostgreSQL metadata and S3 artifacts."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

import steadyml
from steadyml import Platform, Settings
from steadyml.core.errors import ArtifactCorruptError, StoreUnavailableError


def test_register_and_load_through_s3_and_postgres(pg_db_url: str, s3_url: str,
                                                   tmp_path, s3_server) -> None:
    settings = Settings(home=tmp_path, db_url=pg_db_url, artifacts=s3_url, actor="remote")
    X, y = load_iris(return_X_y=True, as_frame=True)
    with Platform(settings) as platform:
        with steadyml.start_run("iris", platform=platform) as run:
            ds = run.log_dataset(X.assign(y=y), name="iris")
            model = DecisionTreeClassifier(random_state=0).fit(X, y)
            version = run.register_model("iris", model, input_example=X)
        assert ds.uri.startswith("s3://") and ds.uri.endswith(ds.digest or "-")
        np.testing.assert_array_equal(
            steadyml.load_model("iris:1", platform=platform).predict(X), model.predict(X))
        doc = platform.lineage("iris:1")
        assert doc["model"]["artifact"]["uri"].startswith("s3://")
        assert doc["datasets"][0]["fingerprint"] == ds.fingerprint

        # Corrupt the object in the bucket: loading must refuse it.
        key = platform.artifacts.path_of(version.artifact_digest).split("/", 1)[1]
        s3_server.client().put_object(Bucket=s3_server.bucket, Key=key, Body=b"tampered")
        with pytest.raises(ArtifactCorruptError):
            platform.registry.load("iris:1")


def test_missing_bucket_is_a_clear_error(s3_url: str, tmp_path) -> None:
    settings = Settings(home=tmp_path, artifacts="s3://no-such-bucket/prefix")
    with Platform(settings) as platform, steadyml.start_run("e", platform=platform) as run:
        with pytest.raises(StoreUnavailableError, match="bucket"):
            run.log_dataset(pa.table({"a": [1, 2]}), name="d")


def test_unreachable_artifact_store_is_a_clear_error(tmp_path, monkeypatch) -> None:
    from services import free_port

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    settings = Settings(home=tmp_path, artifacts="s3://nowhere/prefix")
    with Platform(settings) as platform, steadyml.start_run("e", platform=platform) as run:
        with pytest.raises(StoreUnavailableError, match="artifact store"):
            run.log_dataset(pa.table({"a": [1, 2]}), name="d")
