"""The admin API's monitoring routes: outcomes, alerts, policies, drift and the timeline.

Drift, online metrics and the controller's timeline come from an `Inspections` object passed
in from above (the controller is a sibling of serving); a server built without one does not
have those routes (`steady server` passes one). Policies are validated as `steady policy apply` validates a file; a bad one gets 422
with every problem listed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal, Protocol

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from steadyml.access import Token
from steadyml.monitoring import Alerts, Outcomes, Policies, PolicyError, policy_from_dict
from steadyml.monitoring.outcomes import MAX_BATCH
from steadyml.monitoring.policies import DriftReference, OnlineMetric, parse_duration


class Inspections(Protocol):
    """On-demand monitoring answers (built from the controller's parts, above serving)."""

    def drift_document(self, deployment: str, *, window_s: float | None = None,
                       reference: str | None = None) -> dict[str, Any]: ...
    def timeline(self, deployment: str, *, limit: int = 500) -> list[dict[str, Any]]: ...
    def online(self, deployment: str, *, window_s: float | None = None,
               metric: str | None = None) -> dict[str, Any]: ...
    def skew(self, deployment: str, *, keys: list[str], offline: str | None = None,
             window_s: float | None = None, atol: float = 1e-6, rtol: float = 1e-6,
             max_mismatch_rate: float = 0.01) -> dict[str, Any]: ...


class MonitoringState(Protocol):
    outcomes: Outcomes
    alerts: Alerts
    policies: Policies


_OUTCOME = {
    "type": "object", "required": ["request_id", "value"], "additionalProperties": False,
    "properties": {
        "request_id": {"type": "string", "minLength": 1, "maxLength": 128,
                       "description": "The request id the prediction's response carried."},
        "value": {"anyOf": [{"type": "number"}, {"type": "boolean"},
                            {"type": "string", "minLength": 1, "maxLength": 256}],
                  "description": "The observed outcome: a label, a number or a boolean."}}}
_OUTCOMES_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"anyOf": [
        {"type": "object", "required": ["outcomes"], "additionalProperties": False,
         "properties": {"outcomes": {"type": "array", "maxItems": MAX_BATCH, "items": _OUTCOME}}},
        _OUTCOME]},
    "examples": {
        "batch": {"summary": "Several outcomes", "value": {"outcomes": [
            {"request_id": "3f2a9c", "value": 1}, {"request_id": "77be01", "value": 0}]}},
        "single": {"summary": "One outcome", "value": {"request_id": "3f2a9c",
                                                        "value": "fraud"}}}}}}}
_POLICY_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {"type": "object", "description": "The policy, as `steady policy show --json` "
               "prints it; durations in seconds or as text (30s, 5m, 1h, 7d). `deployment` "
               "may be left out; when given it must match the path."},
    "examples": {"drift": {"summary": "Drift and an error-rate SLO", "value": {
        "deployment": "fraud", "window": "5m", "slo": {"error_rate": 0.01},
        "drift": {"window": "1h", "reference": "training", "persistence": 3}}}}}}}}


def add_monitoring_routes(api: FastAPI, platform: MonitoringState,
                          require_token: Callable[..., Token],
                          inspections: Inspections | None = None) -> None:
    """Add the monitoring routes to the admin app."""

    @api.exception_handler(PolicyError)
    async def _policy_error(_request: Request, exc: PolicyError) -> JSONResponse:
        return JSONResponse({"error": str(exc), "problems": [
            {"key": key, "message": message} for _line, key, message in exc.problems]},
            status_code=422)

    @api.post("/api/v1/outcomes", tags=["outcomes"], openapi_extra=_OUTCOMES_BODY)
    def post_outcomes(body: Any = Body(...),
                      token: Token = Depends(require_token)) -> dict[str, int]:
        """Store delayed outcomes (ground truth) by request id, at most 100,000 per call.

        One bad outcome rejects the whole call, naming it; a later value for the same request
        id replaces the earlier one.
        """
        records = _outcome_records(body)
        if len(records) > MAX_BATCH:
            raise HTTPException(413, f"At most {MAX_BATCH} outcomes per call, got "
                                     f"{len(records)}; send them in several calls.")
        try:
            result = platform.outcomes.ingest(records, source=f"api:{token.name}")
        except OverflowError:  # an integer too large for a float
            raise HTTPException(400, "An outcome value is too large to store as a number; "
                                     "values must fit a 64-bit float.") from None
        return {"accepted": result.accepted}

    @api.get("/api/v1/alerts", tags=["alerts"])
    def list_alerts(deployment: str | None = None,
                    status: Literal["open", "resolved"] | None = None,
                    limit: int = Query(200, ge=1, le=10_000)) -> list[dict[str, Any]]:
        """Alerts, newest activity first; filter by deployment and status."""
        return [a.to_dict() for a in platform.alerts.list(deployment=deployment, status=status,
                                                           limit=limit)]

    @api.get("/api/v1/policies", tags=["policies"])
    def list_policies() -> list[dict[str, Any]]:
        """Every applied policy."""
        return [p.to_dict() for _, p in sorted(platform.policies.all().items())]

    @api.get("/api/v1/policies/{deployment}", tags=["policies"])
    def get_policy(deployment: str) -> dict[str, Any]:
        """The policy applied to a deployment (durations in seconds)."""
        return platform.policies.get(deployment).to_dict()

    @api.put("/api/v1/policies/{deployment}", tags=["policies"], openapi_extra=_POLICY_BODY)
    def put_policy(deployment: str, body: Any = Body(...),
                   _token: Token = Depends(require_token)) -> dict[str, Any]:
        """Check a policy and apply it, replacing the one before (audited)."""
        source = f"PUT /api/v1/policies/{deployment}"
        if not isinstance(body, dict):
            raise PolicyError([(None, "", "the body must be a JSON object holding the policy")],
                              source=source)
        named = body.setdefault("deployment", deployment)
        if named != deployment:
            raise PolicyError([(None, "deployment", f"the body names {named!r} but the path "
                                f"names {deployment!r}; they must match")], source=source)
        policy = policy_from_dict(body, source=source)
        platform.policies.apply(policy, source=json.dumps(body, sort_keys=True))
        return policy.to_dict()

    @api.delete("/api/v1/policies/{deployment}", tags=["policies"])
    def delete_policy(deployment: str,
                      _token: Token = Depends(require_token)) -> dict[str, Any]:
        """Remove a deployment's policy: the controller stops judging it (audited)."""
        platform.policies.remove(deployment)
        return {"deployment": deployment, "removed": True}

    if inspections is not None:
        _add_inspection_routes(api, inspections)


def _add_inspection_routes(api: FastAPI, inspections: Inspections) -> None:
    """Add drift, online metrics and the timeline, which need the controller's parts."""

    @api.get("/api/v1/deployments/{name}/drift", tags=["monitoring"])
    def drift(name: str, window: str | None = Query(None, description="e.g. 30m, 1h, 1d; "
                                                    "default: the policy's drift window, "
                                                    "else 1h"),
              reference: DriftReference | None = None) -> dict[str, Any]:
        """Judge the stable arm's input and prediction drift over the last window, now."""
        return inspections.drift_document(name, window_s=_duration(window), reference=reference)

    @api.get("/api/v1/deployments/{name}/online-metrics", tags=["monitoring"])
    def online(name: str, window: str = Query("1d", description="e.g. 6h, 1d, 7d"),
               metric: OnlineMetric | None = None) -> dict[str, Any]:
        """Online metrics per arm from outcomes joined to the window's predictions."""
        return inspections.online(name, window_s=_duration(window), metric=metric)

    @api.get("/api/v1/deployments/{name}/skew", tags=["monitoring"])
    def skew(name: str,
             key: list[str] = Query(["request_id"], description="Column(s) identifying a row "
                                    "on both sides: request_id, row, ts or a logged input"),
             dataset: str | None = Query(None, description="Offline rows: a logged dataset's "
                                         "name (latest) or id; default: the stable model's "
                                         "training dataset"),
             window: str = Query("1h", description="e.g. 30m, 1h, 1d"),
             atol: float = Query(1e-6, ge=0), rtol: float = Query(1e-6, ge=0),
             max_mismatch_rate: float = Query(0.01, ge=0, le=1)) -> dict[str, Any]:
        """Training–serving skew: served values against a dataset's values for the same keys."""
        return inspections.skew(name, keys=key, window_s=_duration(window),
                                offline=None if dataset is None else f"dataset:{dataset}",
                                atol=atol, rtol=rtol, max_mismatch_rate=max_mismatch_rate)

    @api.get("/api/v1/deployments/{name}/timeline", tags=["monitoring"])
    def timeline(name: str, limit: int = Query(500, ge=1, le=100_000)) -> list[dict[str, Any]]:
        """What the controller saw and did on a deployment, oldest first."""
        return inspections.timeline(name, limit=limit)


def _outcome_records(body: Any) -> list[Any]:
    if isinstance(body, dict) and "outcomes" in body:
        extra = sorted(set(body) - {"outcomes"})
        if extra:
            raise HTTPException(422, f"Unknown key(s) {extra} beside 'outcomes'; send "
                                     '{"outcomes": [{"request_id": ..., "value": ...}, ...]}.')
        if not isinstance(body["outcomes"], list):
            raise HTTPException(422, "'outcomes' must be a list of {\"request_id\": ..., "
                                     "\"value\": ...} objects.")
        return body["outcomes"]
    if isinstance(body, dict) and "request_id" in body:
        return [body]
    raise HTTPException(422, 'The body must be {"outcomes": [{"request_id": ..., "value": '
                             '...}, ...]} or one {"request_id": ..., "value": ...}.')


def _duration(text: str | None) -> float | None:
    return None if text is None else parse_duration(text, key="window")
