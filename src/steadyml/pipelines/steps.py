"""Steps: plain functions whose parameters are their inputs and whose return values are outputs.

A step's code version is the sha256 of its source, plus the source of the functions and
classes of the same module that it calls, plus the simple constants it reads. Changing any
of them runs the step again instead of reusing its cached outputs.
"""

from __future__ import annotations

import inspect
import marshal
import textwrap
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, overload

from steadyml.core.fingerprints import sha256_hex
from steadyml.core.ids import check_name
from steadyml.pipelines.errors import PipelineDefinitionError

_NO_DEFAULT = inspect.Parameter.empty
_SIMPLE_CONSTANTS = (bool, int, float, str, bytes, type(None))


@dataclass(frozen=True)
class StepInput:
    """One parameter of a step: its name, annotation (None: none given) and default."""

    name: str
    annotation: Any
    default: Any = _NO_DEFAULT

    @property
    def has_default(self) -> bool:
        return self.default is not _NO_DEFAULT


class Step:
    """A function of the pipeline; call `step` to make one."""

    # False: the runner executes the step every time and never reuses a cached result (gates,
    # whose verdict depends on the store and the clock as well as on their inputs).
    cacheable = True
    # True: the runner executes the step in its own process whatever the executor (steps that
    # register or deploy, which need the run they belong to).
    runs_in_driver = False

    def __init__(self, fn: Callable[..., Any], *, name: str | None = None,
                 outputs: Sequence[str] | str | None = None) -> None:
        self.fn = fn
        self.name = check_name(name or fn.__name__, "step")
        if outputs is None:
            outputs = (self.name,)
        elif isinstance(outputs, str):
            outputs = (outputs,)
        self.outputs: tuple[str, ...] = tuple(check_name(o, "step output") for o in outputs)
        if len(set(self.outputs)) != len(self.outputs):
            raise PipelineDefinitionError(
                f"Step {self.name!r} declares the output names {list(self.outputs)} more than "
                "once; give each output its own name.")
        self.inputs: tuple[StepInput, ...] = _inputs_of(fn, self.name)
        self._code_version: str | None = None

    @property
    def code_version(self) -> str:
        """Return the sha256 of the step's code (computed once per process)."""
        if self._code_version is None:
            self._code_version = code_version(self.fn)
        return self._code_version

    def split_outputs(self, returned: Any) -> tuple[Any, ...]:
        """Return what the function returned as one value per declared output."""
        if len(self.outputs) == 0:
            return ()
        if len(self.outputs) == 1:
            return (returned,)
        if not isinstance(returned, tuple) or len(returned) != len(self.outputs):
            got = (f"a tuple of {len(returned)}" if isinstance(returned, tuple)
                   else f"a {type(returned).__name__}")
            raise PipelineDefinitionError(
                f"Step {self.name!r} declares {len(self.outputs)} outputs "
                f"{list(self.outputs)} but returned {got}; return a tuple with one value per "
                "output.")
        return returned

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Step({self.name!r}, inputs={[i.name for i in self.inputs]}, " \
               f"outputs={list(self.outputs)})"


@overload
def step(fn: Callable[..., Any], /) -> Step: ...


@overload
def step(*, name: str | None = None, outputs: Sequence[str] | str | None = None,
         cache: bool = True) -> Callable[[Callable[..., Any]], Step]: ...


def step(fn: Callable[..., Any] | None = None, /, *, name: str | None = None,
         outputs: Sequence[str] | str | None = None, cache: bool = True) -> Any:
    """Make a function a pipeline step: `@step` or `@step(outputs=("train", "holdout"))`.

    Its parameters are its inputs, satisfied by earlier steps' outputs of the same name or by
    pipeline params. Its single output is named after the step unless `outputs` names them;
    with several outputs the function returns a tuple, one value per output.

    `cache=False` runs the step every time: for a step reading data from outside (a file, a
    table) whose content can change while its inputs (a path) stay the same. Its outputs are
    still fingerprinted by content, so the steps after it are reused when the data is unchanged.
    """
    def make(f: Callable[..., Any]) -> Step:
        made = Step(f, name=name, outputs=outputs)
        if not cache:
            made.cacheable = False
        return made

    return make(fn) if fn is not None else make


def _inputs_of(fn: Callable[..., Any], step_name: str) -> tuple[StepInput, ...]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise PipelineDefinitionError(
            f"Step {step_name!r} is not a function steadyml can inspect: {exc}.") from None
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # an annotation naming something not importable: check nothing
        hints = {}
    inputs = []
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise PipelineDefinitionError(
                f"Step {step_name!r} has the parameter {p}; a step's inputs must be named "
                "parameters (no *args, **kwargs or positional-only parameters).")
        inputs.append(StepInput(p.name, hints.get(p.name), p.default))
    return tuple(inputs)


def code_version(fn: Callable[..., Any]) -> str:
    """Return the sha256 of a function's code and of the same-module code it reaches."""
    parts: list[str] = []
    _collect(fn, parts, set(), getattr(fn, "__module__", None))
    return sha256_hex("\x00".join(parts))


def _collect(obj: Any, parts: list[str], seen: set[int], module: str | None) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    obj = inspect.unwrap(obj) if callable(obj) else obj
    parts.append(_source(obj))
    code = getattr(obj, "__code__", None)
    if isinstance(obj, type):  # a class: follow what its methods reach
        for member in vars(obj).values():
            target = getattr(member, "__func__", member)
            if inspect.isfunction(target):
                _collect_globals(target, parts, seen, module)
        return
    if code is not None:
        _collect_globals(obj, parts, seen, module)
        for cell in getattr(obj, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            _collect_value("<closure>", value, parts, seen, module)


def _collect_globals(fn: Any, parts: list[str], seen: set[int], module: str | None) -> None:
    namespace = getattr(fn, "__globals__", {})
    for name in sorted(_names(fn.__code__)):
        if name in namespace:
            _collect_value(name, namespace[name], parts, seen, module)


def _collect_value(name: str, value: Any, parts: list[str], seen: set[int],
                   module: str | None) -> None:
    if isinstance(value, Step):
        value = value.fn
    if isinstance(value, _SIMPLE_CONSTANTS) or (
            isinstance(value, tuple | frozenset) and all(
                isinstance(v, _SIMPLE_CONSTANTS) for v in value)):
        parts.append(f"{name}={value!r}")
    elif (inspect.isfunction(value) or inspect.isclass(value)) and \
            getattr(value, "__module__", None) == module and module is not None:
        _collect(value, parts, seen, module)
    # Everything else (imported libraries, steadyml itself, mutable globals) is not hashed:
    # library versions are recorded with the run's environment instead.


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _source(obj: Any) -> str:
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError):  # defined in a REPL or by exec: hash the bytecode instead
        code = getattr(obj, "__code__", None)
        if code is None:
            return repr(obj)
        return marshal.dumps(code).hex()
