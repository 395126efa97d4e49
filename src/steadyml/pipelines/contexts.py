"""The platform a step runs on, for built-in steps (gates) that read the store.

The runner binds its platform around each step it executes in this process. A step run
elsewhere (another process, a Ray task) sees none, and a gate that needs one says so.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from steadyml.platform import Platform


@contextlib.contextmanager
def bind_platform(platform: Platform) -> Iterator[None]:
    """Make `platform` the running platform of the steps executed inside the block."""
    token = _platform.set(platform)
    try:
        yield
    finally:
        _platform.reset(token)


def running_platform() -> Platform | None:
    """Return the platform of the running pipeline, or None outside a run."""
    return _platform.get()


_platform: contextvars.ContextVar[Platform | None] = contextvars.ContextVar(
    "steadyml_running_platform", default=None)
