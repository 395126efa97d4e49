"""Release steps: register the model that passed its gates, then hand it to a deployment.

`register_step` registers the trained model as the next version of a model, produced by the
pipeline's run: its training data logged as a dataset of the run (lineage), the run's metrics,
and every gate result it passed recorded on the version. It sets an alias (`challenger`).
`deploy_step` starts that version on a deployment as a canary (or shadow) beside the stable
model, where the controller takes over: stepping it up and promoting it, or rolling it back. A
deployment whose policy requires gates admits the version only if its gates passed.

Both change the store, so they always run (never from the cache) and run in the driver process,
bound to the pipeline run, whatever the executor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from steadyml.core.errors import InvalidInputError
from steadyml.pipelines.contexts import running_run_id
from steadyml.pipelines.gates import GateStep, require_platform

EXAMPLE_ROWS = 5


class ReleaseStep(GateStep):
    """A built-in step that changes the registry or a deployment."""

    runs_in_driver = True


def register_step(name: str, *, model: str = "model", gates: Sequence[str] = ("model_gate",),
                  training: str | None = None, example: str | None = None,
                  target: str | None = None, alias: str | None = "challenger",
                  step_name: str = "register", output: str = "model_version") -> ReleaseStep:
    """Make a step registering input `model` as the next version of model `name`.

    `gates` names the inputs holding gate results (what `data_gate`/`model_gate` output); each
    must have passed and is recorded on the version. `training` names an input DataFrame logged
    as the version's training dataset (the default drift reference); `example` an input whose
    first rows (without the `target` column) give the signature. Outputs a mapping with `ref`.
    """
    if not name:
        raise InvalidInputError("register_step needs the model name to register under.")
    inputs = [model, *gates, *(i for i in (training, example) if i is not None)]
    config = {"name": name, "model": model, "gates": list(gates), "training": training,
              "example": example, "target": target, "alias": alias}

    def run_register(**values: Any) -> dict[str, Any]:
        platform = require_platform(step_name, f"registers model {name!r}")
        run_id = running_run_id()
        results = [_passed_gate(values[g], g) for g in gates]
        datasets = []
        if training is not None:
            logged = platform.tracking.log_dataset(run_id, values[training],
                                                   name=f"{name}-training", context="training")
            datasets.append((logged.id, "training"))
        sample = None
        if example is not None:
            frame = values[example]
            if target is not None and hasattr(frame, "drop"):
                frame = frame.drop(columns=[target])
            sample = frame.head(EXAMPLE_ROWS) if hasattr(frame, "head") else frame
        metrics = platform.tracking.get_run(run_id).metrics if run_id else {}
        version = platform.registry.register(
            name, values[model], input_example=sample, run_id=run_id, datasets=datasets,
            metrics=metrics, tags={"steady.pipeline_run": run_id or ""})
        for result in results:
            platform.registry.record_gate(version.ref, result, run_id=run_id)
        if alias:
            platform.registry.set_alias(version.ref, alias)
        print(f"registered {version.ref}" + (f" as {name}@{alias}" if alias else "")
              + f" with gates {', '.join(r['gate'] for r in results) or 'none'}")
        return {"ref": version.ref, "name": version.name, "version": version.version,
                "artifact_digest": version.artifact_digest,
                "gates": [r["gate"] for r in results]}

    return ReleaseStep(run_register, name=step_name, inputs=inputs, outputs=[output],
                       config=config)


def deploy_step(deployment: str, *, version: str = "model_version", canary: float | None = 10.0,
                shadow: bool = False, step_name: str = "deploy",
                output: str = "release") -> ReleaseStep:
    """Make a step starting the registered `version` on `deployment` beside its stable model.

    As a canary with `canary` % of the traffic (the controller's policy steps it up), or on
    mirrored traffic with `shadow`. A deployment that does not exist yet gets it as its stable
    model. Outputs the new revision.
    """
    if shadow and canary is not None:
        canary = None
    if not shadow and (canary is None or not 0 < canary <= 100):
        raise InvalidInputError(f"deploy_step needs canary in (0, 100] or shadow=True, got "
                                f"canary={canary!r}.")
    config = {"deployment": deployment, "version": version, "canary": canary, "shadow": shadow}

    def run_deploy(**values: Any) -> dict[str, Any]:
        platform = require_platform(step_name, f"deploys to {deployment!r}")
        ref = _ref_of(values[version], version)
        exists = any(r.deployment == deployment for r in platform.deployments.list())
        note = f"pipeline run {running_run_id()}"
        if not exists:
            revision = platform.deployments.deploy(deployment, ref, note=note)
        else:
            revision = platform.deployments.deploy(deployment, ref, canary=canary,
                                                   shadow=shadow, note=note)
        print(f"{deployment} revision {revision.revision}: "
              + (f"{ref} as {revision.mode.value} beside {revision.stable.ref}"
                 if revision.mode else f"{ref} is the stable model"))
        return revision.to_dict()

    return ReleaseStep(run_deploy, name=step_name, inputs=[version], outputs=[output],
                       config=config)


def _passed_gate(result: Any, name: str) -> dict[str, Any]:
    data = result.to_dict() if hasattr(result, "to_dict") else result
    if not isinstance(data, Mapping) or "gate" not in data or "passed" not in data:
        raise InvalidInputError(f"Input {name!r} is not a gate result; name the outputs of "
                                "data_gate / model_gate steps in register_step(gates=...).")
    if data["passed"] is not True:
        raise InvalidInputError(f"Gate {data['gate']!r} did not pass; refusing to register.")
    return dict(data)


def _ref_of(value: Any, name: str) -> str:
    if isinstance(value, Mapping) and isinstance(value.get("ref"), str):
        return value["ref"]
    if isinstance(value, str):
        return value
    raise InvalidInputError(f"Input {name!r} is not a registered model version; pass the "
                            "output of register_step (or a NAME:VERSION string).")
