"""Run each step as a Ray task, on a local Ray instance or a cluster (`steadyml[ray]`).

The task calls `execute_step` on a worker and hands back its `StepOutcome`: metrics, captured
logs, and the outputs encoded there as the runner stores them (Parquet and JSON outputs are
byte for byte those of `LocalExecutor`; a pickle's bytes also depend on which equal strings
the process shares, so a model's digest can differ between executors; it is stable between
runs on the same one). The runner caches, stores and records in the driver as always.
What a task carries is pickled here with cloudpickle:

- the step, its inputs and seed. A function whose module cannot be imported by name (a
  pipeline file loaded by path) travels by value, with the functions and classes of its
  module; other modules are imported on the worker, with the driver's `sys.path` added to the
  worker's so that modules beside a pipeline file import on a local cluster.
- the settings and clock of the platform running the pipeline. A gate that reads the store
  opens the platform on the worker on first use; that needs a store the worker reaches: any
  store on the driver's machine, else PostgreSQL and an object store.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import socket
import sys
import traceback
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cloudpickle

from steadyml.core.clock import Clock
from steadyml.core.errors import ConfigurationError
from steadyml.core.settings import Settings
from steadyml.pipelines.contexts import bind_platform, running_platform
from steadyml.pipelines.errors import PipelineError
from steadyml.pipelines.executors import StepOutcome, StepTask, encode_outputs, execute_step

if TYPE_CHECKING:
    from steadyml.platform import Platform

RAY_EXTRA = "pip install 'steadyml[ray]'"


class RayExecutor:
    """Run each step as a Ray task; start a local Ray instance if none is running.

    `address` is the cluster to join (`"auto"`, `"ray://head:10001"`); None starts a local
    instance, or joins the one RAY_ADDRESS names. `num_cpus` is what a step's task reserves;
    `init_options` go to `ray.init` when this executor starts Ray. Use it as a context
    manager (or call `close`) to shut down a Ray instance it started.
    """

    def __init__(self, *, address: str | None = None, num_cpus: float = 1,
                 init_options: Mapping[str, Any] | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.init_options = dict(init_options or {})
        self._started = False
        self._remote: Any = None
        self._by_value: set[str] = set()

    def execute(self, task: StepTask) -> StepOutcome:
        ray = self._connect()
        by_value = self._ship_module_of(task.step.fn)
        try:
            payload = cloudpickle.dumps((task, _origin_of(running_platform()), by_value))
        except Exception as exc:
            return _failed(f"cannot send the step to Ray: {type(exc).__name__}: {exc}")
        ref = self._remote.options(
            num_cpus=self.num_cpus, name=f"{task.pipeline}.{task.step.name}",
        ).remote(payload, [p for p in sys.path if p])
        try:
            return cloudpickle.loads(ray.get(ref))
        except ray.exceptions.RayError as exc:  # the worker died, or the task was cancelled
            return _failed(f"its Ray task failed: {type(exc).__name__}: {exc}")
        except BaseException:  # interrupted: stop the step on its worker too
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
            raise

    def close(self) -> None:
        """Shut down the Ray instance this executor started, if it did."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
            self._remote = None

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _connect(self) -> Any:
        ray = import_ray()
        if not ray.is_initialized():
            options = {"include_dashboard": False, "log_to_driver": False,
                       **self.init_options}
            ray.init(address=self.address, **options)
            self._started = True
        if self._remote is None:
            # No retries: a step may have had effects (a registered model) before it died.
            self._remote = ray.remote(max_retries=0)(_run_on_worker)
        return ray

    def _ship_module_of(self, fn: Any) -> bool:
        """Pickle by value the module of `fn` if workers cannot import it by name; say if so."""
        name = getattr(fn, "__module__", None) or "__main__"
        if name in self._by_value:
            return True
        if name == "__main__" or name not in sys.modules:
            return False
        top = name.partition(".")[0]
        if top in sys.builtin_module_names or importlib.machinery.PathFinder.find_spec(top):
            return False
        cloudpickle.register_pickle_by_value(sys.modules[name])
        self._by_value.add(name)
        return True


def import_ray() -> Any:
    """Return the `ray` module, or raise an error saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigurationError(f"The Ray executor needs Ray, which is not installed: "
                                 f"{RAY_EXTRA}, or run with the local executor.") from exc
    return ray


@dataclass(frozen=True)
class _Origin:
    """Where the driver's platform keeps its state, to open it again on a worker."""

    settings: Settings
    clock: Clock
    host: str


def _origin_of(platform: Platform | None) -> _Origin | None:
    if platform is None:
        return None
    return _Origin(platform.settings, platform.clock, socket.gethostname())


class _OpenOnFirstUse:
    """Open the driver's platform on a worker the first time a step asks for it."""

    def __init__(self, origin: _Origin) -> None:
        self.origin = origin
        self.platform: Platform | None = None

    def __call__(self) -> Platform:
        if self.platform is None:
            settings = self.origin.settings
            local_artifacts = "://" not in settings.resolved_artifacts
            if socket.gethostname() != self.origin.host and (settings.is_embedded
                                                             or local_artifacts):
                raise PipelineError(
                    f"This step reads the platform, whose store is on {self.origin.host}, but "
                    f"it runs on the Ray node {socket.gethostname()}. Use a PostgreSQL store "
                    "and an object store for artifacts (STEADY_DB_URL, STEADY_ARTIFACTS), or "
                    "run the pipeline with the local executor.")
            from steadyml.platform import Platform

            self.platform = Platform(settings, clock=self.origin.clock)
        return self.platform

    def close(self) -> None:
        if self.platform is not None:
            self.platform.close()


def _run_on_worker(payload: bytes, driver_path: list[str]) -> bytes:
    """Run one step on a Ray worker; return its outcome, pickled."""
    sys.path.extend(p for p in driver_path if p not in sys.path)
    try:
        task, origin, by_value = cloudpickle.loads(payload)
    except Exception as exc:
        return cloudpickle.dumps(_failed(
            f"cannot load the step on the Ray worker: {type(exc).__name__}: {exc}; make its "
            "modules importable there (install them, or pass runtime_env to ray.init)"))
    with contextlib.ExitStack() as stack:
        if by_value:
            stack.enter_context(_as_module(task.step.fn))
        if origin is not None:
            opener = _OpenOnFirstUse(origin)
            stack.callback(opener.close)
            stack.enter_context(bind_platform(opener))
        outcome = execute_step(task)
        if outcome.succeeded:
            try:
                outcome.encoded = encode_outputs(outcome.values or ())
            except Exception as exc:  # as the runner says when it cannot encode an output
                outcome.error = f"cannot store its output: {type(exc).__name__}: {exc}"
                outcome.logs += f"\n{outcome.error}\n"
            outcome.values = None
    return cloudpickle.dumps(outcome)


@contextlib.contextmanager
def _as_module(fn: Any) -> Iterator[None]:
    """Make the module `fn` came by value from importable by name while its step runs.

    Pickle then finds the classes the pipeline file defines, as it does in the driver, which
    loaded the file under that name.
    """
    name = fn.__module__
    if name in sys.modules:
        yield
        return
    module = types.ModuleType(name)
    module.__dict__.update(fn.__globals__)  # what cloudpickle sent of the module
    sys.modules[name] = module
    try:
        yield
    finally:
        sys.modules.pop(name, None)


def _failed(error: str) -> StepOutcome:
    return StepOutcome(values=None, error=error, logs=f"{error}\n{traceback.format_exc()}")
