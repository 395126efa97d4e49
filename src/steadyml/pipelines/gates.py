"""Quality gates: built-in steps that check data or a model and stop the pipeline on a failure.

A gate is an ordinary step made by a factory (`data_gate`, `model_gate`). It returns a
`GateResult` as JSON data (every number it compared) and raises `GateFailedError` when a check
fails, so the runner records the step as failed with the report in its log, and the steps after
it (training, registering) never run. A gate is never reused from the cache: its verdict also
depends on the store (the reference dataset, the champion) and on the clock (freshness). Its
code version covers its configuration, so changing a threshold shows in the step record.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from steadyml.core.clock import Clock, SystemClock
from steadyml.core.fingerprints import sha256_hex, sha256_json
from steadyml.pipelines.contexts import running_platform
from steadyml.pipelines.steps import Step, code_version

if TYPE_CHECKING:
    from steadyml.platform import Platform

_SHOWN_FAILURES = 20  # a report lists at most this many failed checks; the result holds all


class GateKind(StrEnum):
    DATA = "data"
    MODEL = "model"


@dataclass(frozen=True)
class CheckResult:
    """One comparison a gate made: what, on which column/metric/slice, the numbers, the verdict.

    `actual` is the value measured now; `reference` the value it was compared with (the
    reference profile's, or the champion's); `limit` the number `actual` had to satisfy, and
    `expected` the rule as a reader reads it (`<= 0.05`).
    """

    check: str
    subject: str
    passed: bool
    actual: Any
    expected: str
    reference: Any = None
    limit: float | None = None
    note: str = ""

    def describe(self) -> str:
        """Return `SUBJECT CHECK: expected …, actual …; note` (the expected text names the
        reference value it was derived from)."""
        text = (f"{self.subject} {self.check}: expected {self.expected}, "
                f"actual {show(self.actual)}")
        return text + (f"; {self.note}" if self.note else "")

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "subject": self.subject, "passed": self.passed,
                "actual": _json_number(self.actual), "expected": self.expected,
                "reference": _json_number(self.reference),
                "limit": _json_number(self.limit), "note": self.note}


@dataclass(frozen=True)
class GateResult:
    """What a gate checked and found; `to_dict()` is what gets recorded on a model version."""

    gate: str
    kind: GateKind
    checks: tuple[CheckResult, ...]
    context: dict[str, Any] = field(default_factory=dict)
    created_ms: int = 0

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.passed]

    def report(self) -> str:
        """Return the verdict as text: one line, then one line per failed check."""
        against = f" against {self.context['against']}" if self.context.get("against") else ""
        failures = self.failures
        if not failures:
            return f"Gate {self.gate!r} passed all {len(self.checks)} checks{against}."
        lines = [f"Gate {self.gate!r} failed {len(failures)} of {len(self.checks)} "
                 f"checks{against}:"]
        lines += [f"  - {c.describe()}" for c in failures[:_SHOWN_FAILURES]]
        if len(failures) > _SHOWN_FAILURES:
            lines.append(f"  - and {len(failures) - _SHOWN_FAILURES} more (see the result)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "kind": self.kind.value, "passed": self.passed,
                "created_ms": self.created_ms, "context": self.context,
                "checks": [c.to_dict() for c in self.checks]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        checks = tuple(CheckResult(**c) for c in data["checks"])
        return cls(gate=data["gate"], kind=GateKind(data["kind"]), checks=checks,
                   context=dict(data.get("context", {})), created_ms=int(data["created_ms"]))


class GateStep(Step):
    """A step made by a gate factory: its inputs are named by the factory's arguments."""

    cacheable = False

    def __init__(self, fn: Callable[..., Any], *, name: str, inputs: Sequence[str],
                 outputs: Sequence[str], config: Any) -> None:
        # The function takes **values; the signature tells the pipeline which inputs it needs.
        fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(i, inspect.Parameter.KEYWORD_ONLY) for i in inputs])
        super().__init__(fn, name=name, outputs=outputs)
        self.config = config
        self._config_digest = sha256_json(describe_config(config))

    @property
    def code_version(self) -> str:
        """Return the sha256 of the gate's code and of its configuration."""
        if self._code_version is None:
            self._code_version = sha256_hex(f"{code_version(self.fn)}:{self._config_digest}")
        return self._code_version


def describe_config(value: Any) -> Any:
    """Return a gate's configuration as JSON data, for its code version."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return repr(value)  # NaN and infinities too
    if isinstance(value, StrEnum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {"type": type(value).__name__,
                **{f.name: describe_config(getattr(value, f.name)) for f in fields(value)}}
    if isinstance(value, Mapping):
        return {str(k): describe_config(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [describe_config(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    if callable(value) and hasattr(value, "__code__"):
        return f"code:{code_version(value)}"
    fingerprint = _data_fingerprint(value)
    if fingerprint is not None:
        return f"dataset:{fingerprint}"
    return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"


def gate_clock(clock: Clock | None) -> Clock:
    """Return the clock a gate reads: the given one, the running platform's, else the system's."""
    if clock is not None:
        return clock
    platform = running_platform()
    return getattr(platform, "clock", None) or SystemClock()


def require_platform(gate: str, why: str) -> Platform:
    """Return the running pipeline's platform, or raise an error saying how to give one."""
    from steadyml.pipelines.errors import PipelineError

    platform = running_platform()
    if platform is None:
        raise PipelineError(
            f"Gate {gate!r} {why}, which it reads through the platform running the pipeline, "
            "but it runs outside one. Run the pipeline with Pipelines(platform).run(...) or "
            "`steady pipeline run` on the local executor.")
    return platform


def show(value: Any) -> str:
    """Return a number as a report shows it (6 significant digits), anything else as text."""
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, str):
        return value
    return "none" if value is None else str(value)


def listed(values: Iterable[Any], limit: int = 5) -> str:
    items = list(values)
    text = ", ".join(repr(v) for v in items[:limit])
    return text + (f", … ({len(items)} in all)" if len(items) > limit else "")


def _json_number(value: Any) -> Any:
    """Return a value JSON keeps exactly: numpy scalars as Python's, NaN as None."""
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _data_fingerprint(value: Any) -> str | None:
    import sys

    pa = sys.modules.get("pyarrow")
    pd = sys.modules.get("pandas")
    if not ((pa is not None and isinstance(value, pa.Table))
            or (pd is not None and isinstance(value, pd.DataFrame))):
        return None
    from steadyml.tracking import datasets as ds

    return ds.fingerprint(ds.to_table(value)[0])
