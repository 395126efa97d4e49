"""The serving app on a real uvicorn server (port 0), over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving_fixtures import Broken, infer_body, serve_models, wait_for

import steadyml


@pytest.fixture
def served(tmp_path: Path, data: pd.DataFrame) -> Iterator[dict[str, Any]]:
    with serve_models(tmp_path, data) as env:
        yield env


def test_health_metadata_and_predictions_match_the_model(served: dict[str, Any]) -> None:
    client, data, model = served["client"], served["data"], served["models"][0]
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").status_code == 200
    assert client.get("/v2/models/cancer-api/ready").status_code == 200
    meta = client.get("/v2/models/cancer-api").json()
    assert meta["name"] == "cancer-api" and meta["versions"] == ["1"]
    assert [i["name"] for i in meta["inputs"]] == list(data.columns)
    rows = data.iloc[:25].to_numpy()
    response = client.post("/v2/models/cancer-api/infer", json=infer_body(rows, id="req-1"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "req-1" == response.headers["x-request-id"]
    assert body["model_version"] == "1"
    assert body["outputs"][0]["data"] == model.predict(data.iloc[:25]).tolist()
    per_feature = {"inputs": [{"name": c, "shape": [25], "datatype": "FP64",
                               "data": data[c].iloc[:25].tolist()} for c in data.columns]}
    again = client.post("/v2/models/cancer-api/infer", json=per_feature).json()
    assert again["outputs"][0]["data"] == body["outputs"][0]["data"]
    assert len(again["id"]) == 32  # generated when the client gives none


@pytest.mark.parametrize("make", [
    lambda d: (b"{not json", {}, 400, "JSON"),
    lambda d: (b"{}", {"content-type": "text/plain"}, 415, "Content-Type"),
    lambda d: (_json({"inputs": [{"name": c, "shape": [1], "datatype": "FP64", "data": [1.0]}
                                 for c in d.columns[1:]]}), {}, 400, d.columns[0]),
    lambda d: (_json({"inputs": [{"name": c, "shape": [1], "datatype": "FP64", "data": [1.0]}
                                 for c in [*d.columns, "extra"]]}), {}, 400, "extra"),
    lambda d: (_json({"inputs": [{"name": c, "shape": [1], "datatype": "BYTES",
                                  "data": ["x"]} for c in d.columns]}), {}, 400, "BYTES"),
    lambda d: (_json(infer_body(np.zeros((2, 29)))), {}, 400, "shape"),
    lambda d: (b'{"inputs":[{"name":"input-0","shape":[1,30],"datatype":"FP64","data":[NaN'
               + b",0" * 29 + b"]}]}", {}, 400, "NaN"),
    lambda d: (b"x" * (9 * 1024 * 1024), {}, 413, "limit"),
])
def test_bad_requests_get_4xx_json_naming_the_problem(served: dict[str, Any], make) -> None:
    body, headers, status, needle = make(served["data"])
    response = served["client"].post("/v2/models/cancer-api/infer", content=body,
                                     headers={"content-type": "application/json", **headers})
    assert response.status_code == status, response.text
    assert needle in response.json()["error"]
    served["log"].flush()
    assert served["log"].stats["accepted"] == 0  # no log row for a prediction not made


def _json(value: Any) -> bytes:
    import orjson

    return orjson.dumps(value)


def test_unknown_deployment_and_broken_model_are_isolated(served: dict[str, Any]) -> None:
    client, rows = served["client"], served["data"].iloc[:2].to_numpy()
    missing = client.post("/v2/models/nope/infer", json=infer_body(rows))
    assert missing.status_code == 404 and "steady deployments list" in missing.json()["error"]
    broken = client.post("/v2/models/broken-api/infer", json=infer_body(rows))
    assert broken.status_code == 500 and "boom" in broken.json()["error"]
    healthy = client.post("/v2/models/cancer-api/infer", json=infer_body(rows))
    assert healthy.status_code == 200
    metrics = client.get("/metrics").text
    assert 'steady_prediction_errors_total{arm="stable",deployment="broken-api"' in metrics
    assert 'steady_requests_total{arm="stable",code="200",deployment="cancer-api"' in metrics


def test_canary_is_sticky_and_weighted_and_rollback_reaches_the_server(
        served: dict[str, Any]) -> None:
    client, platform = served["client"], served["platform"]
    revision = platform.deployments.deploy("cancer-api", "cancer:2", canary=30)
    wait_for(lambda: served["app"].runtimes.by_name["cancer-api"].revision.revision
             == revision.revision)
    rows = served["data"].iloc[:1].to_numpy()

    def version_for(key: str) -> str:
        response = client.post("/v2/models/cancer-api/infer", json=infer_body(rows),
                               headers={"x-routing-key": key})
        assert response.status_code == 200
        return response.json()["model_version"]

    first = {f"user-{i}": version_for(f"user-{i}") for i in range(300)}
    assert all(version_for(k) == v for k, v in list(first.items())[:40])  # sticky
    share = sum(v == "2" for v in first.values()) / len(first)
    assert 0.2 < share < 0.4  # 30 % +- 4 standard deviations of a binomial(300, 0.3)
    rolled = platform.deployments.rollback("cancer-api")
    deadline = time.monotonic() + 1.0
    wait_for(lambda: served["app"].runtimes.by_name["cancer-api"].revision.revision
             == rolled.revision, timeout_s=1.0)
    assert time.monotonic() <= deadline
    assert {version_for(k) for k in list(first)[:60]} == {"1"}


def test_shadow_never_answers_but_is_logged(served: dict[str, Any]) -> None:
    client, platform, log = served["client"], served["platform"], served["log"]
    revision = platform.deployments.deploy("cancer-api", "cancer:2", shadow=True)
    wait_for(lambda: served["app"].runtimes.by_name["cancer-api"].revision.revision
             == revision.revision)
    rows = served["data"].iloc[:3].to_numpy()
    for i in range(20):
        body = client.post("/v2/models/cancer-api/infer", json=infer_body(rows, id=f"s{i}"))
        assert body.json()["model_version"] == "1"
    wait_for(lambda: log.stats["accepted"] >= 2 * 20 * 3)
    log.flush()
    import pyarrow.dataset as pads

    table = pads.dataset(str(Path(log.root) / "predictions"), format="parquet",
                         partitioning="hive").to_table()
    arms = table.group_by("arm").aggregate([("request_id", "count")]).to_pydict()
    counts = dict(zip(arms["arm"], arms["request_id_count"], strict=True))
    assert counts == {"stable": 60, "shadow": 60}


def test_admin_api_needs_a_token_and_documents_itself(served: dict[str, Any]) -> None:
    client, token = served["client"], served["token"]
    before = served["platform"].deployments.current("cancer-api").revision
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
        denied = client.post("/api/v1/deployments/cancer-api/deploy",
                             json={"model": "cancer:2", "canary": 10}, headers=headers)
        assert denied.status_code == 401 and "steady token create" in denied.json()["error"]
    assert served["platform"].deployments.current("cancer-api").revision == before
    ok = client.post("/api/v1/deployments/cancer-api/deploy",
                     json={"model": "cancer:2", "canary": 10},
                     headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json()["candidate"]["ref"] == "cancer:2"
    bad = client.post("/api/v1/deployments/cancer-api/deploy", json={"model": "cancer:9"},
                      headers={"Authorization": f"Bearer {token}"})
    assert bad.status_code == 404 and "no version 9" in bad.json()["error"]
    status = client.get("/api/v1/deployments/cancer-api").json()
    assert status["candidate"]["ref"] == "cancer:2" and "live" in status
    assert client.get("/docs").status_code == 200
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/deployments/{name}/rollback" in paths
    lineage = client.get("/api/v1/lineage/cancer-api").json()
    assert lineage["deployment"] == "cancer-api"


def test_failing_canary_falls_back_to_stable_and_opens_its_circuit(
        served: dict[str, Any]) -> None:
    client, platform = served["client"], served["platform"]
    platform.deployments.deploy("cancer-api", "cancer:1")  # make sure stable is healthy
    with steadyml.start_run("e", platform=platform) as run:
        run.register_model("cancer", Broken(), input_example=served["data"].head(3),
                           signature=steadyml.Signature.from_dict(
                               platform.registry.get("cancer:1").signature))
    canary = platform.deployments.deploy("cancer-api", "cancer:3", canary=50)
    wait_for(lambda: served["app"].runtimes.by_name["cancer-api"].revision.revision
             == canary.revision)
    rows = served["data"].iloc[:1].to_numpy()
    answers = [client.post("/v2/models/cancer-api/infer", json=infer_body(rows),
                           headers={"x-routing-key": f"k{i}"}) for i in range(120)]
    assert {r.status_code for r in answers} == {200}  # failures were answered by stable
    assert {r.json()["model_version"] for r in answers} == {"1"}
    wait_for(lambda: platform.deployments.current("cancer-api").reason.value == "circuit-open")
    current = platform.deployments.current("cancer-api")
    assert current.candidate is None and current.revision == canary.revision + 1
    entry = platform.audit_entries(action="deployment.circuit-open", limit=1)[0]
    assert entry.evidence["candidate"] == "cancer:3"
    assert entry.evidence["failures"] >= entry.evidence["min_requests"] // 2


def test_grafana_dashboard_queries_only_exported_metrics(served: dict[str, Any]) -> None:
    import json
    import re

    client = served["client"]
    rows = served["data"].iloc[:2].to_numpy()
    client.post("/v2/models/cancer-api/infer", json=infer_body(rows))
    client.post("/v2/models/broken-api/infer", json=infer_body(rows))
    exported = set(re.findall(r"^# TYPE (\w+) (\w+)", client.get("/metrics").text, re.M))
    names = set()
    for name, kind in exported:
        names |= {name, f"{name}_total"} if kind == "counter" else {name}
        if kind == "histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "dashboards" /
                            "grafana-steadyml.json").read_text())
    used = {m for p in dashboard["panels"] for t in p["targets"]
            for m in re.findall(r"\b(steady_\w+)", t["expr"])}
    assert used and used <= names, used - names
