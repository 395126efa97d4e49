"""The platform a step runs on, for built-in steps (gates) that read the store.

The runner binds its platform around each step it executes in this process. An executor that
runs steps elsewhere (a Ray task) binds a callable that opens the platform on first use; a
step run where nothing is bound sees none, and a gate that needs one says so.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from steadyml.platform import Platform


@contextlib.contextmanager
def bind_platform(platform: Platform | Callable[[], Platform]) -> Iterator[None]:
    """Make `platform` (or what the callable returns) the running platform inside the block."""
    token = _platform.set(platform)
    try:
        yield
    finally:
        _platform.reset(token)


def running_platform() -> Platform | None:
    """Return the platform of the running pipeline, or None outside a run."""
    bound = _platform.get()
    return bound() if callable(bound) else bound


_platform: contextvars.ContextVar[Platform | Callable[[], Platform] | None] = (
    contextvars.ContextVar("steadyml_running_platform", default=None))


@contextlib.contextmanager
def bind_run(run_id: str) -> Iterator[None]:
    """Make `run_id` the running pipeline run inside the block (for steps run in the driver)."""
    token = _run_id.set(run_id)
    try:
        yield
    finally:
        _run_id.reset(token)


def running_run_id() -> str | None:
    """Return the id of the pipeline run executing the current step, or None outside one."""
    return _run_id.get()


_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "steadyml_running_run_id", default=None)
