"""Deployment policies: the SLOs, drift rules, canary gates and actions the controller enforces.

A policy is one YAML document per deployment, applied with `steady policy apply FILE`.
`parse_policy` reads YAML and names each problem by line; `policy_from_dict` reads the same
shape from JSON bodies. Both raise one `PolicyError` listing every problem they find, so a user
fixes a file in one pass rather than one error at a time.
"""

from __future__ import annotations

import difflib
import math
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from steadyml.core.errors import InvalidInputError
from steadyml.core.ids import check_name
from steadyml.monitoring.policy_example import EXAMPLE_POLICY

__all__ = [
    "Actions", "AlertAction", "CanaryPolicy", "DriftPolicy", "DriftReference", "EXAMPLE_POLICY",
    "FeatureDriftOverride", "MetricSlo", "OnlineMetric", "Policy", "PolicyError",
    "PredictionDrift", "RetrainAction", "Slo", "parse_duration", "parse_policy", "policy_from_dict",
]

_Loc = tuple[str | int, ...]
_Problem = tuple[int | None, str, str]  # (line or None, dotted key, message)


class PolicyError(InvalidInputError):
    """A policy cannot be enforced; the message lists every problem, one per line."""

    def __init__(self, problems: Sequence[_Problem], *, source: str = "<policy>") -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(_format_problem(source, *p) for p in self.problems))


def _format_problem(source: str, line: int | None, key: str, message: str) -> str:
    where = source if line is None else f"{source}:{line}"
    return ": ".join([part for part in (where, key) if part] + [message])


class _Problems(ValueError):
    """Problems a model validator found, each at a key below the model it checks."""

    def __init__(self, found: list[tuple[_Loc, str]]) -> None:
        self.found = found
        super().__init__("; ".join(f"{_dotted(loc) or '.'}: {msg}" for loc, msg in found))


# --- values -------------------------------------------------------------------------------------

def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(float(x))


def _float(value: int | float) -> float:
    """float(value), with an int too large for a float as infinity (rejected by the caller)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _show(value: Any) -> str:
    """Return `value` as the user wrote it, for messages."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int) and not math.isfinite(_float(value)):
        return f"a number of {len(str(abs(value)))} digits"
    if isinstance(value, int | float):
        return _num(value)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}… ({len(text)} characters)"


def _real(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"expected a number, got {_show(value)}")
    if not math.isfinite(_float(value)):
        raise ValueError(f"expected a finite number, got {_show(value)}")
    return float(value)


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or (
            isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected a whole number, got {_show(value)}")
    return int(value)


_DURATION = re.compile(r"(-?)(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h|d)?")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_DURATION_HINT = "expected a duration such as 500ms, 30s, 5m, 2h or 7d, or a number of seconds"


def _seconds(value: Any) -> float:
    if isinstance(value, str) and (match := _DURATION.fullmatch(value.strip())):
        negative, seconds = match[1] == "-", float(match[2]) * _UNIT_S[match[3]]
    elif isinstance(value, int | float) and not isinstance(value, bool):
        negative, seconds = value < 0, _float(value)
    else:
        raise ValueError(f"{_DURATION_HINT}, got {_show(value)}")
    if not math.isfinite(seconds):
        raise ValueError(f"must be a finite duration, got {_show(value)}")
    if negative and seconds != 0:
        raise ValueError(f"must not be negative, got {_show(value)}")
    return abs(seconds)


def parse_duration(value: str | int | float, *, key: str = "duration") -> float:
    """Return `value` ("500ms", "30s", "5m", "2h", "7d" or a number of seconds) in seconds.

    Raises `PolicyError` (a ValueError) naming `key` for text like "5 minutes" or a negative.
    """
    try:
        return _seconds(value)
    except ValueError as exc:
        raise PolicyError([(None, key, str(exc))], source="") from None


def _checked(parse: Callable[[Any], Any], admits: Callable[[Any], Any], bounds: str
             ) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not admits(x := parse(value)):
            raise ValueError(f"must be {bounds}, got {_show(value)}")
        return x
    return BeforeValidator(check)


def _typed(kind: type, what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise ValueError(f"expected {what}, got {_show(value)}")
        return value
    return check


_string = _typed(str, "a string")


def _command(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            argv = shlex.split(value)
        except ValueError as exc:  # an unclosed quote
            raise ValueError(f"cannot split {value!r} into arguments: {exc}") from None
    elif isinstance(value, list | tuple) and all(isinstance(arg, str) for arg in value):
        argv = list(value)
    else:
        raise ValueError(f"expected a string or a list of strings, got {_show(value)}")
    if not argv or not argv[0]:
        raise ValueError("must name the program to run, got an empty command")
    return tuple(argv)


_Real = Annotated[float, BeforeValidator(_real)]
_Positive = Annotated[float, _checked(_real, lambda x: x > 0, "greater than 0")]
_NonNegative = Annotated[float, _checked(_real, lambda x: x >= 0, "at least 0")]
_Fraction = Annotated[float, _checked(_real, lambda x: 0 <= x <= 1, "between 0 and 1")]
_Alpha = Annotated[float, _checked(_real, lambda x: 0 < x < 1, "between 0 and 1, exclusive")]
_Distance = Annotated[float, _checked(_real, lambda x: 0 < x <= 1,
                                      "greater than 0 and at most 1")]
_Ratio = Annotated[float, _checked(_real, lambda x: x >= 1, "at least 1")]
_Percent = Annotated[float, _checked(_real, lambda x: 0 < x <= 100,
                                     "greater than 0 and at most 100")]
_Count = Annotated[int, _checked(_whole, lambda x: x >= 1, "at least 1")]
_Interval = Annotated[float, _checked(_seconds, lambda x: x > 0, "greater than 0")]
_Delay = Annotated[float, _checked(_seconds, lambda x: x >= 0, "at least 0")]
_Flag = Annotated[bool, BeforeValidator(_typed(bool, "true or false"))]
_Name = Annotated[str, BeforeValidator(lambda value: check_name(_string(value), "deployment"))]
_GateName = Annotated[str, BeforeValidator(lambda value: check_name(_string(value), "gate"))]
_PipelineRef = Annotated[str, _checked(_string, lambda x: ":" in x and x.rsplit(":", 1)[1]
                                       .isidentifier(), "'FILE:PIPELINE' such as "
                                       "'retrain.py:churn'")]
_ParamName = Annotated[str, _checked(_string, str.isidentifier, "a parameter name")]
_ParamValue = Annotated[str, BeforeValidator(
    lambda value: _show(value) if isinstance(value, bool | int | float) and value is not None
    else _string(value))]
_Webhook = Annotated[str, _checked(_string, re.compile(
    r"https?://(\[[0-9A-Fa-f:.]+\]|[^\s/?#:@\[\]]+)(:\d{1,5})?([/?#]\S*)?").fullmatch,
    "an http(s) URL such as http://127.0.0.1:9000/hook")]
_Entrypoint = Annotated[str, _checked(_string, re.compile(
    r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*").fullmatch,
    "'module:function' such as 'mypackage.metrics:profit'")]

_HOUR_S, _DAY_S = 3600.0, 86400.0


# --- the schema ---------------------------------------------------------------------------------

class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OnlineMetric(StrEnum):
    ACCURACY = "accuracy"
    PRECISION = "precision"
    RECALL = "recall"
    ROC_AUC = "roc_auc"
    LOG_LOSS = "log_loss"
    MAE = "mae"
    RMSE = "rmse"
    BUSINESS = "business"  # computed by the policy's `business_metric` function

    @property
    def higher_is_better(self) -> bool | None:
        """True: the SLO is a floor (`min`); False: a ceiling (`max`); None: either."""
        if self is OnlineMetric.BUSINESS:
            return None
        return self not in (OnlineMetric.LOG_LOSS, OnlineMetric.MAE, OnlineMetric.RMSE)


class DriftReference(StrEnum):
    TRAINING = "training"  # the training dataset's profile
    WINDOW = "window"  # the same-length window `reference_offset` earlier
    BOTH = "both"


class MetricSlo(_Section):
    """A floor or ceiling on an online metric computed from delayed outcomes."""

    name: OnlineMetric
    min: _Real | None = None
    max: _Real | None = None
    min_outcomes: _Count = 50

    @model_validator(mode="after")
    def _check_direction(self) -> MetricSlo:
        low, high, better = self.min, self.max, self.name.higher_is_better
        wanted = {True: "min", False: "max", None: "min or max"}[better]
        if (low is None) == (high is None):
            got = "neither" if low is None else "both"
            raise _Problems([((), f"set exactly one of min or max ({self.name} takes {wanted}), "
                                  f"got {got}")])
        if better is not None and (high if better else low) is not None:
            direction = "higher" if better else "lower"
            raise _Problems([((("max" if better else "min"),),
                              f"{self.name} is {direction}-is-better: set {wanted} instead")])
        value = low if low is not None else high
        if value is not None and ((better and not 0 <= value <= 1)
                                  or (better is False and value < 0)):
            raise _Problems([((wanted,), f"must be {'between 0 and 1' if better else 'at least 0'} "
                                         f"for {self.name}, got {_num(value)}")])
        return self


class Slo(_Section):
    """Service-level objectives judged over the policy's window; each is optional."""

    latency_p99_ms: _Positive | None = None
    error_rate: _Fraction | None = None
    cost_per_1k: _NonNegative | None = None
    metric: MetricSlo | None = None


class FeatureDriftOverride(_Section):
    """Per-feature drift thresholds replacing the policy-wide ones, or `ignore: true`."""

    numeric_effect: _Positive | None = None
    categorical_effect: _Distance | None = None
    psi: _Positive | None = None
    ignore: _Flag = False


class PredictionDrift(_Section):
    """Drift on the model's outputs: a PSI threshold, or `ignore: true`."""

    psi: _Positive | None = None
    ignore: _Flag = False

    @model_validator(mode="after")
    def _check_one(self) -> PredictionDrift:
        if self.ignore == (self.psi is not None):
            raise _Problems([((), "set either psi (e.g. psi: 0.2) or ignore: true")])
        return self


class DriftPolicy(_Section):
    """When input and output distributions count as drifted."""

    reference: DriftReference = DriftReference.TRAINING
    reference_offset_s: _Interval = Field(default=7 * _DAY_S, alias="reference_offset")
    window_s: _Interval | None = Field(default=None, alias="window")  # None: the Policy's window
    persistence: _Count = 1  # consecutive drifted windows before acting
    alpha: _Alpha = 0.05  # family-wise, across all features
    numeric_effect: _Positive = 0.1  # Wasserstein distance / reference std
    categorical_effect: _Distance = 0.1  # Jensen-Shannon distance
    psi: _Positive | None = None
    features: dict[str, FeatureDriftOverride] = Field(default_factory=dict)
    predictions: PredictionDrift | None = None


class CanaryPolicy(_Section):
    """Progressive delivery: traffic steps and the gates a candidate must pass at each."""

    steps: tuple[_Percent, ...] = (5.0, 25.0, 50.0, 100.0)
    min_samples: _Count = 200
    min_duration_s: _Delay = Field(default=60.0, alias="min_duration")
    max_error_rate_increase: _Fraction | None = 0.01  # candidate - stable, absolute
    max_latency_ratio: _Ratio | None = 1.5  # candidate p99 / stable p99
    max_metric_drop: _NonNegative | None = None  # stable - candidate, on slo.metric
    max_prediction_psi: _Positive | None = None

    @model_validator(mode="after")
    def _check_steps(self) -> CanaryPolicy:
        steps = self.steps
        found: list[tuple[_Loc, str]] = [
            (("steps", i), f"must be greater than the step before it ({_num(steps[i - 1])}), "
                           f"got {_num(steps[i])}")
            for i in range(1, len(steps)) if steps[i] <= steps[i - 1]]
        if not steps or steps[-1] != 100:
            last = _num(steps[-1]) if steps else "no steps"
            found.append((("steps", len(steps) - 1) if steps else ("steps",), "the last step must "
                          f"be 100 (all traffic on the candidate), got {last}"))
        if found:
            raise _Problems(found)
        return self


class AlertAction(_Section):
    """Notifications; `alert: true` or `alert: false` in YAML set only `enabled`."""

    enabled: _Flag = True
    webhook: _Webhook | None = None
    repeat_after_s: _Interval = Field(default=_HOUR_S, alias="repeat_after")  # per breach

    @model_validator(mode="before")
    @classmethod
    def _from_flag(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value


class RetrainAction(_Section):
    """What the controller may run to retrain, within a cooldown and a budget: a command, or
    a steadyml pipeline (`FILE:PIPELINE`, run as `steady pipeline run … --trigger drift`)."""

    command: Annotated[tuple[str, ...] | None, BeforeValidator(
        lambda value: None if value is None else _command(value))] = None
    pipeline: _PipelineRef | None = None
    params: dict[_ParamName, _ParamValue] = Field(default_factory=dict)  # with `pipeline`
    target: _GateName | None = None  # the pipeline's lock target (default: its own)
    cooldown_s: _Delay = Field(default=_DAY_S, alias="cooldown")
    estimated_cost: _NonNegative | None = None  # of one retrain
    budget: _NonNegative | None = None  # total per budget_period
    budget_period_s: _Interval = Field(default=30 * _DAY_S, alias="budget_period")

    @model_validator(mode="after")
    def _check_budget(self) -> RetrainAction:
        found: list[tuple[_Loc, str]] = []
        if (self.command is None) == (self.pipeline is None):
            found.append((("command",), "set either command (a program to run) or pipeline "
                                        "('FILE:PIPELINE'), not both" if self.command else
                          "required key is missing: set command or pipeline"))
        elif self.command is not None and (self.params or self.target):
            found.append((("params",) if self.params else ("target",),
                          "applies to pipeline, not to command"))
        if (self.budget is not None and self.estimated_cost is not None
                and self.budget < self.estimated_cost):
            found.append((("budget",), f"must be at least estimated_cost "
                                       f"({_num(self.estimated_cost)}), got "
                                       f"{_num(self.budget)}: no retrain would ever fit"))
        if found:
            raise _Problems(found)
        return self


class Actions(_Section):
    """What the controller may do on its own; only alerting is on unless enabled here."""

    promote: _Flag = False
    rollback: _Flag = False
    alert: AlertAction = AlertAction()  # `alert: false` turns it off
    retrain: Annotated[RetrainAction | None,
                       BeforeValidator(lambda value: None if value is False else value)] = None


class Policy(_Section):
    """One deployment's policy: what the controller judges, how often, and what it may do."""

    deployment: _Name
    evaluate_every_s: _Interval = Field(default=5.0, alias="evaluate_every")
    window_s: _Interval = Field(default=300.0, alias="window")
    min_samples: _Count = 100  # per arm per window
    slo: Slo | None = None
    drift: DriftPolicy | None = None
    canary: CanaryPolicy | None = None
    actions: Actions = Field(default_factory=Actions)
    business_metric: _Entrypoint | None = None
    # Gates a model version must have passed (its newest result) before it may be deployed
    # here, e.g. [data-quality, model-quality]; `steady deploy --force` overrides, audited.
    required_gates: tuple[_GateName, ...] = ()

    @model_validator(mode="after")
    def _check_across_sections(self) -> Policy:
        found: list[tuple[_Loc, str]] = []
        metric = self.slo.metric if self.slo else None
        if metric and metric.name is OnlineMetric.BUSINESS and self.business_metric is None:
            found.append((("slo", "metric", "name"), "business needs business_metric: "
                          "'module:function' at the top level of the policy"))
        if self.canary and self.canary.max_metric_drop is not None and metric is None:
            found.append((("canary", "max_metric_drop"), "needs slo.metric to name the online "
                          "metric to compare"))
        if self.drift:
            own = self.drift.window_s
            window = self.window_s if own is None else own
            if window < self.evaluate_every_s:
                found.append((("window",) if own is None else ("drift", "window"),
                              f"must be at least evaluate_every ({_num(self.evaluate_every_s)}s) "
                              f"since drift is judged once per window, got {_num(window)}s"))
            elif own is None:
                # Still constructing, so the frozen model may take its resolved drift window.
                object.__setattr__(self, "drift", self.drift.model_copy(
                    update={"window_s": self.window_s}))
        if found:
            raise _Problems(found)
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the policy as JSON-able data (durations in seconds) `policy_from_dict` reads."""
        return self.model_dump(mode="json", by_alias=True)


# --- parsing and explaining ---------------------------------------------------------------------

def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    """Parse and validate a YAML policy; raise `PolicyError` naming every problem's line."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        duplicates = list(_duplicate_keys(root, (), set())) if root is not None else []
        if long := list(_long_numbers(root, (), set())):  # int("9" * 5000) would raise
            raise PolicyError(long, source=source)
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        raise PolicyError([_yaml_problem(exc)], source=source) from None
    finally:
        loader.dispose()
    if data is None:
        raise PolicyError([(None, "", "empty policy; start from `steady policy example`")],
                          source=source)
    return _validate(data, source=source, root=root, problems=duplicates)


def policy_from_dict(data: Mapping[str, Any], *, source: str = "<policy>") -> Policy:
    """Validate a policy given as data (a JSON body); `PolicyError` problems have no line."""
    return _validate(dict(data) if isinstance(data, Mapping) else data, source=source,
                     root=None, problems=[])


def _validate(data: Any, *, source: str, root: yaml.Node | None,
              problems: list[_Problem]) -> Policy:
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        problems = problems + [(_line_of(root, loc), _dotted(loc), message)
                               for loc, message in _explain(exc)]
    if problems:
        ordered = sorted(dict.fromkeys(problems), key=lambda p: (p[0] is None, p[0] or 0))
        raise PolicyError(ordered, source=source)
    return policy


def _explain(exc: ValidationError) -> Iterator[tuple[_Loc, str]]:
    for error in exc.errors():
        loc: _Loc = tuple(error["loc"])
        kind, value, cause = error["type"], error["input"], error.get("ctx", {}).get("error")
        if isinstance(cause, _Problems):
            yield from ((loc + sub, message) for sub, message in cause.found)
        elif isinstance(cause, Exception):
            yield loc, str(cause)
        elif kind == "missing":
            yield loc, "required key is missing"
        elif kind == "extra_forbidden":
            name, known = str(loc[-1]), _known_keys(loc[:-1])
            close = difflib.get_close_matches(name, known, n=1)
            yield loc, (f"unknown key {name!r}; did you mean {close[0]!r}?" if close else
                        f"unknown key {name!r}; expected one of {', '.join(known)}")
        elif kind == "enum":
            yield loc, f"must be one of {error['ctx']['expected']}, got {_show(value)}"
        elif kind in _EXPECTED:
            yield loc, f"expected {_EXPECTED[kind]}, got {_show(value)}"
        else:
            yield loc, error["msg"]


_EXPECTED = {"model_type": "a mapping", "model_attributes_type": "a mapping",
             "dict_type": "a mapping", "list_type": "a list", "tuple_type": "a list",
             "string_type": "a string"}


def _known_keys(loc: _Loc) -> list[str]:
    """Return the keys allowed in the mapping at `loc`, as the YAML spells them."""
    holder: Any = Policy
    for part in loc:
        if get_origin(holder) is dict:  # a user-chosen key, such as a name under drift.features
            holder = get_args(holder)[1]
            continue
        fields = {f.alias or name: f for name, f in holder.model_fields.items()}
        annotation = fields[part].annotation if part in fields else None
        holder = next((a for a in (annotation, *get_args(annotation)) if get_origin(a) is dict
                       or isinstance(a, type) and issubclass(a, BaseModel)), None)
        if holder is None:
            return []
    return [f.alias or name for name, f in holder.model_fields.items()]


def _dotted(loc: _Loc) -> str:
    key = ""
    for part in loc:
        if isinstance(part, int):
            key += f"[{part}]"
        elif part != "[key]":
            key += f".{part}" if key else str(part)
    return key


def _line_of(root: yaml.Node | None, loc: _Loc) -> int | None:
    """Return the line of the deepest key of `loc` present in the YAML (1-based)."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            # The last duplicate wins, as when the document is loaded.
            match = next(((k, v) for k, v in reversed(node.value)
                          if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and part in range(len(node.value)):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _long_numbers(node: yaml.Node | None, path: _Loc, seen: set[int]) -> Iterator[_Problem]:
    """Yield a problem for each number written with more than 100 characters."""
    if node is None or id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.ScalarNode):
        if node.tag.endswith((":int", ":float")) and len(node.value) > 100:
            yield (node.start_mark.line + 1, ".".join(map(str, path)),
                   f"a number of {len(node.value)} characters is not a usable value")
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _long_numbers(value, (*path, getattr(key, "value", "?")), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _long_numbers(item, (*path, i), seen)


def _duplicate_keys(node: yaml.Node, path: _Loc, seen: set[int]) -> Iterator[_Problem]:
    """Yield a problem for each key set twice in one mapping (YAML would keep only the last)."""
    if id(node) in seen:  # an alias to a node already walked
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[str, int] = {}
        for key, value in node.value:
            name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
            line = key.start_mark.line + 1
            if name in first and name != "<<":
                yield (line, _dotted((*path, name)),
                       f"duplicate key {name!r}; it is already set on line {first[name]}")
            first.setdefault(name, line)
            yield from _duplicate_keys(value, (*path, name), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, i), seen)


def _yaml_problem(exc: yaml.YAMLError) -> _Problem:
    mark = getattr(exc, "problem_mark", None)
    detail = ": ".join(filter(None, [getattr(exc, "context", None),
                                     getattr(exc, "problem", None)])) or str(exc)
    return (None if mark is None else mark.line + 1, "", f"invalid YAML, {detail}")
