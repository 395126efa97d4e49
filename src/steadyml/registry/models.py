"""The registry service: register model versions, move aliases, load verified models."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from steadyml.core.clock import Clock, SystemClock
from steadyml.core.errors import InvalidInputError
from steadyml.core.ids import check_key, check_name
from steadyml.registry import gates as gg
from steadyml.registry import versions as vv
from steadyml.registry.flavors import Flavor, SavedModel, input_kind, load_model, save_model
from steadyml.registry.loaded import LoadedModel
from steadyml.registry.refs import ModelRef
from steadyml.registry.signatures import Signature
from steadyml.store import audit
from steadyml.store.artifacts import ArtifactStore
from steadyml.store.engine import MetadataStore

SIGNATURE_SAMPLE_ROWS = 100


class Registry:
    """Registered models, their versions and aliases."""

    def __init__(self, store: MetadataStore, artifacts: ArtifactStore, *, actor: str,
                 clock: Clock | None = None) -> None:
        self.store = store
        self.artifacts = artifacts
        self.actor = actor
        self.clock = clock or SystemClock()

    def register(self, name: str, model: object, *, input_example: Any = None,
                 signature: Signature | None = None, flavor: Flavor | str | None = None,
                 run_id: str | None = None, datasets: Sequence[tuple[int, str]] = (),
                 metrics: Mapping[str, float] | None = None, description: str = "",
                 tags: Mapping[str, object] | None = None) -> vv.ModelVersion:
        """Save `model` as the next version of `name`; all of it is recorded, or none of it.

        The signature is inferred from `input_example` (and the model's predictions on it)
        unless given; a given signature is checked against the example.
        """
        check_name(name, "model")
        tag_values = {check_key(k, "tag"): str(v) for k, v in (tags or {}).items()}
        saved = save_model(model, Flavor(flavor) if flavor else None)
        signature = _signature_for(model, saved, signature, input_example)
        digest = self.artifacts.put_bytes(saved.payload)
        now = self.clock.now_ms()
        with self.store.write() as conn:
            version = vv.next_version(conn, name, now, description)
            vv.insert_version(conn, name=name, version=version, flavor=saved.flavor.value,
                              flavor_meta=saved.meta, signature=signature.to_dict(),
                              digest=digest, size=len(saved.payload), run_id=run_id,
                              description=description, metrics=dict(metrics or {}),
                              tags=tag_values, actor=self.actor, now_ms=now,
                              dataset_links=list(datasets))
            audit.append(conn, self.clock, actor=self.actor, action="model.registered",
                         subject=f"model:{name}",
                         after={"version": version, "flavor": saved.flavor.value,
                                "artifact": digest, "run_id": run_id,
                                "datasets": [d for d, _ in datasets]})
            return vv.get_version(conn, ModelRef(name, version=version))

    def get(self, ref: str | ModelRef) -> vv.ModelVersion:
        with self.store.read() as conn:
            return vv.get_version(conn, _ref(ref))

    def versions(self, name: str) -> list[vv.ModelVersion]:
        with self.store.read() as conn:
            return vv.list_versions(conn, check_name(name, "model"))

    def list_models(self) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            return vv.list_models(conn)

    def set_alias(self, ref: str | ModelRef, alias: str) -> vv.ModelVersion:
        """Point `alias` at the version `ref` names; audited with the version it left."""
        check_name(alias, "alias")
        if alias.isdigit():
            raise InvalidInputError(f"Alias {alias!r} would read as a version number; "
                                    "use a name such as 'champion'.")
        now = self.clock.now_ms()
        with self.store.write() as conn:
            target = vv.get_version(conn, _ref(ref))
            previous = vv.set_alias(conn, target.name, alias, target.version, now)
            audit.append(conn, self.clock, actor=self.actor, action="alias.moved",
                         subject=f"model:{target.name}",
                         before={"alias": alias, "version": previous},
                         after={"alias": alias, "version": target.version})
            return vv.get_version(conn, ModelRef(target.name, version=target.version))

    def delete_alias(self, name: str, alias: str) -> None:
        with self.store.write() as conn:
            previous = vv.delete_alias(conn, check_name(name, "model"), alias)
            audit.append(conn, self.clock, actor=self.actor, action="alias.deleted",
                         subject=f"model:{name}", before={"alias": alias, "version": previous},
                         after=None)

    def record_gate(self, ref: str | ModelRef,
                    result: Mapping[str, Any] | gg.SupportsGateResult, *,
                    run_id: str | None = None) -> gg.GateRecord:
        """Record a gate result (its `gate` name, `passed` flag and numbers) on a version.

        Audited as `gate.recorded`. The newest result of a gate is the one that counts.
        """
        gate, passed, data = gg.as_result(result)
        now = self.clock.now_ms()
        with self.store.write() as conn:
            target = vv.get_version(conn, _ref(ref))
            gg.insert_gate(conn, version_id=gg.version_id(conn, target.name, target.version),
                           gate=gate, passed=passed, result=data, run_id=run_id,
                           actor=self.actor, now_ms=now)
            audit.append(conn, self.clock, actor=self.actor, action="gate.recorded",
                         subject=f"model:{target.name}",
                         after={"version": target.version, "gate": gate, "passed": passed,
                                "run_id": run_id},
                         evidence=data)
        return gg.GateRecord(ref=target.ref, gate=gate, passed=passed, result=data,
                             run_id=run_id, actor=self.actor, created_ms=now)

    def gates(self, ref: str | ModelRef, *, gate: str | None = None) -> list[gg.GateRecord]:
        """Return the gate results recorded on a version, oldest first."""
        with self.store.read() as conn:
            target = vv.get_version(conn, _ref(ref))
            return gg.list_gates(conn, target.name, target.version, gate=gate)

    def load(self, ref: str | ModelRef) -> LoadedModel:
        """Load a model version; its artifact is verified against its digest first."""
        version = self.get(ref)
        payload = self.artifacts.get_bytes(version.artifact_digest)
        saved = SavedModel(flavor=Flavor(version.flavor), payload=payload,
                           meta=version.flavor_meta)
        return LoadedModel(version=version, predictor=load_model(saved),
                           signature=Signature.from_dict(version.signature))


def _ref(ref: str | ModelRef) -> ModelRef:
    return ref if isinstance(ref, ModelRef) else ModelRef.parse(ref)


def _signature_for(model: object, saved: SavedModel, signature: Signature | None,
                   example: Any) -> Signature:
    if example is None:
        if signature is None:
            raise InvalidInputError(
                "Give an input_example (a few rows of training data) or a signature when "
                "registering a model: serving and drift checks need its input schema.")
        return signature
    sample = _head(example, SIGNATURE_SAMPLE_ROWS)
    if signature is not None:
        signature.to_frame(sample)  # raises SignatureMismatchError naming each problem
        return signature
    inputs_only = Signature.infer(sample)
    predictor = load_model(saved)
    outputs = predictor.predict(LoadedModel.prepare(inputs_only, input_kind(saved.meta), sample))
    return Signature.infer(sample, outputs)


def _head(data: Any, n: int) -> Any:
    if hasattr(data, "slice") and hasattr(data, "num_rows"):  # pyarrow Table
        return data.slice(0, n)
    if hasattr(data, "iloc"):
        return data.iloc[:n]
    if isinstance(data, dict):
        return {k: v[:n] for k, v in data.items()}
    return data[:n]
