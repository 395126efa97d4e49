"""Identifiers and names."""

from __future__ import annotations

import re
import uuid

from steadyml.core.errors import InvalidNameError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_KEY = re.compile(r"^[A-Za-z0-9_.\-/ ]{1,250}$")


def new_id() -> str:
    """Return a new random 32-character hex identifier."""
    return uuid.uuid4().hex


def check_name(value: str, kind: str) -> str:
    """Return `value` if it is a valid name of `kind` (model, alias, experiment, deployment)."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidNameError(
            f"Invalid {kind} name {value!r}: use 1-128 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit.")
    return value


def check_key(value: str, kind: str) -> str:
    """Return `value` if it is a valid param, metric or tag key."""
    if isinstance(value, str) and value in _VALID_KEYS:  # the same keys recur every batch
        return value
    if not isinstance(value, str) or not _KEY.match(value) or ".." in value:
        raise InvalidNameError(
            f"Invalid {kind} key {value!r}: use 1-250 letters, digits, spaces or '_-./', "
            "and no '..'.")
    if len(_VALID_KEYS) < 100_000:
        _VALID_KEYS.add(value)
    return value


_VALID_KEYS: set[str] = set()
