"""The platform: one metadata store, one artifact store, and the services built on them."""

from __future__ import annotations

import getpass
import socket
from functools import cached_property
from typing import TYPE_CHECKING, Any

from steadyml.access import Tokens
from steadyml.core.clock import Clock, SystemClock
from steadyml.core.settings import Settings
from steadyml.deployments import Arm, DeploymentNotFoundError, Deployments
from steadyml.registry import ModelRef, Registry, check_gates, model_lineage
from steadyml.registry.lineage import iso
from steadyml.store import audit
from steadyml.store.artifacts import ArtifactStore
from steadyml.store.audit import AuditEntry, ChainReport
from steadyml.store.engine import MetadataStore
from steadyml.tracking import Tracker
from steadyml.tracking import datasets as ds
from steadyml.tracking import runs as rr

if TYPE_CHECKING:
    from steadyml.monitoring import Alerts, Outcomes, Policies


def current_actor(settings: Settings | None = None) -> str:
    """Return who is acting: STEADY_ACTOR, else user@host."""
    if settings is not None and settings.actor:
        return settings.actor
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class Platform:
    """Everything steadyml knows, opened from one Settings value."""

    def __init__(self, settings: Settings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.actor = current_actor(settings)
        if settings.is_embedded:
            settings.home.mkdir(parents=True, exist_ok=True)
        self.store = MetadataStore(settings.resolved_db_url)
        self.artifacts = ArtifactStore(settings.resolved_artifacts)
        self.tracking = Tracker(self.store, self.artifacts, actor=self.actor, clock=self.clock)
        self.registry = Registry(self.store, self.artifacts, actor=self.actor, clock=self.clock)
        self.deployments = Deployments(self.store, self._resolve_arm, actor=self.actor,
                                       clock=self.clock, admit=self._admit)
        self.tokens = Tokens(self.store, actor=self.actor, clock=self.clock)

    # Monitoring's services are made on first use: a command that never touches them (a
    # pipeline run, a deploy without a policy) does not import monitoring at start-up.
    @cached_property
    def outcomes(self) -> Outcomes:
        from steadyml.monitoring.outcomes import Outcomes

        return Outcomes(self.store, clock=self.clock)

    @cached_property
    def alerts(self) -> Alerts:
        from steadyml.monitoring.alerts import Alerts

        return Alerts(self.store, clock=self.clock)

    @cached_property
    def policies(self) -> Policies:
        from steadyml.monitoring.alerts import Policies

        return Policies(self.store, actor=self.actor, clock=self.clock)

    def lineage(self, ref: str) -> dict[str, Any]:
        """Return which data, code, params and environment produced the model `ref`.

        A bare name that is a deployment gives the lineage of every model it serves now.
        """
        if ":" not in ref and "@" not in ref:
            try:
                return self.deployment_lineage(ref)
            except DeploymentNotFoundError:
                pass
        version = self.registry.get(ref)
        serving = [{"deployment": d, "arm": arm, "revision": r, "since": iso(since)}
                   for d, arm, r, since in self.deployments.serving(version.name,
                                                                    version.version)]
        return model_lineage(version, artifact_uri=self.artifacts.uri_of(version.artifact_digest),
                             runs=_RunRecords(self.store), deployments=serving)

    def deployment_lineage(self, name: str) -> dict[str, Any]:
        """Return what deployment `name` serves right now, since when, and its lineage."""
        current = self.deployments.current(name)
        arms = [("stable", current.stable, 100.0 - (current.weight if current.candidate
                                                     and current.mode and
                                                     current.mode.value == "canary" else 0.0))]
        if current.candidate is not None:
            arms.append(("candidate", current.candidate, current.weight))
        return {
            "lineage_version": 1,
            "deployment": name, "revision": current.revision,
            "since": iso(current.created_ms), "changed_by": current.actor,
            "reason": current.reason.value,
            "mode": current.mode.value if current.mode else None,
            "arms": [{"arm": arm, "model": model.ref, "traffic_percent": share,
                      "lineage": self.lineage(model.ref)} for arm, model, share in arms],
        }

    def _resolve_arm(self, ref: str) -> Arm:
        version = self.registry.get(ModelRef.parse(ref))
        return Arm(version.name, version.version)

    def _admit(self, deployment: str, arm: Arm) -> None:
        """Refuse a model that lacks a passing result of a gate the policy requires."""
        from steadyml.monitoring.alerts import PolicyNotFoundError

        try:
            policy = self.policies.get(deployment)
        except PolicyNotFoundError:
            return
        if policy.required_gates:
            check_gates(self.registry, arm.ref, policy.required_gates)

    def audit_entries(self, *, subject: str | None = None, action: str | None = None,
                      limit: int | None = 100) -> list[AuditEntry]:
        with self.store.read() as conn:
            return audit.entries(conn, subject=subject, action=action, limit=limit)

    def verify_audit(self) -> ChainReport:
        with self.store.read() as conn:
            return audit.verify(conn)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Platform:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def open_platform(settings: Settings | None = None, **overrides: Any) -> Platform:
    """Open the platform from settings (default: the environment), as a context manager."""
    return Platform(settings or Settings.from_env(**overrides))


class _RunRecords:
    """The RunRecords source lineage reads runs through."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store

    def run_record(self, run_id: str) -> dict[str, Any] | None:
        with self.store.read() as conn:
            try:
                run = rr.get_run(conn, run_id)
            except LookupError:
                return None
            inputs = ds.run_inputs(conn, run_id)
            env = rr.get_environment(conn, run.environment_hash) if run.environment_hash else None
        return {
            "run": {"id": run.id, "experiment": run.experiment, "name": run.name,
                    "status": str(run.status), "started_at": iso(run.start_ms),
                    "ended_at": iso(run.end_ms), "actor": run.actor, "source": run.source},
            "code": {"repo": run.code.repo, "commit": run.code.commit,
                     "branch": run.code.branch, "dirty": run.code.dirty,
                     "diff_hash": run.code.diff_hash},
            "params": run.params,
            "metrics": run.to_dict()["metrics"],
            "datasets": [{"context": context, "id": d.id, "name": d.name,
                          "fingerprint": d.fingerprint, "uri": d.uri, "rows": d.num_rows,
                          "columns": d.num_columns} for context, d in inputs],
            "environment": None if env is None else {
                "hash": env["hash"], "python_version": env["python_version"],
                "platform": env["platform"], "packages": env["packages"]},
        }
