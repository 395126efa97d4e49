"""The admin API's monitoring routes on a real server (port 0), over real HTTP."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import steadyml
from steadyml import Platform, Settings
from steadyml.cli.inspections import Inspector
from steadyml.control import Controller
from steadyml.core.errors import InvalidInputError
from steadyml.monitoring.outcomes import MAX_BATCH
from steadyml.serving.server import BackgroundServer, create_app
from steadyml.store.predictions import PredictionLog

LOGGED = 200


@pytest.fixture
def admin(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """fraud serves m:1 (trained on amount, age); its log holds predictions with amount shifted."""
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"amount": rng.normal(0, 1, 400), "age": rng.normal(40, 10, 400)})
    y = (train["amount"] > 0).astype(int)
    platform = Platform(Settings(home=tmp_path / "home", actor="tester"))
    with steadyml.start_run("fraud", platform=platform) as run:
        run.log_dataset(train.assign(y=y), name="transactions")
        run.register_model("m", LogisticRegression().fit(train, y), input_example=train.head(5))
    platform.deployments.deploy("fraud", "m:1")
    log = PredictionLog(platform.settings.resolved_logs)
    rows = np.column_stack([rng.normal(3, 1, LOGGED), rng.normal(40, 10, LOGGED)])
    log.append_rows(request_ids=[f"req-{i}" for i in range(LOGGED)],
                    rows_per_request=[1] * LOGGED, latency_ms=[1.0] * LOGGED,
                    deployment="fraud", revision=1, model="m", model_version=1, arm="stable",
                    ts_ms=int(time.time() * 1000) - 1000, inputs=rows,
                    outputs=np.zeros(LOGGED), feature_names=["amount", "age"])
    log.close()
    _, token = platform.tokens.create("test")
    app = create_app(platform, poll_interval_s=0.05, log_predictions=False,
                     inspections=Inspector(platform))
    try:
        with BackgroundServer(app) as url, httpx.Client(base_url=url, timeout=30) as client:
            yield {"client": client, "platform": platform, "url": url,
                   "auth": {"Authorization": f"Bearer {token}"}}
    finally:
        platform.close()
        _release_frozen()


def _release_frozen() -> None:
    """Collect what the server froze at startup (gc.freeze), DuckDB's objects among it."""
    gc.unfreeze()
    gc.collect()


def test_outcomes_need_a_token_and_are_stored_with_one(admin: dict[str, Any]) -> None:
    client, platform, auth = admin["client"], admin["platform"], admin["auth"]
    batch = {"outcomes": [{"request_id": "req-1", "value": 1},
                          {"request_id": "req-2", "value": "fraud"}]}
    for headers in ({}, {"Authorization": "Bearer stdy_wrong"}, {"Authorization": "Basic x"}):
        refused = client.post("/api/v1/outcomes", json=batch, headers=headers)
        assert refused.status_code == 401 and "bearer token" in refused.json()["error"]
    assert platform.outcomes.count() == 0
    accepted = client.post("/api/v1/outcomes", json=batch, headers=auth)
    assert accepted.status_code == 200 and accepted.json() == {"accepted": 2}
    single = client.post("/api/v1/outcomes", json={"request_id": "req-3", "value": True},
                         headers=auth)
    assert single.json() == {"accepted": 1}
    assert platform.outcomes.count() == 3


@pytest.mark.parametrize("body, status, needle", [
    ({"request_id": "a", "value": 10**400}, 400, "value must be a finite number"),
    ({"outcomes": [{"request_id": "ok", "value": 1}, {"request_id": "", "value": 1}]}, 400,
     "Outcome 1: request_id must be a non-empty string"),
    ({"outcomes": [{"request_id": "a", "value": None}]}, 400, "Outcome 0 (a): value must be"),
    ({"outcomes": [{"request_id": "a", "value": [1]}]}, 400, "value must be a number"),
    ({"outcomes": "a,1"}, 422, "'outcomes' must be a list"),
    ({"outcomes": [], "extra": 1}, 422, "Unknown key(s) ['extra']"),
    ({"value": 1}, 422, "The body must be"),
    ([1, 2], 422, "The body must be"),
    ({"outcomes": [{"request_id": "a", "value": 1}] * (MAX_BATCH + 1)}, 413,
     f"At most {MAX_BATCH} outcomes per call"),
])
def test_bad_outcomes_get_4xx_naming_the_problem_and_store_nothing(
        admin: dict[str, Any], body: Any, status: int, needle: str) -> None:
    response = admin["client"].post("/api/v1/outcomes", json=body, headers=admin["auth"])
    assert response.status_code == status, response.text
    assert needle in response.json()["error"]
    assert admin["platform"].outcomes.count() == 0


@pytest.mark.parametrize("value", [10**400, -(10**400), float("inf"), float("nan")])
def test_the_sdk_rejects_outcomes_beyond_a_float(admin: dict[str, Any], value: Any) -> None:
    with pytest.raises(InvalidInputError, match=r"Outcome 0 \(a\): value must be a finite"):
        admin["platform"].outcomes.ingest([{"request_id": "a", "value": value}])
    assert admin["platform"].outcomes.count() == 0


def test_skew_against_a_logged_dataset_by_request_id(admin: dict[str, Any]) -> None:
    platform, client = admin["platform"], admin["client"]
    rng = np.random.default_rng(3)  # replay the fixture's draws: training data, then the log
    rng.normal(0, 1, 400), rng.normal(40, 10, 400)
    rows = np.column_stack([rng.normal(3, 1, LOGGED), rng.normal(40, 10, LOGGED)])
    amount = rows[:, 0].copy()
    amount[:10] /= 100  # offline in euros where serving got cents: 5 % of the rows
    with steadyml.start_run("features", platform=platform) as run:
        run.log_dataset(pd.DataFrame({"request_id": [f"req-{i}" for i in range(LOGGED)],
                                      "amount": amount, "age": rows[:, 1]}),
                        name="offline-features", context="evaluation")
    response = client.get("/api/v1/deployments/fraud/skew",
                          params={"dataset": "offline-features", "window": "1h"})
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["status"] == "skew" and doc["report"]["flagged"] == ["amount"]
    assert doc["offline"]["source"].startswith("dataset offline-features")
    features = {f["name"]: f for f in doc["report"]["features"]}
    assert features["amount"]["mismatches"] == 10 and features["age"]["mismatches"] == 0
    # Only logged datasets: a path is a dataset name like any other, and there is none.
    traversal = client.get("/api/v1/deployments/fraud/skew",
                           params={"dataset": "../../etc/passwd"})
    assert traversal.status_code == 404
    bad = client.get("/api/v1/deployments/fraud/skew", params={"max_mismatch_rate": 2})
    assert bad.status_code == 422


def test_invalid_json_is_a_422_not_a_500(admin: dict[str, Any]) -> None:
    response = admin["client"].post("/api/v1/outcomes", content=b"{not json",
                                    headers={**admin["auth"],
                                             "content-type": "application/json"})
    assert response.status_code == 422 and "Invalid request" in response.json()["error"]


def test_policies_put_get_delete(admin: dict[str, Any]) -> None:
    client, auth = admin["client"], admin["auth"]
    policy = {"window": "5m", "slo": {"error_rate": 0.01},
              "drift": {"window": "1h", "persistence": 2}}
    assert client.put("/api/v1/policies/fraud", json=policy).status_code == 401
    missing = client.get("/api/v1/policies/fraud")
    assert missing.status_code == 404 and "has no policy" in missing.json()["error"]
    put = client.put("/api/v1/policies/fraud", json=policy, headers=auth)
    assert put.status_code == 200, put.text
    stored = put.json()
    assert stored["deployment"] == "fraud" and stored["window"] == 300
    assert stored["drift"]["window"] == 3600 and stored["slo"]["error_rate"] == 0.01
    assert client.get("/api/v1/policies/fraud").json() == stored
    assert [p["deployment"] for p in client.get("/api/v1/policies").json()] == ["fraud"]
    assert client.delete("/api/v1/policies/fraud").status_code == 401
    deleted = client.delete("/api/v1/policies/fraud", headers=auth)
    assert deleted.status_code == 200 and deleted.json()["removed"] is True
    assert client.get("/api/v1/policies/fraud").status_code == 404
    assert client.delete("/api/v1/policies/fraud", headers=auth).status_code == 404


@pytest.mark.parametrize("body, keys", [
    ({"window": "5 minutes", "drift": {"refrence": "training"}}, {"window", "drift.refrence"}),
    ({"slo": {"metric": {"name": "accuracy", "max": 0.9}}}, {"slo.metric.max"}),
    ({"deployment": "other"}, {"deployment"}),
    (["not", "an", "object"], {""}),
])
def test_a_bad_policy_gets_422_naming_each_key(admin: dict[str, Any], body: Any,
                                               keys: set[str]) -> None:
    response = admin["client"].put("/api/v1/policies/fraud", json=body, headers=admin["auth"])
    assert response.status_code == 422, response.text
    doc = response.json()
    assert {p["key"] for p in doc["problems"]} == keys
    assert all(key in doc["error"] for key in keys)
    assert admin["client"].get("/api/v1/policies/fraud").status_code == 404


def test_alerts_drift_and_timeline(admin: dict[str, Any]) -> None:
    client, platform = admin["client"], admin["platform"]
    assert client.get("/api/v1/alerts").json() == []
    assert client.get("/api/v1/alerts", params={"status": "gone"}).status_code == 422
    drift = client.get("/api/v1/deployments/fraud/drift", params={"window": "30m"})
    assert drift.status_code == 200, drift.text
    doc = drift.json()
    assert doc["status"] == "drift" and doc["flagged"] == ["amount"]
    assert doc["window"]["rows"] == LOGGED and doc["window"]["seconds"] == 1800
    bad = client.get("/api/v1/deployments/fraud/drift", params={"window": "soon"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["key"] == "window"
    long = client.get("/api/v1/deployments/fraud/drift", params={"window": "4000d"})
    assert long.status_code == 400 and "at most 3650d" in long.json()["error"]
    huge = client.get("/api/v1/deployments/fraud/drift", params={"window": "9" * 400})
    assert huge.status_code == 422 and "finite" in huge.json()["problems"][0]["message"]
    assert client.get("/api/v1/deployments/ghost/drift").status_code == 404
    assert client.get("/api/v1/deployments/fraud/timeline").json() == []
    put = client.put("/api/v1/policies/fraud", json={"drift": {"window": "1h"}},
                     headers=admin["auth"])
    assert put.status_code == 200
    Controller(platform).run_once(force=True)
    timeline = client.get("/api/v1/deployments/fraud/timeline").json()
    assert [e["kind"] for e in timeline] == ["alert", "drift"]
    (alert,) = client.get("/api/v1/alerts", params={"deployment": "fraud"}).json()
    assert alert["key"] == "drift" and alert["status"] == "open"
    assert client.get("/api/v1/alerts", params={"status": "resolved"}).json() == []


def test_online_metrics_count_unknown_outcomes(admin: dict[str, Any]) -> None:
    client = admin["client"]
    client.post("/api/v1/outcomes", headers=admin["auth"], json={"outcomes": [
        {"request_id": "req-0", "value": 0}, {"request_id": "req-1", "value": 1},
        {"request_id": "elsewhere", "value": 1}]})
    doc = client.get("/api/v1/deployments/fraud/online-metrics").json()
    assert doc["unknown"] == 1 and doc["matched"] == 2
    assert doc["arms"]["stable"]["accuracy"] == 0.5
    bad = client.get("/api/v1/deployments/fraud/online-metrics", params={"metric": "vibes"})
    assert bad.status_code == 422 and "metric" in bad.json()["error"]


def test_openapi_documents_the_monitoring_routes(admin: dict[str, Any]) -> None:
    spec = admin["client"].get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/outcomes", "/api/v1/alerts", "/api/v1/policies/{deployment}",
                 "/api/v1/deployments/{name}/drift", "/api/v1/deployments/{name}/timeline"):
        assert path in paths, path
    assert {"get", "put", "delete"} <= set(paths["/api/v1/policies/{deployment}"])
    body = paths["/api/v1/outcomes"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["anyOf"][0]["properties"]["outcomes"]["maxItems"] == MAX_BATCH


def test_a_server_without_inspections_has_no_drift_routes(tmp_path: Path) -> None:
    with Platform(Settings(home=tmp_path / "home")) as platform:
        app = create_app(platform, log_predictions=False)
        with BackgroundServer(app) as url:
            assert httpx.get(f"{url}/api/v1/deployments/fraud/drift").status_code == 404
            paths = httpx.get(f"{url}/openapi.json").json()["paths"]
            assert "/api/v1/deployments/{name}/drift" not in paths
            assert httpx.get(f"{url}/api/v1/alerts").json() == []
    _release_frozen()


@pytest.mark.slow
def test_fuzzed_monitoring_requests_never_get_a_server_error(admin: dict[str, Any]) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    raw = admin["client"].get("/openapi.json").json()
    raw["paths"] = {path: item for path, item in raw["paths"].items()
                    if path.startswith(("/api/v1/outcomes", "/api/v1/alerts", "/api/v1/policies"))
                    or path.endswith(("/drift", "/online-metrics", "/timeline"))}
    assert len(raw["paths"]) == 7
    for item in raw["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in ("name", "deployment"):
                    parameter["schema"] = {"type": "string", "enum": ["fraud", "nope"]}
    schema = schemathesis.openapi.from_dict(raw)
    for operation in [result.ok() for result in schema.get_all_operations()]:

        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            response = case.call(base_url=admin["url"], headers=admin["auth"])
            assert response.status_code < 500, (case.method, case.formatted_path, case.body,
                                                response.text[:300])

        call()
