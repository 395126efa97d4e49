"""The Open Inference Protocol (V2) REST paths, added to the admin API's OpenAPI document.

The V2 routes are served by the lean path in `app.py`, not by FastAPI; describing them here
puts the whole HTTP surface of the server in one document (at /openapi.json and /docs).
"""

from __future__ import annotations

from typing import Any

_ERROR = {"description": "A JSON error naming the problem",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/V2Error"}}}}
_NAME = {"name": "model_name", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "The deployment name"}
_VERSION = {"name": "model_version", "in": "path", "required": True,
            "schema": {"type": "string"}, "description": "A model version the deployment serves"}

SCHEMAS: dict[str, Any] = {
    "V2Error": {"type": "object", "properties": {"error": {"type": "string"}},
                "required": ["error"]},
    "V2Tensor": {
        "type": "object", "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "datatype": {"type": "string", "enum": ["BOOL", "UINT8", "UINT16", "UINT32",
                                                    "UINT64", "INT8", "INT16", "INT32",
                                                    "INT64", "FP16", "FP32", "FP64", "BYTES"]},
            "parameters": {"type": "object"},
            "data": {"type": "array", "items": {}},
        }},
    "V2InferenceRequest": {
        "type": "object", "required": ["inputs"],
        "properties": {"id": {"type": "string"}, "parameters": {"type": "object"},
                       "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2Tensor"}},
                       "outputs": {"type": "array", "items": {"type": "object"}}}},
    "V2InferenceResponse": {
        "type": "object", "required": ["model_name", "outputs"],
        "properties": {"model_name": {"type": "string"}, "model_version": {"type": "string"},
                       "id": {"type": "string"}, "parameters": {"type": "object"},
                       "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/V2Tensor"}}}},
    "V2ModelMetadata": {
        "type": "object", "required": ["name", "platform", "inputs", "outputs"],
        "properties": {"name": {"type": "string"},
                       "versions": {"type": "array", "items": {"type": "string"}},
                       "platform": {"type": "string"},
                       "inputs": {"type": "array", "items": {"type": "object"}},
                       "outputs": {"type": "array", "items": {"type": "object"}}}},
}


def _infer(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"post": {
        "tags": ["inference (V2)"], "summary": "Predict", "parameters": parameters,
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/V2InferenceRequest"}}}},
        "responses": {
            "200": {"description": "Predictions; the request id is also in X-Request-Id",
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/V2InferenceResponse"}}}},
            "400": _ERROR, "404": _ERROR, "413": _ERROR, "415": _ERROR,
            "500": {**_ERROR, "description": "The model raised (counted in metrics)"},
            "504": {**_ERROR, "description": "The model did not answer in time"}}}}


def _get(summary: str, parameters: list[dict[str, Any]], schema: str | None) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": summary}
    if schema:
        ok["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
    return {"get": {"tags": ["inference (V2)"], "summary": summary, "parameters": parameters,
                    "responses": {"200": ok, "404": _ERROR}}}


PATHS: dict[str, Any] = {
    "/v2/health/live": {"get": {"tags": ["inference (V2)"], "summary": "Server is live",
                                "responses": {"200": {"description": "Live"}}}},
    "/v2/health/ready": {"get": {"tags": ["inference (V2)"], "summary": "Server is ready",
                                 "responses": {"200": {"description": "Ready"},
                                               "503": {"description": "Not ready yet"}}}},
    "/v2/models/{model_name}": _get("Model metadata", [_NAME], "V2ModelMetadata"),
    "/v2/models/{model_name}/ready": _get("Model is ready", [_NAME], None),
    "/v2/models/{model_name}/infer": _infer([_NAME]),
    "/v2/models/{model_name}/versions/{model_version}": _get(
        "Model version metadata", [_NAME, _VERSION], "V2ModelMetadata"),
    "/v2/models/{model_name}/versions/{model_version}/ready": _get(
        "Model version is ready", [_NAME, _VERSION], None),
    "/v2/models/{model_name}/versions/{model_version}/infer": _infer([_NAME, _VERSION]),
    "/metrics": {"get": {"tags": ["metrics"], "summary": "Prometheus exposition",
                         "responses": {"200": {"description": "Metrics, text format",
                                               "content": {"text/plain": {}}}}}},
}


def extend(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the V2 paths and schemas to an OpenAPI document (in place) and return it."""
    schema.setdefault("paths", {}).update(PATHS)
    schema.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    schema["components"].setdefault("securitySchemes", {})["bearer"] = {
        "type": "http", "scheme": "bearer",
        "description": "A token from `steady token create`; needed by state-changing calls"}
    return schema
