"""The deployments service: deploy, canary / shadow / blue-green, promote, roll back.

Every change is one transaction that appends a revision, moves the deployment to it and
writes an audit entry with the arms before and after. Serving workers poll `heads()` and
switch to a new revision once its models are loaded and warm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from steadyml.core.clock import Clock, SystemClock
from steadyml.core.errors import ConflictError, InvalidInputError
from steadyml.core.ids import check_name
from steadyml.deployments import revisions as rv
from steadyml.deployments.revisions import Arm, DeploymentConfig, Mode, Reason, Revision
from steadyml.store import audit
from steadyml.store.engine import MetadataStore

# Resolves a model reference (`churn:3`, `churn@champion`) to the arm it names; the layer
# above passes the registry's resolver in.
ModelResolver = Callable[[str], Arm]
# Raises if the model may not be deployed on the deployment (e.g. a gate its policy requires
# has not passed); the layer above passes it in.
Admission = Callable[[str, Arm], None]

MAX_REVISION = 2**31 - 1


class Deployments:
    """Named endpoints and their revisions."""

    def __init__(self, store: MetadataStore, resolve: ModelResolver, *, actor: str,
                 clock: Clock | None = None, admit: Admission | None = None) -> None:
        self.store = store
        self.resolve = resolve
        self.admit = admit
        self.actor = actor
        self.clock = clock or SystemClock()

    def deploy(self, name: str, model_ref: str, *, canary: float | None = None,
               shadow: bool = False, blue_green: bool = False,
               config: DeploymentConfig | None = None, note: str = "",
               force: bool = False) -> Revision:
        """Serve `model_ref` on `name`: as the stable arm, or as a candidate beside it.

        `force` skips the admission check (required gates); the audit entry says so.
        """
        check_name(name, "deployment")
        modes = [m for m, on in ((Mode.CANARY, canary is not None), (Mode.SHADOW, shadow),
                                 (Mode.BLUE_GREEN, blue_green)) if on]
        if len(modes) > 1:
            raise InvalidInputError("Choose one of --canary, --shadow and --blue-green.")
        if canary is not None and not 0 < canary <= 100:
            raise InvalidInputError(f"--canary takes a percentage in (0, 100], got {canary}.")
        arm = self.resolve(model_ref)
        evidence = None
        if self.admit is not None:
            if force:
                evidence = {"forced": "deployed with --force: admission checks skipped"}
            else:
                self.admit(name, arm)
        now = self.clock.now_ms()
        with self.store.write() as conn:
            before = rv.current(conn, name, lock=True)
            if before is None:
                if modes:
                    raise ConflictError(
                        f"Deployment {name!r} has no stable model yet, so {modes[0]} has "
                        f"nothing to run beside. Deploy without a mode first: "
                        f"`steady deploy {name} {model_ref}`.")
                rv.create(conn, name, config or DeploymentConfig(), now)
            elif config is not None:
                rv.set_config(conn, name, config, now)
            if not modes:
                fields: dict[str, Any] = {"reason": Reason.DEPLOY, "stable": arm,
                                          "candidate": None, "mode": None, "weight": 0.0}
            else:
                assert before is not None
                if arm == before.stable:
                    raise ConflictError(f"{arm.ref} is already the stable model of {name!r}; "
                                        "a candidate must be another version.")
                fields = {"reason": Reason.CANDIDATE, "stable": before.stable,
                          "candidate": arm, "mode": modes[0],
                          "weight": float(canary) if canary is not None else 0.0}
            return self._append(conn, name, before, note=note, now=now, evidence=evidence,
                                **fields)

    def set_weight(self, name: str, weight: float, *, note: str = "",
                   if_revision: int | None = None,
                   evidence: dict[str, Any] | None = None) -> Revision:
        """Give the canary `weight` % of traffic (the controller's progressive promotion)."""
        if not 0 < weight <= 100:
            raise InvalidInputError(f"A canary weight is a percentage in (0, 100], got {weight}.")
        now = self.clock.now_ms()
        with self.store.write() as conn:
            before = self._require(conn, name)
            _check_revision(before, if_revision)
            if before.candidate is None or before.mode is not Mode.CANARY:
                raise ConflictError(f"Deployment {name!r} has no canary to re-weight.")
            return self._append(conn, name, before, reason=Reason.WEIGHT, stable=before.stable,
                                candidate=before.candidate, mode=Mode.CANARY,
                                weight=float(weight), note=note, now=now, evidence=evidence)

    def promote(self, name: str, *, note: str = "", if_revision: int | None = None,
                evidence: dict[str, Any] | None = None) -> Revision:
        """Make the candidate the stable arm (a blue-green switch, or a canary at 100 %)."""
        now = self.clock.now_ms()
        with self.store.write() as conn:
            before = self._require(conn, name)
            _check_revision(before, if_revision)
            if before.candidate is None:
                raise ConflictError(f"Deployment {name!r} has no candidate to promote; deploy "
                                    f"one with `steady deploy {name} MODEL --canary 10`.")
            return self._append(conn, name, before, reason=Reason.PROMOTE,
                                stable=before.candidate, candidate=None, mode=None, weight=0.0,
                                note=note, now=now, evidence=evidence)

    def rollback(self, name: str, *, to: int | None = None, note: str = "",
                 reason: Reason = Reason.ROLLBACK, if_revision: int | None = None,
                 evidence: dict[str, Any] | None = None) -> Revision:
        """Undo: drop the candidate if there is one, else return to the previous stable model.

        With `to`, restore exactly the arms of that revision. With `if_revision`, act only if
        that revision is still the current one (an automatic action must not undo a newer
        change); otherwise raise ConflictError.
        """
        if to is not None and not 1 <= to <= MAX_REVISION:
            raise InvalidInputError(f"Revision {to} does not exist: revisions are numbered "
                                    f"from 1. See `steady deployments history {name}`.")
        now = self.clock.now_ms()
        with self.store.write() as conn:
            before = self._require(conn, name)
            _check_revision(before, if_revision)
            if to is not None:
                target = rv.get(conn, name, to)
            elif before.candidate is not None:
                target = replace(before, candidate=None, mode=None, weight=0.0)
            else:
                target = self._previous_stable(conn, before)
            return self._append(conn, name, before, reason=reason, stable=target.stable,
                                candidate=target.candidate, mode=target.mode,
                                weight=target.weight,
                                note=note or (f"to revision {to}" if to else ""), now=now,
                                evidence=evidence)

    def current(self, name: str) -> Revision:
        with self.store.read() as conn:
            return self._require(conn, name)

    def history(self, name: str) -> list[Revision]:
        with self.store.read() as conn:
            self._require(conn, name)
            return rv.history(conn, name)

    def list(self) -> list[Revision]:
        with self.store.read() as conn:
            return [r for n in rv.names(conn) if (r := rv.current(conn, n)) is not None]

    def heads(self) -> dict[str, int]:
        with self.store.read() as conn:
            return rv.heads(conn)

    def serving(self, model: str, version: int) -> list[tuple[str, str, int, int]]:
        with self.store.read() as conn:
            return rv.serving(conn, model, version)

    def _require(self, conn: Any, name: str) -> Revision:
        found = rv.current(conn, name)
        if found is None:
            raise rv.DeploymentNotFoundError(name)
        return found

    def _previous_stable(self, conn: Any, before: Revision) -> Revision:
        for earlier in rv.history(conn, before.deployment):
            if earlier.stable != before.stable and earlier.revision < before.revision:
                return replace(earlier, candidate=None, mode=None, weight=0.0)
        raise ConflictError(f"Deployment {before.deployment!r} has served only "
                            f"{before.stable.ref}; there is nothing to roll back to.")

    def _append(self, conn: Any, name: str, before: Revision | None, *, reason: Reason,
                stable: Arm, candidate: Arm | None, mode: Mode | None, weight: float,
                note: str, now: int, evidence: dict[str, Any] | None = None) -> Revision:
        number = rv.append(conn, name, reason=reason, stable=stable, candidate=candidate,
                           mode=mode, weight=weight, note=note, actor=self.actor, now_ms=now)
        after = rv.get(conn, name, number)
        audit.append(conn, self.clock, actor=self.actor, action=f"deployment.{reason.value}",
                     subject=f"deployment:{name}",
                     before=None if before is None else _arms(before), after=_arms(after),
                     evidence={**({"note": note} if note else {}), **(evidence or {})} or None)
        return after


def _check_revision(current: Revision, expected: int | None) -> None:
    """Refuse an automatic action when the deployment moved on since it was judged."""
    if expected is not None and current.revision != expected:
        raise ConflictError(f"Deployment {current.deployment!r} is at revision "
                            f"{current.revision}, not {expected}; nothing was changed.")


def _arms(revision: Revision) -> dict[str, Any]:
    return {"revision": revision.revision, "stable": revision.stable.ref,
            "candidate": revision.candidate.ref if revision.candidate else None,
            "mode": revision.mode.value if revision.mode else None, "weight": revision.weight}
