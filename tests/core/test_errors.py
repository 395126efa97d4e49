"""The error hierarchy matches the tree drawn in core/errors.py's docstring."""

from __future__ import annotations

import builtins
import inspect
import re

import pytest

import steadyml.core
from steadyml.core import errors

_LINE = re.compile(r"^(?P<indent>[ │]*)(?:[├└]── )?(?P<name>[A-Za-z]+)(?: \((?P<builtin>\w+)\))?")


def _documented_tree() -> dict[str, tuple[str | None, str | None]]:
    """Parse the docstring tree into {class name: (parent name, documented built-in)}."""
    lines = [line[4:] for line in (errors.__doc__ or "").splitlines()
             if line.startswith("    ") and line.strip()]
    tree: dict[str, tuple[str | None, str | None]] = {}
    stack: list[str] = []
    for line in lines:
        match = _LINE.match(line)
        assert match, f"cannot parse docstring line {line!r}"
        depth = 0 if "──" not in line else len(match["indent"]) // 4 + 1
        del stack[depth:]
        tree[match["name"]] = (stack[-1] if stack else None, match["builtin"])
        stack.append(match["name"])
    return tree


TREE = _documented_tree()
ERROR_CLASSES = {name: obj for name, obj in vars(errors).items()
                 if inspect.isclass(obj) and issubclass(obj, Exception)
                 and obj.__module__ == errors.__name__}


def test_docstring_tree_parses() -> None:
    assert TREE["SteadyError"] == (None, None)
    assert TREE["StoreUnavailableError"] == ("StoreError", "ConnectionError")
    assert TREE["RunStateError"] == ("ConflictError", None)
    assert len(TREE) >= 20


def test_every_error_class_is_documented_and_exported() -> None:
    assert set(ERROR_CLASSES) == set(TREE)
    assert set(ERROR_CLASSES) <= set(steadyml.core.__all__)


@pytest.mark.parametrize("name", sorted(TREE))
def test_class_matches_its_place_in_the_tree(name: str) -> None:
    cls = ERROR_CLASSES[name]
    parent, builtin = TREE[name]
    if parent is None:
        assert cls.__bases__ == (Exception,)
        return
    assert issubclass(cls, errors.SteadyError)
    assert cls.__bases__[0] is ERROR_CLASSES[parent]
    if builtin is not None:
        assert issubclass(cls, getattr(builtins, builtin))
    # A class inherits the built-in of every documented ancestor.
    ancestor = parent
    while ancestor is not None:
        ancestor_builtin = TREE[ancestor][1]
        if ancestor_builtin:
            assert issubclass(cls, getattr(builtins, ancestor_builtin))
        ancestor = TREE[ancestor][0]


@pytest.mark.parametrize("cls, builtin", [
    (errors.ConfigurationError, ValueError),
    (errors.StoreUnavailableError, ConnectionError),
    (errors.ArtifactNotFoundError, LookupError),
    (errors.ArtifactCorruptError, ValueError),
    (errors.NotFoundError, LookupError),
    (errors.RunNotFoundError, LookupError),
    (errors.ModelNotFoundError, LookupError),
    (errors.InvalidInputError, ValueError),
    (errors.InvalidNameError, ValueError),
    (errors.SignatureMismatchError, ValueError),
])
def test_callers_can_catch_the_built_in(cls: type[Exception], builtin: type[Exception]) -> None:
    assert issubclass(cls, errors.SteadyError) and issubclass(cls, builtin)


def test_errors_that_are_not_lookups_are_not_caught_as_lookups() -> None:
    assert not issubclass(errors.ArtifactCorruptError, LookupError)
    assert not issubclass(errors.StoreUnavailableError, ValueError)
    assert not issubclass(errors.AuditChainError, (ValueError, LookupError))


@pytest.mark.parametrize("error, expected", [
    (errors.ArtifactNotFoundError("ab" * 32, "s3://b/p"), ["ab" * 32, "s3://b/p",
                                                           "STEADY_ARTIFACTS"]),
    (errors.ArtifactCorruptError("ab" * 32, "cd" * 32, "/x"), ["ab" * 32, "cd" * 32, "/x"]),
    (errors.ExperimentNotFoundError("churn"), ["'churn'", "steady runs list"]),
    (errors.RunNotFoundError("r1"), ["'r1'", "steady runs list"]),
    (errors.DatasetNotFoundError("train@1"), ["'train@1'", "log_dataset"]),
    (errors.ModelNotFoundError("churn"), ["'churn'", "steady models list"]),
    (errors.ModelNotFoundError("churn", 3), ["'churn'", "version 3",
                                             "steady models show churn"]),
    (errors.AliasNotFoundError("churn", "champion"), ["'champion'", "steady models alias"]),
    (errors.InvalidModelRefError("churn#3"), ["'churn#3'", "NAME:VERSION", "NAME@ALIAS"]),
])
def test_messages_give_the_value_and_the_next_step(error: Exception,
                                                   expected: list[str]) -> None:
    message = str(error)
    for fragment in expected:
        assert fragment in message
