"""The admin API under /api/v1: everything the CLI does, described by OpenAPI at /docs.

Reads are open on the (loopback by default) admin port; state-changing calls need a bearer
token (`steady token create`). A wrong or missing token gets 401 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from steadyml.access import Token, Tokens
from steadyml.core.errors import SteadyError
from steadyml.monitoring import Alerts, Outcomes, Policies
from steadyml.serving import openapi as openapi_v2
from steadyml.serving.admin_monitoring import Inspections, add_monitoring_routes
from steadyml.serving.errors import status_for


class PlatformLike(Protocol):
    """What the admin API needs of the platform (passed in from above)."""

    tokens: Tokens
    deployments: Any
    registry: Any
    tracking: Any
    outcomes: Outcomes
    alerts: Alerts
    policies: Policies

    def lineage(self, ref: str) -> dict[str, Any]: ...
    def audit_entries(self, *, subject: str | None = None, action: str | None = None,
                      limit: int | None = 100) -> list[Any]: ...
    def verify_audit(self) -> Any: ...


class DeployBody(BaseModel):
    model: str = Field(description="NAME:VERSION or NAME@ALIAS", examples=["churn:3"])
    canary: float | None = Field(None, gt=0, le=100, description="Candidate traffic %")
    shadow: bool = False
    blue_green: bool = False
    force: bool = Field(False, description="Deploy without the gates the policy requires "
                                           "(audited)")
    note: str = ""


class RollbackBody(BaseModel):
    to: int | None = Field(None, ge=1, le=2**31 - 1, description="Restore exactly this revision")
    note: str = ""


class NoteBody(BaseModel):
    note: str = ""


def create_admin(platform: PlatformLike, *, live: Any = None,
                 serving: Callable[[str], int | None] | None = None,
                 inspections: Inspections | None = None) -> FastAPI:
    """Build the admin app.

    `live(deployment, price)` gives a deployment's live figures; `serving(deployment)` the
    revision this process has loaded and switched to (it follows the store within a poll);
    `inspections` answers drift, online metrics and timeline questions (503 without it).
    """
    api = FastAPI(title="steadyml admin API", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json",
                  description="Deployments, models, runs, lineage, the audit log, and "
                              "monitoring: outcomes, alerts, policies, drift, the controller's "
                              "timeline. State-changing calls need `Authorization: Bearer "
                              "<token>`.")
    _mount_docs(api)

    def openapi() -> dict[str, Any]:
        if api.openapi_schema is None:
            api.openapi_schema = openapi_v2.extend(get_openapi(
                title=api.title, version=api.version, description=api.description,
                routes=api.routes))
        return api.openapi_schema

    api.openapi = openapi  # type: ignore[method-assign]

    @api.exception_handler(SteadyError)
    async def _steady_error(_request: Request, exc: SteadyError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=status_for(exc))

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @api.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                             for e in exc.errors())
        return JSONResponse({"error": f"Invalid request: {problems}."}, status_code=422)

    def require_token(authorization: str | None = Header(None)) -> Token:
        scheme, _, presented = (authorization or "").partition(" ")
        token = platform.tokens.verify(presented.strip()) if scheme.lower() == "bearer" \
            else None
        if token is None:
            raise HTTPException(401, "A valid bearer token is required: create one with "
                                     "`steady token create` and send `Authorization: Bearer "
                                     "<token>`.", headers={"WWW-Authenticate": "Bearer"})
        return token

    def status_of(name: str) -> dict[str, Any]:
        revision = platform.deployments.current(name)
        out = revision.to_dict()
        if live is not None:
            out["live"] = live(name, revision.config.price_per_core_hour)
        if serving is not None:
            out["serving_revision"] = serving(name)
        return out

    @api.get("/api/v1/deployments", tags=["deployments"])
    def list_deployments() -> list[dict[str, Any]]:
        """Every deployment with the revision it serves now."""
        return [status_of(r.deployment) for r in platform.deployments.list()]

    @api.get("/api/v1/deployments/{name}", tags=["deployments"])
    def deployment_status(name: str) -> dict[str, Any]:
        """Revision, arms, traffic shares and live figures of one deployment."""
        return status_of(name)

    @api.get("/api/v1/deployments/{name}/history", tags=["deployments"])
    def deployment_history(name: str) -> list[dict[str, Any]]:
        return [r.to_dict() for r in platform.deployments.history(name)]

    @api.post("/api/v1/deployments/{name}/deploy", tags=["deployments"])
    def deploy(name: str, body: DeployBody, _token: Token = Depends(require_token)
               ) -> dict[str, Any]:
        """Serve a model on a deployment: stable, or a canary / shadow / blue-green candidate."""
        return platform.deployments.deploy(name, body.model, canary=body.canary,
                                           shadow=body.shadow, blue_green=body.blue_green,
                                           note=body.note, force=body.force).to_dict()

    @api.post("/api/v1/deployments/{name}/promote", tags=["deployments"])
    def promote(name: str, body: NoteBody | None = None,
                _token: Token = Depends(require_token)) -> dict[str, Any]:
        """Make the candidate the stable model."""
        return platform.deployments.promote(name, note=body.note if body else "").to_dict()

    @api.post("/api/v1/deployments/{name}/rollback", tags=["deployments"])
    def rollback(name: str, body: RollbackBody | None = None,
                 _token: Token = Depends(require_token)) -> dict[str, Any]:
        """Undo the last change (drop the candidate, or return to the previous model)."""
        body = body or RollbackBody()
        return platform.deployments.rollback(name, to=body.to, note=body.note).to_dict()

    @api.get("/api/v1/models", tags=["models"])
    def list_models() -> list[dict[str, Any]]:
        return platform.registry.list_models()

    @api.get("/api/v1/models/{ref}", tags=["models"])
    def show_model(ref: str) -> dict[str, Any]:
        """One model version, by NAME:VERSION, NAME@ALIAS or NAME (latest)."""
        return platform.registry.get(ref).to_dict()

    @api.get("/api/v1/lineage/{ref}", tags=["lineage"])
    def lineage(ref: str) -> dict[str, Any]:
        """Data, code, params and environment behind a model or what a deployment serves."""
        return platform.lineage(ref)

    @api.get("/api/v1/runs", tags=["runs"])
    def runs(experiment: str | None = None, filter: str | None = None,
             order_by: str | None = None,
             limit: int = Query(100, ge=1, le=10_000)) -> list[dict[str, Any]]:
        found = platform.tracking.search_runs(experiment=experiment, filter=filter,
                                              order_by=[order_by] if order_by else None,
                                              limit=limit)
        return [r.to_dict() for r in found]

    @api.get("/api/v1/audit", tags=["audit"])
    def audit(subject: str | None = None, action: str | None = None,
              limit: int = Query(100, ge=1, le=10_000), verify: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"entries": [e.to_dict() for e in platform.audit_entries(
            subject=subject, action=action, limit=limit)]}
        if verify:
            report = platform.verify_audit()
            out["verify"] = {"ok": report.ok, "entries": report.entries,
                             "head_hash": report.head_hash, "problems": report.problems}
        return out

    add_monitoring_routes(api, platform, require_token, inspections)
    return api


def _mount_docs(api: FastAPI) -> None:
    """Serve Swagger UI from the installed swagger-ui-bundle: no CDN, works offline."""
    from fastapi.staticfiles import StaticFiles
    from swagger_ui_bundle import swagger_ui_path

    api.mount("/docs-assets", StaticFiles(directory=swagger_ui_path), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="steadyml admin API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")
