"""The model-quality gate: thresholds, the champion, slices, latency and size.

    gate = model_gate(model="model", holdout="holdout", target="target", model_name="churn",
                      checks=ModelChecks(metrics={"roc_auc": {"min": 0.8}},
                                         min_improvement=0.01,
                                         slices={"de": "country=de"},
                                         max_slice_regression=0.02,
                                         max_latency_ms=1.0, max_size_bytes=5_000_000))

The candidate must meet every absolute threshold; beat the current champion (`NAME@champion`,
loaded from the registry, verified) on the same holdout by `min_improvement` on the compared
metric (lower is better for losses: log_loss, mae, rmse); and on no slice fall behind the
champion by more than `max_slice_regression`. Without a champion the comparisons pass and say
"no champion". Metrics are those of online monitoring (`steadyml.monitoring.online`), so a
model is judged offline by the same arithmetic that judges it in production.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from steadyml.core.clock import Clock
from steadyml.core.errors import AliasNotFoundError, InvalidInputError, ModelNotFoundError
from steadyml.monitoring.online import classification_metrics, regression_metrics
from steadyml.pipelines.errors import GateFailedError
from steadyml.pipelines.gates import (
    CheckResult,
    GateKind,
    GateResult,
    GateStep,
    gate_clock,
    require_platform,
    show,
)

CLASSIFICATION_METRICS = ("accuracy", "precision", "recall", "roc_auc", "log_loss")
REGRESSION_METRICS = ("mae", "rmse")
LOWER_IS_BETTER = frozenset({"log_loss", "mae", "rmse"})
Slice = str | Callable[[Any], Any]  # "column=value", or a function of the holdout -> bool mask


@dataclass(frozen=True, kw_only=True)
class ModelChecks:
    """The checks of a model gate; a limit of None skips its check.

    `metrics` maps a metric to its bounds, e.g. {"roc_auc": {"min": 0.8}, "log_loss":
    {"max": 0.4}}. `compare_metric` (default: the first of `metrics`) is the one compared with
    the champion and on slices.
    """

    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    compare_metric: str | None = None
    min_improvement: float = 0.0
    champion_alias: str = "champion"
    slices: Mapping[str, Slice] = field(default_factory=dict)
    max_slice_regression: float | None = 0.0
    max_latency_ms: float | None = None  # median predict time per row, on a holdout batch
    latency_rows: int = 1000
    latency_repeats: int = 5
    max_size_bytes: int | None = None  # the model's registered (serialised) size

    def __post_init__(self) -> None:
        known = CLASSIFICATION_METRICS + REGRESSION_METRICS
        for metric, bounds in self.metrics.items():
            if metric not in known:
                raise InvalidInputError(f"ModelChecks.metrics names {metric!r}; the metrics "
                                        f"are {', '.join(known)}.")
            if not bounds or set(bounds) - {"min", "max"}:
                raise InvalidInputError(f"ModelChecks.metrics[{metric!r}] must give 'min' "
                                        f"and/or 'max', got {dict(bounds)!r}.")
        if self.compare_metric is not None and self.compare_metric not in known:
            raise InvalidInputError(f"ModelChecks.compare_metric {self.compare_metric!r} is "
                                    f"not one of {', '.join(known)}.")
        if self.latency_rows < 1 or self.latency_repeats < 1:
            raise InvalidInputError("ModelChecks.latency_rows and latency_repeats must be >= 1.")

    @property
    def metric(self) -> str | None:
        """Return the metric compared with the champion and on slices."""
        return self.compare_metric or next(iter(self.metrics), None)


@dataclass(frozen=True)
class Champion:
    """The model the candidate must beat, as the registry holds it."""

    ref: str
    model: Any
    size_bytes: int | None = None


def evaluate_model(candidate: Any, holdout: Any, *, target: str, checks: ModelChecks,
                   champion: Champion | None, gate: str = "model-quality",
                   features: Sequence[str] | None = None, positive: Any = None,
                   no_champion: str = "no champion", now_ms: int = 0) -> GateResult:
    """Check `candidate` on `holdout` (a DataFrame holding `target`); return every comparison."""
    if target not in holdout.columns:
        raise InvalidInputError(f"Gate {gate!r}: the holdout has no target column {target!r}; "
                                f"its columns are {list(holdout.columns)}.")
    x = holdout[list(features)] if features is not None else holdout.drop(columns=[target])
    y = holdout[target].to_numpy()
    metric = checks.metric
    needed = set(checks.metrics) | ({metric} if metric else set())
    cand = _Predictions.of(candidate, x, needed)
    results: list[CheckResult] = []
    everything = np.ones(len(y), dtype=bool)
    values = cand.metrics(y, everything, needed, positive)
    for name, bounds in checks.metrics.items():
        for bound, limit in bounds.items():
            value = values[name]
            passed = value is not None and (value >= limit if bound == "min" else value <= limit)
            results.append(CheckResult(
                f"metric_{bound}", name, passed, value,
                f"{'>=' if bound == 'min' else '<='} {show(float(limit))}", limit=float(limit),
                note="" if value is not None else "cannot be computed on this holdout"))
    context: dict[str, Any] = {"against": champion.ref if champion else no_champion,
                               "rows": len(y), "metric": metric,
                               "candidate": {k: v for k, v in values.items() if k in needed}}
    if metric is not None:
        base = (_Predictions.of(champion.model, x, {metric}).metrics(y, everything, {metric},
                                                                      positive)
                if champion else None)
        context["champion"] = base
        results.append(_beats_champion(metric, values[metric], base, checks, no_champion))
        masks = {name: _slice_mask(holdout, spec, name, gate)
                 for name, spec in checks.slices.items()}
        champ = _Predictions.of(champion.model, x, {metric}) if champion and masks else None
        for name, mask in masks.items():
            results.append(_slice_check(name, mask, metric, cand, champ, y, checks, positive,
                                        no_champion))
    if checks.max_latency_ms is not None:
        per_row = _latency_ms(candidate, x, checks.latency_rows, checks.latency_repeats)
        results.append(CheckResult("latency", "model", per_row <= checks.max_latency_ms,
                                   per_row, f"<= {show(float(checks.max_latency_ms))} ms per row "
                                   "(median)", limit=float(checks.max_latency_ms),
                                   note=f"median of {checks.latency_repeats} batches of "
                                        f"{min(len(x), checks.latency_rows)} rows"))
    if checks.max_size_bytes is not None:
        size = model_size(candidate)
        results.append(CheckResult("size", "model", size <= checks.max_size_bytes, size,
                                   f"<= {checks.max_size_bytes} bytes" + (
                                       f" (champion {champion.size_bytes} bytes)"
                                       if champion and champion.size_bytes else ""),
                                   reference=champion.size_bytes if champion else None,
                                   limit=float(checks.max_size_bytes)))
    return GateResult(gate=gate, kind=GateKind.MODEL, checks=tuple(results), context=context,
                      created_ms=now_ms)


def load_champion(platform: Any, model_name: str, alias: str = "champion") -> Champion | None:
    """Return `model_name@alias` loaded (and verified) from the registry, or None if unset."""
    try:
        loaded = platform.registry.load(f"{model_name}@{alias}")
    except (AliasNotFoundError, ModelNotFoundError):
        return None
    return Champion(ref=loaded.ref, model=loaded, size_bytes=loaded.version.artifact_size)


def model_gate(*, model: str = "model", holdout: str = "holdout", target: str = "target",
               model_name: str | None = None, checks: ModelChecks | None = None,
               name: str = "model-quality", output: str = "model_gate",
               features: Sequence[str] | None = None, positive: Any = None,
               clock: Clock | None = None) -> GateStep:
    """Return a step checking its input `model` on its input `holdout`; it raises on a failure.

    With `model_name`, the candidate is compared with `model_name@champion` (see ModelChecks).
    The step outputs the gate result (JSON data) as `output`, for the register step to record
    on the new version with `Registry.record_gate`.
    """
    checks = checks or ModelChecks()
    if model_name is not None and checks.metric is None:
        raise InvalidInputError(f"Gate {name!r} compares with {model_name}@"
                                f"{checks.champion_alias} but names no metric: give "
                                "ModelChecks(metrics=...) or compare_metric.")

    def run_model_gate(**values: Any) -> dict[str, Any]:
        champion, missing = None, "no champion: no model name given"
        if model_name is not None:
            platform = require_platform(name, f"compares with {model_name}@"
                                              f"{checks.champion_alias}")
            champion = load_champion(platform, model_name, checks.champion_alias)
            missing = f"no champion: {model_name} has no alias {checks.champion_alias!r}"
        result = evaluate_model(values[model], values[holdout], target=target, checks=checks,
                                champion=champion, gate=name, features=features,
                                positive=positive, no_champion=missing,
                                now_ms=gate_clock(clock).now_ms())
        print(result.report())
        if not result.passed:
            raise GateFailedError(result)
        return result.to_dict()

    return GateStep(run_model_gate, name=name, inputs=[model, holdout], outputs=[output],
                    config={"model": model, "holdout": holdout, "target": target,
                            "model_name": model_name, "checks": checks, "features": features,
                            "positive": positive})


def model_size(model: Any) -> int:
    """Return the bytes the model takes in the registry (its flavor's serialised form)."""
    from steadyml.registry.flavors import save_model

    if hasattr(model, "version") and hasattr(model, "predictor"):  # a LoadedModel
        return int(model.version.artifact_size)
    return len(save_model(model).payload)


# --- parts ---------------------------------------------------------------------------------------


@dataclass
class _Predictions:
    """One model's predictions on the whole holdout, sliced by masks without predicting again."""

    labels: np.ndarray
    scores: np.ndarray | None
    classes: list[Any] | None

    @classmethod
    def of(cls, model: Any, x: Any, metrics: set[str]) -> _Predictions:
        x = inputs_for(model, x)
        labels = np.asarray(model.predict(x))
        scores = None
        if metrics & {"roc_auc", "log_loss"} and hasattr(model, "predict_proba"):
            scores = np.asarray(model.predict_proba(x))
        classes = getattr(model, "classes_", None)
        if classes is None:
            classes = getattr(getattr(model, "predictor", None), "classes_", None)
        return cls(labels, scores, None if classes is None else list(classes))

    def metrics(self, y: np.ndarray, mask: np.ndarray, names: set[str],
                positive: Any) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        if names & set(CLASSIFICATION_METRICS):
            scores = None if self.scores is None else self.scores[mask]
            out.update(classification_metrics(
                y[mask], self.labels[mask], scores, positive=positive,
                labels=self.classes if scores is not None else None))
        if names & set(REGRESSION_METRICS):
            out.update(regression_metrics(y[mask], self.labels[mask]))
        return out


def inputs_for(model: Any, x: Any) -> Any:
    """Return the columns of `x` the model takes (its signature's, or scikit-learn's
    `feature_names_in_`), so a holdout may carry slice and key columns the model does not use."""
    signature: Any = getattr(model, "signature", None)
    names = ([spec.name for spec in signature.inputs] if hasattr(signature, "inputs")
             else getattr(model, "feature_names_in_", None))
    if names is None:
        return x
    missing = [n for n in names if n not in x.columns]
    if missing:
        raise InvalidInputError(f"The holdout lacks the model's input columns {missing}; it "
                                f"has {list(x.columns)}.")
    return x[list(names)]


def _beats_champion(metric: str, value: float | None, base: dict[str, Any] | None,
                    checks: ModelChecks, no_champion: str) -> CheckResult:
    margin = checks.min_improvement
    if base is None:
        return CheckResult("beats_champion", metric, True, value, "the champion's value "
                           f"{'-' if metric in LOWER_IS_BETTER else '+'} {show(margin)}",
                           note=no_champion)
    champ = base.get(metric)
    if champ is None or value is None:
        return CheckResult("beats_champion", metric, False, value, "a value for both models",
                           reference=champ, note="cannot be computed on this holdout")
    lower = metric in LOWER_IS_BETTER
    limit = champ - margin if lower else champ + margin
    passed = value <= limit + 1e-12 if lower else value >= limit - 1e-12
    return CheckResult("beats_champion", metric, passed, value,
                       f"{'<=' if lower else '>='} {show(limit)} (champion {show(champ)} "
                       f"{'-' if lower else '+'} margin {show(margin)})",
                       reference=champ, limit=limit)


def _slice_check(name: str, mask: np.ndarray, metric: str, cand: _Predictions,
                 champ: _Predictions | None, y: np.ndarray, checks: ModelChecks,
                 positive: Any, no_champion: str) -> CheckResult:
    subject = f"slice {name!r} {metric}"
    rows = int(mask.sum())
    if rows == 0:
        return CheckResult("slice_regression", subject, False, None, "a non-empty slice",
                           note="the slice matches no row of the holdout")
    value = cand.metrics(y, mask, {metric}, positive)[metric]
    allowed = checks.max_slice_regression
    if champ is None or allowed is None:
        return CheckResult("slice_regression", subject, True, value, "no regression limit",
                           note=no_champion if champ is None else f"{rows} rows")
    base = champ.metrics(y, mask, {metric}, positive)[metric]
    if value is None or base is None:
        return CheckResult("slice_regression", subject, True, value, "a value for both models",
                           reference=base, note=f"not computable on this slice ({rows} rows)")
    lower = metric in LOWER_IS_BETTER
    limit = base + allowed if lower else base - allowed
    passed = value <= limit + 1e-12 if lower else value >= limit - 1e-12
    return CheckResult("slice_regression", subject, passed, value,
                       f"{'<=' if lower else '>='} {show(limit)} (champion {show(base)} "
                       f"{'+' if lower else '-'} {show(allowed)})", reference=base, limit=limit,
                       note=f"{rows} rows")


def _slice_mask(holdout: Any, spec: Slice, name: str, gate: str) -> np.ndarray:
    if callable(spec):
        mask = np.asarray(spec(holdout), dtype=bool)
    else:
        column, sep, value = str(spec).partition("=")
        if not sep or column not in holdout.columns:
            raise InvalidInputError(
                f"Gate {gate!r}: slice {name!r} is {spec!r}; write 'COLUMN=VALUE' with a "
                f"column of the holdout ({list(holdout.columns)}), or give a function of "
                "the holdout returning a boolean mask.")
        mask = (holdout[column].astype(str) == value).to_numpy()
    if mask.shape != (len(holdout),):
        raise InvalidInputError(f"Gate {gate!r}: slice {name!r} gave a mask of shape "
                                f"{mask.shape}; it must have one value per holdout row "
                                f"({len(holdout)}).")
    return mask


def _latency_ms(model: Any, x: Any, rows: int, repeats: int) -> float:
    """Return the median time per row, in ms, of predicting one batch `repeats` times."""
    batch = inputs_for(model, x).iloc[:rows]
    model.predict(batch)  # warm-up: first-call costs (imports, caches) are not latency
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(batch)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1000 / max(len(batch), 1)
