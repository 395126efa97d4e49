"""Deriving the graph from step inputs and outputs; checking params and their types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from steadyml.core.errors import InvalidInputError
from steadyml.pipelines import (
    Pipeline,
    PipelineDefinitionError,
    PipelineParamError,
    code_version,
    step,
)


@step(outputs="data")
def load(path: str) -> list[int]:
    return [1, 2, 3]


@step(outputs=("train", "holdout"))
def split(data: list[int], seed: int = 0) -> tuple[list[int], list[int]]:
    return data[:2], data[2:]


@step(outputs="model")
def fit(train: list[int], n_estimators: int = 100, rate: float = 0.1,
        verbose: bool = False, out: Path | None = None) -> dict[str, Any]:
    return {}


def test_order_follows_the_data_not_the_list() -> None:
    pipeline = Pipeline("p", [fit, split, load])
    assert [s.name for s in pipeline.order] == ["load", "split", "fit"]
    assert pipeline.producers["holdout"] is split
    assert [s.name for s in pipeline.upstream(fit)] == ["split"]
    assert sorted(pipeline.param_types) == ["n_estimators", "out", "path", "rate", "seed",
                                             "verbose"]


def test_plain_functions_become_steps_named_after_themselves() -> None:
    def numbers() -> int:
        return 3

    def double(numbers: int) -> int:
        return 2 * numbers

    pipeline = Pipeline("p", [double, numbers])
    assert [(s.name, s.outputs) for s in pipeline.order] == [("numbers", ("numbers",)),
                                                             ("double", ("double",))]


def test_a_cycle_names_the_pipeline_and_its_steps() -> None:
    @step(outputs="a")
    def first(b: int) -> int:
        return b

    @step(outputs="b")
    def second(a: int) -> int:
        return a

    with pytest.raises(PipelineDefinitionError) as caught:
        Pipeline("loop", [first, second])
    message = str(caught.value)
    assert "'loop' has a cycle" in message
    assert "first -> second -> first" in message or "second -> first -> second" in message


def test_a_step_taking_its_own_output_is_a_cycle() -> None:
    @step(outputs="model")
    def train(model: int) -> int:
        return model

    with pytest.raises(PipelineDefinitionError, match="step 'train' takes its own output"):
        Pipeline("p", [train])


def test_two_steps_with_one_output_name() -> None:
    @step(outputs="data")
    def other() -> int:
        return 1

    with pytest.raises(PipelineDefinitionError,
                       match="steps 'load' and 'other' both output 'data'"):
        Pipeline("p", [load, other])


def test_missing_inputs_are_reported_together_before_a_run() -> None:
    pipeline = Pipeline("p", [load, split, fit])  # nothing gives `path`
    with pytest.raises(PipelineDefinitionError) as caught:
        pipeline.resolve_params()
    assert "Pipeline 'p' is missing inputs: step 'load' needs 'path'" in str(caught.value)
    assert "--param path=" in str(caught.value)


def test_steps_need_named_parameters() -> None:
    def spread(*rows: int) -> int:
        return 0

    with pytest.raises(PipelineDefinitionError, match="Step 'spread' has the parameter"):
        step(spread)


def test_params_are_checked_against_the_annotations() -> None:
    pipeline = Pipeline("p", [load, split, fit], params={"path": "x.csv"})
    resolved = pipeline.resolve_params({"n_estimators": 5, "rate": 1, "out": "m.pkl"})
    assert resolved == {"seed": 0, "path": "x.csv", "n_estimators": 5, "rate": 1.0,
                        "out": Path("m.pkl")}
    with pytest.raises(PipelineParamError) as caught:
        pipeline.resolve_params({"n_estimators": "many"})
    assert str(caught.value).startswith(
        "Pipeline 'p': param 'n_estimators' is wrong for input 'n_estimators' of step 'fit': "
        "'many' (str) is not a valid int")
    with pytest.raises(PipelineParamError, match="not a valid int"):
        pipeline.resolve_params({"n_estimators": True})
    with pytest.raises(PipelineParamError, match="the pipeline seed"):
        Pipeline("p", [load], params={"seed": 1.5})


def test_command_line_params_are_converted_by_annotation() -> None:
    pipeline = Pipeline("p", [load, split, fit], params={"path": "x.csv"})
    resolved = pipeline.resolve_params(texts={"n_estimators": "200", "rate": "0.5",
                                              "verbose": "yes", "out": "none", "seed": "3"})
    assert resolved["n_estimators"] == 200 and resolved["rate"] == 0.5
    assert resolved["verbose"] is True and resolved["out"] is None and resolved["seed"] == 3
    with pytest.raises(PipelineParamError) as caught:
        pipeline.resolve_params(texts={"n_estimators": "abc"})
    assert str(caught.value) == (
        "Pipeline 'p': --param n_estimators=abc is wrong for input 'n_estimators' of step "
        "'fit': 'abc' is not a valid int. Pass a value of type int.")
    with pytest.raises(PipelineParamError, match="not a valid bool"):
        pipeline.resolve_params(texts={"verbose": "maybe"})


def test_unknown_params_and_outputs_cannot_be_set() -> None:
    pipeline = Pipeline("p", [load, split, fit])
    with pytest.raises(PipelineParamError) as caught:
        pipeline.resolve_params({"n_estimator": 3, "path": "x"})
    assert "has no param 'n_estimator'" in str(caught.value)
    assert "'n_estimators'" in str(caught.value)  # the list of params it does have
    with pytest.raises(PipelineParamError, match="'train' is the output of step 'split'"):
        pipeline.resolve_params(texts={"train": "[1]"})
    @step
    def anything(value):  # no annotation: any JSON value, but only JSON values
        return value

    with pytest.raises(PipelineParamError, match="a object cannot be a pipeline param"):
        Pipeline("p", [anything], params={"value": object()})
    assert isinstance(PipelineParamError("x"), InvalidInputError)


def helper(x: int) -> int:
    return x + 1


LIMIT = 3


def uses_helper(x: int) -> int:
    return helper(x) * LIMIT


def test_code_version_covers_same_module_helpers_and_constants() -> None:
    global LIMIT, helper
    before = code_version(uses_helper)
    assert code_version(uses_helper) == before and len(before) == 64
    LIMIT = 4
    try:
        assert code_version(uses_helper) != before
    finally:
        LIMIT = 3
    assert code_version(uses_helper) == before
    original = helper

    def helper(x: int) -> int:  # noqa: F811 - a changed helper
        return x + 2

    try:
        assert code_version(uses_helper) != before
    finally:
        helper = original
