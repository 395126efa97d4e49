"""Load a pipeline from `FILE:PIPELINE`, and find where an in-memory pipeline was defined."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from steadyml.core.fingerprints import sha256_hex
from steadyml.pipelines.errors import PipelineLoadError
from steadyml.pipelines.graphs import Pipeline


def load_pipeline(ref: str) -> tuple[Pipeline, str]:
    """Import FILE and return its Pipeline named PIPELINE, with the ref as an absolute path.

    The file's directory goes on sys.path, so it can import modules beside it.
    """
    file, sep, attr = ref.rpartition(":")
    if not sep or not file or not attr.isidentifier():
        raise PipelineLoadError(f"{ref!r} does not name a pipeline; write FILE:PIPELINE, e.g. "
                                "pipelines/churn.py:churn.")
    path = Path(file).expanduser().resolve()
    if not path.is_file():
        raise PipelineLoadError(f"Pipeline file {file!r} does not exist.")
    name = "steady_pipeline_" + re.sub(r"\W", "_", path.stem) + "_" + sha256_hex(str(path))[:10]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PipelineLoadError(f"Pipeline file {file!r} is not a Python file.")
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))
    previous = sys.modules.get(name)
    sys.modules[name] = module  # so objects of classes the file defines can be pickled
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        if previous is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = previous
        raise PipelineLoadError(
            f"Cannot import pipeline file {file!r}: {type(exc).__name__}: {exc}"
            f"{_line_in(exc, path)}. Fix the file, or check it with `python {file}`.") from exc
    found = getattr(module, attr, None)
    if not isinstance(found, Pipeline):
        defined = sorted(k for k, v in vars(module).items() if isinstance(v, Pipeline))
        what = "nothing" if found is None else f"a {type(found).__name__}"
        raise PipelineLoadError(
            f"{attr!r} in pipeline file {file!r} is {what}, not a Pipeline. "
            f"Pipelines it defines: {defined or 'none'}.")
    return found, f"{path}:{attr}"


def _line_in(exc: BaseException, path: Path) -> str:
    """Return " (line N)": the last line of the file the traceback passed through."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return "" if line is None or isinstance(exc, SyntaxError) else f" (line {line})"


def source_of(pipeline: Pipeline) -> str | None:
    """Return `FILE:NAME` of the module-level variable that holds `pipeline`, if there is one."""
    module = sys.modules.get(getattr(pipeline.steps[0].fn, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    if module is None or file is None:
        return None
    for attr, value in vars(module).items():
        if value is pipeline and attr.isidentifier():
            return f"{Path(file).resolve()}:{attr}"
    return None
