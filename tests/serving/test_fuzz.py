"""Fuzz every documented endpoint (V2 inference and admin API) from the served OpenAPI.

Whatever schemathesis sends, the server answers with a status below 500, and keeps serving.
Path parameters are pointed at the real deployment so generated bodies reach the model code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from serving_fixtures import cancer_frame, infer_body, serve_models

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with serve_models(tmp_path_factory.mktemp("fuzz"), cancer_frame(), broken=False) as env:
        yield env


@pytest.fixture(scope="module")
def api_schema(fuzz_server: dict[str, Any]) -> Any:
    raw = httpx.get(f"{fuzz_server['url']}/openapi.json").json()
    for path, item in raw["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in ("model_name", "name"):
                    parameter["schema"] = {"type": "string", "enum": ["cancer-api", "nope"]}
                if parameter["name"] == "model_version":
                    parameter["schema"] = {"type": "string", "enum": ["1", "2", "x"]}
                if parameter["name"] == "ref" and path.endswith("{ref}"):
                    parameter["schema"] = {"type": "string",
                                           "enum": ["cancer:1", "cancer@nope", "cancer-api"]}
    return schemathesis.openapi.from_dict(raw)


def test_no_request_gets_a_server_error(api_schema: Any, fuzz_server: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {fuzz_server['token']}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:

        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            response = case.call(base_url=fuzz_server["url"], headers=headers)
            assert response.status_code < 500, (case.method, case.formatted_path,
                                                case.body, response.text[:300])

        call()


def test_server_still_answers_after_fuzzing(fuzz_server: dict[str, Any]) -> None:
    client = fuzz_server["client"]
    assert client.get("/v2/health/ready").status_code == 200
    rows = fuzz_server["data"].iloc[:2].to_numpy()
    assert client.post("/v2/models/cancer-api/infer", json=infer_body(rows)).status_code in (
        200, 404)  # 404 only if fuzzing removed the deployment's stable arm
