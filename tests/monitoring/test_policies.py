"""Policies: the example parses, defaults are as documented, every problem is named by line."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from steadyml.core.errors import InvalidInputError, SteadyError
from steadyml.monitoring import policies
from steadyml.monitoring.policies import (
    EXAMPLE_POLICY,
    CanaryPolicy,
    DriftPolicy,
    DriftReference,
    OnlineMetric,
    Policy,
    PolicyError,
    parse_duration,
    parse_policy,
    policy_from_dict,
)


def problems_in(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="policy.yaml")
    return caught.value.problems


# --- the example and the round trip ---------------------------------------------------------------

def test_example_policy_parses_to_the_documented_values() -> None:
    policy = parse_policy(EXAMPLE_POLICY)

    assert policy.deployment == "fraud"
    assert (policy.evaluate_every_s, policy.window_s, policy.min_samples) == (5.0, 300.0, 100)
    assert policy.slo is not None and policy.slo.metric is not None
    assert policy.slo.latency_p99_ms == 50 and policy.slo.error_rate == 0.01
    assert policy.slo.metric.name is OnlineMetric.ACCURACY
    assert (policy.slo.metric.min, policy.slo.metric.max) == (0.9, None)
    assert policy.drift is not None
    assert policy.drift.reference is DriftReference.TRAINING
    assert (policy.drift.reference_offset_s, policy.drift.window_s) == (7 * 86400, 3600)
    assert policy.drift.persistence == 3 and policy.drift.psi is None
    assert policy.drift.features["amount"].psi == 0.1
    assert policy.drift.predictions is not None and policy.drift.predictions.psi == 0.2
    assert policy.canary is not None
    assert policy.canary.steps == (5, 25, 50, 100)
    assert policy.canary.min_duration_s == 60 and policy.canary.max_metric_drop == 0.02
    assert policy.actions.promote and policy.actions.rollback
    assert policy.actions.alert.enabled
    assert policy.actions.alert.webhook == "http://127.0.0.1:9000/hook"
    assert policy.actions.alert.repeat_after_s == 3600
    retrain = policy.actions.retrain
    assert retrain is not None
    assert retrain.command is None and retrain.pipeline == "retrain.py:churn"
    assert retrain.params == {"data": "latest"}
    assert (retrain.cooldown_s, retrain.budget_period_s) == (86400, 30 * 86400)
    assert (retrain.estimated_cost, retrain.budget) == (2.0, 10.0)
    assert policy.business_metric == "mypackage.metrics:profit"


def test_to_dict_round_trips_through_json_and_yaml() -> None:
    policy = parse_policy(EXAMPLE_POLICY)
    data = policy.to_dict()

    assert data["window"] == 300 and data["drift"]["window"] == 3600  # YAML keys, in seconds
    assert policy_from_dict(json.loads(json.dumps(data))) == policy
    assert parse_policy(yaml.safe_dump(data)) == policy


def test_round_trip_keeps_a_gate_switched_off() -> None:
    policy = parse_policy("deployment: a\ncanary: {max_latency_ratio: null}\n")

    assert policy.canary is not None and policy.canary.max_latency_ratio is None
    assert policy_from_dict(policy.to_dict()) == policy


# --- defaults ------------------------------------------------------------------------------------

def test_a_bare_policy_has_the_documented_defaults() -> None:
    policy = parse_policy("deployment: fraud\n")

    assert (policy.evaluate_every_s, policy.window_s, policy.min_samples) == (5.0, 300.0, 100)
    assert (policy.slo, policy.drift, policy.canary, policy.business_metric) == (None,) * 4
    actions = policy.actions
    assert (actions.promote, actions.rollback, actions.retrain) == (False, False, None)
    assert actions.alert.enabled and actions.alert.webhook is None
    assert actions.alert.repeat_after_s == 3600


def test_empty_sections_take_the_documented_defaults() -> None:
    policy = parse_policy("""\
deployment: fraud
window: 10m
slo:
  metric: {name: recall, min: 0.5}
drift: {}
canary: {}
actions:
  retrain: {command: [python, train.py]}
""")

    assert policy.slo is not None and policy.slo.metric is not None
    assert policy.slo.latency_p99_ms is None and policy.slo.metric.min_outcomes == 50
    drift = policy.drift
    assert drift is not None
    assert drift.reference is DriftReference.TRAINING and drift.reference_offset_s == 7 * 86400
    assert drift.window_s == 600  # the policy's window
    assert (drift.persistence, drift.alpha) == (1, 0.05)
    assert (drift.numeric_effect, drift.categorical_effect, drift.psi) == (0.1, 0.1, None)
    assert (drift.features, drift.predictions) == ({}, None)
    canary = policy.canary
    assert canary is not None
    assert (canary.steps, canary.min_samples, canary.min_duration_s) == ((5, 25, 50, 100), 200, 60)
    retrain = policy.actions.retrain
    assert retrain is not None and retrain.command == ("python", "train.py")
    assert (retrain.cooldown_s, retrain.budget_period_s) == (86400, 30 * 86400)
    assert (retrain.estimated_cost, retrain.budget) == (None, None)


@pytest.mark.parametrize(("alert", "enabled", "webhook"), [
    ("true", True, None),
    ("false", False, None),
    ("{webhook: 'https://hooks.example/x'}", True, "https://hooks.example/x"),
    ("{enabled: false, repeat_after: 10m}", False, None),
])
def test_alert_is_a_flag_or_a_mapping(alert: str, enabled: bool, webhook: str | None) -> None:
    policy = parse_policy(f"deployment: a\nactions:\n  alert: {alert}\n")

    assert (policy.actions.alert.enabled, policy.actions.alert.webhook) == (enabled, webhook)


def test_retrain_false_means_no_retraining() -> None:
    policy = parse_policy("deployment: a\nactions: {retrain: false}\n")

    assert policy.actions.retrain is None


def test_online_metrics_know_their_direction() -> None:
    assert OnlineMetric.ROC_AUC.higher_is_better is True
    assert OnlineMetric.LOG_LOSS.higher_is_better is False
    assert OnlineMetric.BUSINESS.higher_is_better is None


# --- durations -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "seconds"), [
    ("500ms", 0.5), ("30s", 30), ("5m", 300), ("2h", 7200), ("7d", 604800), ("1.5h", 5400),
    (".5s", 0.5), ("0", 0), ("45", 45), (30, 30), (1.5, 1.5), (0, 0),
])
def test_parse_duration_reads_units_and_plain_seconds(value: str | float, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [
    "5 minutes", "5M", "1w", "-5s", "1e3", "inf", "", "s", -1, float("nan"), True, None, [5],
])
def test_parse_duration_rejects_what_is_not_a_duration(value: Any) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_duration(value, key="window")

    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith("window: ")


def test_negative_durations_say_so() -> None:
    with pytest.raises(PolicyError, match="must not be negative, got '-5s'"):
        parse_duration("-5s")


@pytest.mark.parametrize(("key", "value", "seconds"), [
    ("evaluate_every", "500ms", 0.5), ("window", 90, 90), ("window", "2h", 7200),
])
def test_policy_durations_are_stored_in_seconds(key: str, value: Any, seconds: float) -> None:
    policy = policy_from_dict({"deployment": "a", key: value})

    assert getattr(policy, f"{key}_s") == seconds


# --- problems, by line and key -------------------------------------------------------------------

BAD = [
    # (YAML, line, key, the message or its start)
    ("deployment: a\nslo:\n  latency_p99_ms: 50\n  error_rate: 1.5\n",
     4, "slo.error_rate", "must be between 0 and 1, got 1.5"),
    ("deployment: a\nslo:\n  latncy_p99_ms: 50\n",
     3, "slo.latncy_p99_ms", "unknown key 'latncy_p99_ms'; did you mean 'latency_p99_ms'?"),
    ("deployment: a\n\nslo:\n  latency_p99_ms: fast\n",
     4, "slo.latency_p99_ms", "expected a number, got 'fast'"),
    ("deployment: a\nslo:\n  latency_p99_ms: 0\n",
     3, "slo.latency_p99_ms", "must be greater than 0, got 0"),
    ("deployment: a\nslo:\n  cost_per_1k: -0.5\n",
     3, "slo.cost_per_1k", "must be at least 0, got -0.5"),
    ("deployment: a\nevaluate_every: 5 minutes\n",
     2, "evaluate_every", "expected a duration such as 500ms"),
    ("deployment: a\nwindow: 0s\n", 2, "window", "must be greater than 0, got '0s'"),
    ("deployment: a\nmin_samples: 2.5\n", 2, "min_samples", "expected a whole number, got 2.5"),
    ("deployment: a\nmin_samples: 0\n", 2, "min_samples", "must be at least 1, got 0"),
    ("deployment: a\nfoo: 1\n", 2, "foo", "unknown key 'foo'; expected one of deployment,"),
    ("window: 5m\n", 1, "deployment", "required key is missing"),
    ("deployment: -fraud\n", 1, "deployment", "Invalid deployment name '-fraud'"),
    ("deployment: 42\n", 1, "deployment", "expected a string, got 42"),
    ("deployment: a\nslo: fast\n", 2, "slo", "expected a mapping, got 'fast'"),
    # the online metric
    ("deployment: a\nslo:\n  metric:\n    name: accuracy\n    min: 0.9\n    max: 0.95\n",
     3, "slo.metric", "set exactly one of min or max (accuracy takes min), got both"),
    ("deployment: a\nslo:\n  metric:\n    name: mae\n",
     3, "slo.metric", "set exactly one of min or max (mae takes max), got neither"),
    ("deployment: a\nslo:\n  metric:\n    name: accuracy\n    max: 0.95\n",
     5, "slo.metric.max", "accuracy is higher-is-better: set min instead"),
    ("deployment: a\nslo:\n  metric:\n    name: log_loss\n    min: 0.3\n",
     5, "slo.metric.min", "log_loss is lower-is-better: set max instead"),
    ("deployment: a\nslo:\n  metric:\n    name: roc_auc\n    min: 1.2\n",
     5, "slo.metric.min", "must be between 0 and 1 for roc_auc, got 1.2"),
    ("deployment: a\nslo:\n  metric:\n    name: rmse\n    max: -1\n",
     5, "slo.metric.max", "must be at least 0 for rmse, got -1"),
    ("deployment: a\nslo:\n  metric:\n    name: f1\n    min: 0.5\n",
     4, "slo.metric.name", "must be one of 'accuracy', 'precision'"),
    ("deployment: a\nslo:\n  metric:\n    name: business\n    max: 100\n",
     4, "slo.metric.name", "business needs business_metric"),
    ("deployment: a\nbusiness_metric: mypackage.metrics.profit\n",
     2, "business_metric", "must be 'module:function'"),
    # drift
    ("deployment: a\nevaluate_every: 10s\ndrift:\n  window: 5s\n",
     4, "drift.window", "must be at least evaluate_every (10s)"),
    ("deployment: a\nevaluate_every: 10m\nwindow: 5m\ndrift: {}\n",
     3, "window", "must be at least evaluate_every (600s)"),
    ("deployment: a\ndrift:\n  reference: Training\n",
     3, "drift.reference", "must be one of 'training', 'window' or 'both', got 'Training'"),
    ("deployment: a\ndrift:\n  alpha: 1\n", 3, "drift.alpha", "must be between 0 and 1, exclusive"),
    ("deployment: a\ndrift:\n  categorical_effect: 1.5\n",
     3, "drift.categorical_effect", "must be greater than 0 and at most 1, got 1.5"),
    ("deployment: a\ndrift:\n  persistence: 0\n", 3, "drift.persistence", "must be at least 1"),
    ("deployment: a\ndrift:\n  features:\n    amount: {psi: 0.1}\n    country:\n      psii: 0.1\n",
     6, "drift.features.country.psii", "unknown key 'psii'; did you mean 'psi'?"),
    ("deployment: a\ndrift:\n  features:\n    amount:\n      ignore: sometimes\n",
     5, "drift.features.amount.ignore", "expected true or false, got 'sometimes'"),
    ("deployment: a\ndrift:\n  predictions: {}\n",
     3, "drift.predictions", "set either psi (e.g. psi: 0.2) or ignore: true"),
    ("deployment: a\ndrift:\n  predictions: {psi: 0.2, ignore: true}\n",
     3, "drift.predictions", "set either psi"),
    ("deployment: a\ndrift:\n  predictions: {psi: 0}\n",
     3, "drift.predictions.psi", "must be greater than 0, got 0"),
    # canary
    ("deployment: a\ncanary:\n  steps: [5, 50, 25, 100]\n",
     3, "canary.steps[2]", "must be greater than the step before it (50), got 25"),
    ("deployment: a\ncanary:\n  steps: [25, 25, 100]\n",
     3, "canary.steps[1]", "must be greater than the step before it (25), got 25"),
    ("deployment: a\ncanary:\n  steps:\n    - 5\n    - 50\n",
     5, "canary.steps[1]", "the last step must be 100 (all traffic on the candidate), got 50"),
    ("deployment: a\ncanary:\n  steps:\n    - 0\n    - 100\n",
     4, "canary.steps[0]", "must be greater than 0 and at most 100, got 0"),
    ("deployment: a\ncanary:\n  steps: [5, 150]\n",
     3, "canary.steps[1]", "must be greater than 0 and at most 100, got 150"),
    ("deployment: a\ncanary:\n  steps: []\n", 3, "canary.steps", "the last step must be 100"),
    ("deployment: a\ncanary:\n  steps: 50\n", 3, "canary.steps", "expected a list, got 50"),
    ("deployment: a\ncanary:\n  max_latency_ratio: 0.9\n",
     3, "canary.max_latency_ratio", "must be at least 1, got 0.9"),
    ("deployment: a\ncanary:\n  min_duration: -1\n",
     3, "canary.min_duration", "must not be negative, got -1"),
    ("deployment: a\ncanary:\n  max_metric_drop: 0.02\n",
     3, "canary.max_metric_drop", "needs slo.metric"),
    # actions
    ("deployment: a\nactions:\n  rollback: sometimes\n",
     3, "actions.rollback", "expected true or false, got 'sometimes'"),
    ("deployment: a\nactions:\n  alert:\n    webhook: ftp://host/hook\n",
     4, "actions.alert.webhook", "must be an http(s) URL"),
    ("deployment: a\nactions:\n  alert:\n    webhok: http://h/x\n",
     4, "actions.alert.webhok", "unknown key 'webhok'; did you mean 'webhook'?"),
    ("deployment: a\nactions:\n  alert: 3\n", 3, "actions.alert", "expected a mapping, got 3"),
    ("deployment: a\nactions:\n  retrain: true\n",
     3, "actions.retrain", "expected a mapping, got true"),
    ("deployment: a\nactions:\n  retrain:\n    cooldown: 1d\n",
     3, "actions.retrain.command", "required key is missing"),
    ("deployment: a\nactions:\n  retrain:\n    command: \"python 'x\"\n",
     4, "actions.retrain.command", "cannot split"),
    ("deployment: a\nactions:\n  retrain:\n    command: []\n",
     4, "actions.retrain.command", "must name the program to run"),
    ("deployment: a\nactions:\n  retrain:\n    command: train\n    estimated_cost: 2\n"
     "    budget: 1.5\n",
     6, "actions.retrain.budget", "must be at least estimated_cost (2), got 1.5"),
    # numbers too large for a float, or for int() at all
    ("deployment: a\nevaluate_every: " + "9" * 400 + "s\n",
     2, "evaluate_every", "must be a finite duration"),
    ("deployment: a\nslo:\n  error_rate: " + "9" * 400 + "\n",
     3, "slo.error_rate", "a number of 400 characters is not a usable value"),
    ("deployment: a\nslo:\n  latency_p99_ms: .inf\n",
     3, "slo.latency_p99_ms", "expected a finite number, got inf"),
    ("deployment: a\nslo:\n  latency_p99_ms: " + "9" * 5000 + "\n",
     3, "slo.latency_p99_ms", "a number of 5000 characters is not a usable value"),
    ("deployment: a\nactions:\n  retrain: {command: x, pipeline: 'r.py:p'}\n",
     3, "actions.retrain.command", "set either command"),
    ("deployment: a\nactions:\n  retrain: {pipeline: nocolon}\n",
     3, "actions.retrain.pipeline", "must be 'FILE:PIPELINE'"),
    ("deployment: a\nactions:\n  retrain: {command: x, params: {a: 1}}\n",
     3, "actions.retrain.params", "applies to pipeline, not to command"),
    # the document itself
    ("deployment: a\nwindow: 5m\nwindow: 10m\n",
     3, "window", "duplicate key 'window'; it is already set on line 2"),
    ("- deployment: a\n", 1, "", "expected a mapping, got a list"),
    ("deployment: a\nslo:\n  error_rate: [0.1\n", 4, "", "invalid YAML"),
    ("deployment: a\n---\ndeployment: b\n", 2, "", "invalid YAML"),
]


@pytest.mark.parametrize(("text", "line", "key", "message"), BAD,
                         ids=[f"{key or 'document'}-{i}" for i, (_, _, key, _) in enumerate(BAD)])
def test_each_problem_is_named_by_line_and_key(text: str, line: int, key: str,
                                               message: str) -> None:
    found = problems_in(text)

    assert [(n, k) for n, k, _ in found] == [(line, key)]
    assert found[0][2].startswith(message)


def test_the_message_lists_each_problem_as_source_line_key_problem() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy("deployment: fraud\nslo:\n  error_rate: 1.5\n", source="policy.yaml")

    assert isinstance(caught.value, InvalidInputError) and isinstance(caught.value, SteadyError)
    assert str(caught.value) == "policy.yaml:3: slo.error_rate: must be between 0 and 1, got 1.5"


def test_every_problem_is_reported_at_once_in_line_order() -> None:
    text = """\
deployment: fraud
evaluate_every: soon
slo:
  error_rate: 1.5
  latncy_p99_ms: 50
canary:
  steps: [5, 50, 25]
drift:
  alpha: 0
actions:
  retrain:
    command: python train.py
    estimated_cost: 3
    budget: 1
"""
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="policy.yaml")

    where = [(line, key) for line, key, _ in caught.value.problems]
    assert where == [(2, "evaluate_every"), (4, "slo.error_rate"), (5, "slo.latncy_p99_ms"),
                     (7, "canary.steps[2]"), (7, "canary.steps[2]"), (9, "drift.alpha"),
                     (14, "actions.retrain.budget")]
    lines = str(caught.value).splitlines()
    assert len(lines) == len(where)
    assert all(text.startswith(f"policy.yaml:{n}: {k}: ") for text, (n, k) in zip(lines, where, strict=True))


@pytest.mark.parametrize("text", ["", "\n", "# only a comment\n", "~\n"])
def test_an_empty_policy_is_rejected(text: str) -> None:
    with pytest.raises(PolicyError, match="^<policy>: empty policy"):
        parse_policy(text)


# --- data from JSON ------------------------------------------------------------------------------

def test_policy_from_dict_accepts_durations_as_text_or_seconds() -> None:
    policy = policy_from_dict({"deployment": "fraud", "window": "10m", "evaluate_every": 2,
                               "canary": {"steps": [10, 100], "min_duration": "1m"},
                               "actions": {"retrain": {"command": "train --fast"}}})

    assert (policy.window_s, policy.evaluate_every_s) == (600, 2)
    assert policy.canary is not None and policy.canary.min_duration_s == 60
    assert policy.actions.retrain is not None
    assert policy.actions.retrain.command == ("train", "--fast")


def test_policy_from_dict_reports_problems_without_lines() -> None:
    with pytest.raises(PolicyError) as caught:
        policy_from_dict({"deployment": "fraud", "slo": {"error_rate": 2, "latncy_p99_ms": 5}},
                         source="PUT /api/v1/policies/fraud")

    assert caught.value.problems == [
        (None, "slo.error_rate", "must be between 0 and 1, got 2"),
        (None, "slo.latncy_p99_ms",
         "unknown key 'latncy_p99_ms'; did you mean 'latency_p99_ms'?"),
    ]
    assert str(caught.value).splitlines()[0] == (
        "PUT /api/v1/policies/fraud: slo.error_rate: must be between 0 and 1, got 2")


def test_policy_from_dict_rejects_what_is_not_a_mapping() -> None:
    with pytest.raises(PolicyError, match="expected a mapping, got a list"):
        policy_from_dict(["deployment", "fraud"])  # type: ignore[arg-type]


def test_policies_can_be_built_in_python_with_the_yaml_keys() -> None:
    policy = Policy(deployment="fraud", window=60, drift=DriftPolicy(persistence=2))

    assert policy.window_s == 60 and policy.drift is not None and policy.drift.window_s == 60
    with pytest.raises(ValueError, match="last step must be 100"):
        CanaryPolicy(steps=(50,))


def test_module_all_is_sorted_and_complete() -> None:
    assert policies.__all__ == sorted(policies.__all__)
    public = {name for name, value in vars(policies).items() if not name.startswith("_")
              and getattr(value, "__module__", None) == policies.__name__}
    assert public <= set(policies.__all__)
    assert all(hasattr(policies, name) for name in policies.__all__)
