"""Pipeline params: check Python values and convert command-line strings by the annotation.

Params are JSON values (str, int, float, bool, None, lists and dicts of them) or paths, so a
run can store exactly what it used and a rerun can use exactly that again.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from pathlib import Path, PurePath
from typing import Any

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NONE = {"none", "null"}


class ParamTypeError(ValueError):
    """A value does not fit an annotation; the caller adds the pipeline, step and param."""


def describe(annotation: Any) -> str:
    """Return an annotation as a user reads it: int, float | None, list[str]."""
    if annotation is None:
        return "any"
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def convert_text(text: str, annotation: Any) -> Any:
    """Return the value a command-line string means for a parameter of type `annotation`."""
    options, nullable = _options(annotation)
    if nullable and text.strip().lower() in _NONE:
        return None
    if not options:  # no annotation: a JSON literal if it is one, else the string itself
        try:
            return json.loads(text)
        except ValueError:
            return text
    for option in options:
        try:
            return _convert_one(text, option)
        except TypeError as exc:
            raise ParamTypeError(str(exc)) from None
        except ValueError:
            continue
    raise ParamTypeError(f"{text!r} is not a valid {describe(annotation)}")


def check_value(value: Any, annotation: Any) -> Any:
    """Return `value` if it fits `annotation` (an int is accepted for a float); else raise."""
    options, nullable = _options(annotation)
    if value is None:
        if nullable or not options:
            return None
        raise ParamTypeError(f"None is not a valid {describe(annotation)}")
    if not options:
        return value
    for option in options:
        base = typing.get_origin(option) or option
        if base is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if base is int and isinstance(value, bool):
            continue
        if base in (Path, PurePath) and isinstance(value, str | PurePath):
            return Path(value)
        if isinstance(base, type) and isinstance(value, base):
            return value
    raise ParamTypeError(f"{value!r} ({type(value).__name__}) is not a valid "
                         f"{describe(annotation)}")


def to_json(value: Any) -> Any:
    """Return a param value as JSON data (paths as strings); raise if it is not JSON data."""
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value  # NaN and infinities too: canonical JSON keeps them
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: to_json(v) for k, v in value.items()}
    raise ParamTypeError(f"a {type(value).__name__} cannot be a pipeline param; params are "
                         "JSON values (str, int, float, bool, None, lists, dicts) or paths. "
                         "Produce other objects in a step")


def _options(annotation: Any) -> tuple[list[Any], bool]:
    """Return the non-None members of an annotation and whether None is allowed."""
    if annotation is None or annotation is Any or annotation is inspect.Parameter.empty:
        return [], True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = typing.get_args(annotation)
        members = [a for a in args if a is not type(None)]
        return [m for m in members if m is not Any], len(members) < len(args)
    return [annotation], False


def _convert_one(text: str, option: Any) -> Any:
    base = typing.get_origin(option) or option
    if base is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError(text)
    if base is int:
        return int(text.strip())
    if base is float:
        return float(text.strip())
    if base is str:
        return text
    if base in (Path, PurePath):
        return Path(text)
    if base in (list, dict, tuple):
        value = json.loads(text)
        if not isinstance(value, list if base is tuple else base):
            raise ValueError(text)
        return tuple(value) if base is tuple else value
    if typing.get_origin(option) is typing.Literal:
        for allowed in typing.get_args(option):
            if str(allowed) == text:
                return allowed
        raise ValueError(text)
    raise TypeError(f"a {describe(option)} cannot be given on the command line")
