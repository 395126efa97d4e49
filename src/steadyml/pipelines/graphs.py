"""Pipelines: named steps whose graph is derived from the names of their inputs and outputs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from steadyml.core.ids import check_name
from steadyml.pipelines.errors import PipelineDefinitionError, PipelineParamError
from steadyml.pipelines.params import ParamTypeError, check_value, convert_text, describe, to_json
from steadyml.pipelines.steps import Step

SEED_PARAM = "seed"  # always a param: the pipeline's seed, recorded with every run


class Pipeline:
    """Steps run in the order their inputs require, with params and one seed.

    A step's input is the output of the step that declares that name, else the pipeline param
    of that name, else the parameter's default. The graph is checked here: a cycle, two steps
    with one output name, or a param nothing takes is an error naming the pipeline and step.
    """

    def __init__(self, name: str, steps: Sequence[Step | Callable[..., Any]], *,
                 params: Mapping[str, Any] | None = None, seed: int = 0,
                 description: str = "", target: str | None = None) -> None:
        self.name = check_name(name, "pipeline")
        self.description = description
        # What a run works on (e.g. the deployment it retrains): at most one run per target.
        self.target = target or self.name
        self.steps: tuple[Step, ...] = tuple(s if isinstance(s, Step) else Step(s)
                                             for s in steps)
        if not self.steps:
            raise PipelineDefinitionError(f"Pipeline {name!r} has no steps; give it at least one.")
        self.producers = self._producers()
        self.order = self._topological_order()
        self.param_types = self._param_types()
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise PipelineParamError(f"Pipeline {name!r}: seed must be an int, got {seed!r}.")
        self.seed = seed
        self.params: dict[str, Any] = self._checked(params or {})

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise PipelineDefinitionError(f"Pipeline {self.name!r} has no step {name!r}; its steps "
                                      f"are {[s.name for s in self.steps]}.")

    def upstream(self, step: Step) -> list[Step]:
        """Return the steps whose outputs `step` takes, in run order."""
        names = {i.name for i in step.inputs}
        return [s for s in self.order if s is not step and names & set(s.outputs)]

    def resolve_params(self, values: Mapping[str, Any] | None = None, *,
                       texts: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Return the params of a run: the pipeline's, then `values`, then command-line `texts`.

        Strings from the command line are converted by the annotation of the step input they
        feed. Every input no step output, param or default satisfies is reported at once.
        """
        resolved = {SEED_PARAM: self.seed, **self.params, **self._checked(values or {})}
        for key, text in (texts or {}).items():
            self._require_known(key)
            step, annotation = self.param_types[key]
            try:
                resolved[key] = convert_text(text, annotation)
            except ParamTypeError as exc:
                raise PipelineParamError(
                    f"Pipeline {self.name!r}: --param {key}={text} is wrong for "
                    f"{_where(step, key)}: {exc}. Pass a value of type {describe(annotation)}.") from None
        self._check_inputs(resolved)
        seed = resolved[SEED_PARAM]
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise PipelineParamError(f"Pipeline {self.name!r}: the param seed must be an int, "
                                     f"got {seed!r}.")
        return resolved

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, steps={[s.name for s in self.order]})"

    # --- checks ---------------------------------------------------------------------------

    def _producers(self) -> dict[str, Step]:
        producers: dict[str, Step] = {}
        names: set[str] = set()
        for s in self.steps:
            if s.name in names:
                raise PipelineDefinitionError(
                    f"Pipeline {self.name!r} has two steps named {s.name!r}; step names must "
                    "be unique (pass name= to @step to rename one).")
            names.add(s.name)
            for output in s.outputs:
                if output in producers:
                    raise PipelineDefinitionError(
                        f"Pipeline {self.name!r}: steps {producers[output].name!r} and "
                        f"{s.name!r} both output {output!r}; rename one with "
                        "@step(outputs=...).")
                if output == SEED_PARAM:
                    raise PipelineDefinitionError(
                        f"Pipeline {self.name!r}: step {s.name!r} outputs {SEED_PARAM!r}, "
                        "which is the name of the pipeline seed; rename the output.")
                producers[output] = s
        return producers

    def _topological_order(self) -> tuple[Step, ...]:
        needs: dict[str, set[str]] = {}
        for s in self.steps:
            for i in s.inputs:
                producer = self.producers.get(i.name)
                if producer is s:
                    raise PipelineDefinitionError(
                        f"Pipeline {self.name!r}: step {s.name!r} takes its own output "
                        f"{i.name!r} as an input, a cycle. Rename the input or the output.")
            needs[s.name] = {self.producers[i.name].name for i in s.inputs
                             if i.name in self.producers}
        order: list[Step] = []
        done: set[str] = set()
        pending = list(self.steps)
        while pending:
            ready = [s for s in pending if needs[s.name] <= done]
            if not ready:
                cycle = _find_cycle({s.name: needs[s.name] for s in pending})
                raise PipelineDefinitionError(
                    f"Pipeline {self.name!r} has a cycle: {' -> '.join(cycle)}. Each step "
                    "may only take outputs of steps that do not depend on it.")
            for s in ready:  # keep the listed order among steps that are ready together
                order.append(s)
                done.add(s.name)
            pending = [s for s in pending if s.name not in done]
        return tuple(order)

    def _param_types(self) -> dict[str, tuple[Step | None, Any]]:
        types: dict[str, tuple[Step | None, Any]] = {SEED_PARAM: (None, int)}
        for s in self.order:
            for i in s.inputs:
                if i.name in self.producers:
                    continue
                if i.name not in types or types[i.name][1] is None:
                    types[i.name] = (s, i.annotation)
        return types

    def _require_known(self, key: str) -> None:
        if key in self.param_types:
            return
        if key in self.producers:
            raise PipelineParamError(
                f"Pipeline {self.name!r}: {key!r} is the output of step "
                f"{self.producers[key].name!r}, not a param; it cannot be set.")
        raise PipelineParamError(
            f"Pipeline {self.name!r} has no param {key!r}: no step takes an input of that name. "
            f"Its params are {sorted(self.param_types)}.")

    def _checked(self, values: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in values.items():
            self._require_known(key)
            step, annotation = self.param_types[key]
            try:
                out[key] = check_value(value, annotation)
                to_json(out[key])
            except ParamTypeError as exc:
                raise PipelineParamError(
                    f"Pipeline {self.name!r}: param {key!r} is wrong for {_where(step, key)}: "
                    f"{exc}.") from None
            for other in self.order:  # every other step taking it must accept it too
                for i in other.inputs:
                    if i.name == key and other is not step and i.annotation is not None:
                        try:
                            check_value(value, i.annotation)
                        except ParamTypeError as exc:
                            raise PipelineParamError(
                                f"Pipeline {self.name!r}: param {key!r} is wrong for "
                                f"{_where(other, key)}: {exc}.") from None
        return out

    def _check_inputs(self, params: Mapping[str, Any]) -> None:
        missing = [(s.name, i.name) for s in self.order for i in s.inputs
                   if i.name not in self.producers and i.name not in params
                   and not i.has_default]
        if missing:
            listed = "; ".join(f"step {s!r} needs {name!r}" for s, name in missing)
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} is missing inputs: {listed}. No step outputs them and "
                "no param gives them: add a step that returns them, or pass them as params "
                f"(--param {missing[0][1]}=...).")


def _where(step: Step | None, key: str) -> str:
    return "the pipeline seed" if step is None else f"input {key!r} of step {step.name!r}"


def _find_cycle(needs: Mapping[str, Iterable[str]]) -> list[str]:
    """Return one cycle among steps that are all blocked, as [a, b, ..., a]."""
    start = next(iter(needs))
    path = [start]
    while True:
        following = next(n for n in sorted(needs[path[-1]]) if n in needs)
        if following in path:
            return [*path[path.index(following):], following]
        path.append(following)
