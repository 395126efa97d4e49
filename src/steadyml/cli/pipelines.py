"""`steady pipeline run|rerun|list|show`."""

from __future__ import annotations

import contextlib
import os
from enum import StrEnum

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from steadyml.cli.app import app, open_from
from steadyml.cli.output import (
    compact_table,
    console,
    err_console,
    json_option,
    print_json,
    table,
    when,
)
from steadyml.core.errors import InvalidInputError
from steadyml.pipelines import (
    Executor,
    LocalExecutor,
    PipelineRun,
    Pipelines,
    StepFailedError,
    StepRecord,
    StepStatus,
    load_pipeline,
)
from steadyml.pipelines.ray_executor import RayExecutor, import_ray
from steadyml.pipelines.triggers import Trigger, TriggerKind

LOG_EXCERPT_LINES = 20


class ExecutorKind(StrEnum):
    LOCAL = "local"
    RAY = "ray"


executor_option = typer.Option(ExecutorKind.LOCAL, "--executor",
                               help="Where steps run: in this process, or each as a Ray task "
                                    "(needs Ray: pip install 'steadyml\\[ray]').")
ray_address_option = typer.Option(None, "--ray-address", metavar="ADDRESS",
                                  help="The Ray cluster for --executor ray, e.g. auto or "
                                       "ray://head:10001 (default: $RAY_ADDRESS, else a local "
                                       "Ray instance for this run).")

pipeline_app = typer.Typer(no_args_is_help=True,
                           help="Run retraining pipelines, with cached steps, and inspect runs.")
app.add_typer(pipeline_app, name="pipeline")


@pipeline_app.command("run")
def run(ctx: typer.Context,
        ref: str = typer.Argument(..., metavar="FILE:PIPELINE",
                                  help="A Python file and the Pipeline variable in it."),
        param: list[str] = typer.Option(None, "--param", "-p", metavar="KEY=VALUE",
                                        help="Set a param (converted by the step's "
                                             "annotation); repeatable."),
        no_cache: bool = typer.Option(False, "--no-cache",
                                      help="Execute every step, even unchanged ones."),
        target: str = typer.Option(None, "--target",
                                   help="What the run works on, e.g. the deployment it "
                                        "retrains (default: the pipeline's target=, else its "
                                        "name). One run per target at a time."),
        trigger: TriggerKind = typer.Option(TriggerKind.MANUAL, "--trigger",
                                            help="Why it runs, recorded with the run (drift: "
                                                 "the controller's retrain command; reads "
                                                 "$STEADY_DEPLOYMENT and "
                                                 "$STEADY_DRIFTED_FEATURES)."),
        wait: float = typer.Option(0.0, "--wait", min=0.0, metavar="SECONDS",
                                   help="If the target is busy, queue up to SECONDS for it "
                                        "(default: refuse at once)."),
        executor: ExecutorKind = executor_option,
        ray_address: str = ray_address_option,
        as_json: bool = json_option) -> None:
    """Run a pipeline as a tracked run; unchanged steps reuse their cached outputs."""
    texts = _parse_params(param or [])
    pipeline, source = load_pipeline(ref)
    with open_from(ctx) as platform, _executor(executor, ray_address) as chosen:
        pipelines = Pipelines(platform, executor=chosen)
        cause = Trigger.from_environment(trigger, os.environ, actor=platform.actor)
        try:
            result = pipelines.run(pipeline, texts=texts, use_cache=not no_cache, source=source,
                                   target=target, trigger=cause, wait_s=wait)
        except StepFailedError as exc:
            if isinstance(exc.result, PipelineRun):
                _report_failure(pipelines, exc.result, as_json)
            raise
    _show_result(result, as_json)


@pipeline_app.command("rerun")
def rerun(ctx: typer.Context, run_id: str = typer.Argument(..., help="A pipeline run id."),
          cache: bool = typer.Option(False, "--cache",
                                     help="Reuse cached steps (default: execute every step)."),
          executor: ExecutorKind = executor_option,
          ray_address: str = ray_address_option,
          as_json: bool = json_option) -> None:
    """Run a recorded pipeline run again with exactly its params and seed."""
    with open_from(ctx) as platform, _executor(executor, ray_address) as chosen:
        pipelines = Pipelines(platform, executor=chosen)
        earlier = pipelines.get(run_id)
        try:
            result = pipelines.rerun(earlier.run_id, use_cache=cache)
        except StepFailedError as exc:
            if isinstance(exc.result, PipelineRun):
                _report_failure(pipelines, exc.result, as_json)
            raise
    before = {s.step: s.code_version for s in earlier.steps}
    changed = [s.step for s in result.steps if before.get(s.step, s.code_version)
               != s.code_version]
    if changed:
        err_console.print(f"note: the code of step(s) {', '.join(changed)} changed since run "
                          f"{earlier.run_id}.", highlight=False, soft_wrap=True)
    _show_result(result, as_json)


@pipeline_app.command("list")
def list_runs(ctx: typer.Context,
              pipeline: str = typer.Option(None, "--pipeline", help="Only this pipeline."),
              limit: int = typer.Option(50, "--limit", "-n", help="At most this many runs."),
              as_json: bool = json_option) -> None:
    """List pipeline runs, newest first."""
    with open_from(ctx) as platform:
        found = Pipelines(platform).list_runs(pipeline=pipeline, limit=limit)
    if as_json:
        print_json([r.to_dict() for r in found])
        return
    rows = [[r.run_id[:12], r.pipeline, r.status, when(r.started_ms), _counts(r.steps),
             (r.rerun_of or "")[:12] or None, _params_text(r)] for r in found]
    console.print(table(f"{len(found)} pipeline run(s)",
                        ["run", "pipeline", "status", "started (UTC)", "steps", "rerun of",
                         "params"], rows))


@pipeline_app.command("show")
def show(ctx: typer.Context, run_id: str = typer.Argument(..., help="A pipeline run id "
                                                                      "(a unique prefix)."),
         as_json: bool = json_option) -> None:
    """Show a pipeline run: each step's status, code version, input fingerprints, outputs."""
    with open_from(ctx) as platform:
        pipelines = Pipelines(platform)
        result = pipelines.get(run_id)
        logs = {s.step: pipelines.step_logs(s) for s in result.steps
                if s.status is StepStatus.FAILED}
    if as_json:
        out = result.to_dict()
        for s in out["steps"]:
            if s["step"] in logs:
                s["log_excerpt"] = _excerpt(logs[s["step"]])
        print_json(out)
        return
    console.print(f"[bold]Pipeline run {result.run_id}[/]  {escape(result.pipeline)}  "
                  f"[cyan]{result.status}[/]", highlight=False, soft_wrap=True)
    console.print(f"started {when(result.started_ms)}  ended {when(result.ended_ms)}  "
                  f"seed {result.seed}  source {escape(result.source or '-')}", highlight=False,
                  soft_wrap=True)
    if result.rerun_of:
        console.print(f"rerun of {result.rerun_of}", highlight=False)
    console.print(Text(f"params: {_params_text(result) or '-'}"), soft_wrap=True)
    console.print(_steps_table(result))
    details = [[s.step, s.code_version[:12],
                ", ".join(f"{k}={_short(v)}" for k, v in s.inputs.items()) or "-",
                ", ".join(f"{k}={v.digest[:12]}" for k, v in s.outputs.items()) or "-",
                (s.cached_from or "")[:12] or None] for s in result.steps]
    console.print(table("fingerprints", ["step", "code", "inputs", "outputs", "cached from"],
                        details))
    for name, text in logs.items():
        _print_log(name, text)


def _executor(kind: ExecutorKind,
              ray_address: str | None) -> contextlib.AbstractContextManager[Executor]:
    """Return the executor to run steps on; a Ray instance it starts stops with the command."""
    if kind is ExecutorKind.RAY:
        import_ray()  # say that Ray is missing before anything is recorded
        return RayExecutor(address=ray_address)
    if ray_address:
        raise InvalidInputError(f"--ray-address {ray_address} needs --executor ray.")
    return contextlib.nullcontext(LocalExecutor())


def _show_result(result: PipelineRun, as_json: bool) -> None:
    if as_json:
        print_json(result.to_dict())
        return
    ran = sum(s.status is StepStatus.SUCCEEDED for s in result.steps)
    console.print(f"Pipeline [bold]{escape(result.pipeline)}[/] run {result.run_id}: "
                  f"{ran} step(s) ran, {len(result.steps) - ran} cached.", highlight=False,
                  soft_wrap=True)
    console.print(_steps_table(result))


def _report_failure(pipelines: Pipelines, result: PipelineRun, as_json: bool) -> None:
    """Print the steps as far as they got, and the failed step's log excerpt, to stderr."""
    if not as_json:
        err_console.print(_steps_table(result))
    for record in result.steps:
        if record.status is StepStatus.FAILED:
            _print_log(record.step, pipelines.step_logs(record), to=err_console)


def _steps_table(result: PipelineRun) -> Table:
    rows = [[s.step, _status(s), f"{s.duration_ms:.1f} ms",
             ", ".join(s.outputs) or "-", s.error] for s in result.steps]
    return compact_table(None, ["step", "status", "duration", "outputs", "error"], rows)


def _print_log(step: str, text: str, *, to: Console = console) -> None:
    to.print(f"[bold]log of step {escape(step)}[/] (last {LOG_EXCERPT_LINES} lines):",
             highlight=False)
    to.print(Text(_excerpt(text) or "(empty)"), soft_wrap=True)


def _status(record: StepRecord) -> str:
    return {"succeeded": "ran", "cached": "cached", "failed": "failed"}[record.status.value]


def _counts(steps: list[StepRecord]) -> str:
    ran = sum(s.status is StepStatus.SUCCEEDED for s in steps)
    cached = sum(s.status is StepStatus.CACHED for s in steps)
    failed = sum(s.status is StepStatus.FAILED for s in steps)
    return f"{ran} ran, {cached} cached" + (f", {failed} failed" if failed else "")


def _params_text(result: PipelineRun) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(result.params.items()))


def _short(fingerprint: str) -> str:
    kind, _, digest = fingerprint.rpartition(":")
    return f"{kind}:{digest[:10]}" if kind else digest[:10]


def _excerpt(text: str) -> str:
    return "\n".join(text.rstrip().splitlines()[-LOG_EXCERPT_LINES:])


def _parse_params(items: list[str]) -> dict[str, str]:
    texts = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--param {item!r} is not KEY=VALUE, e.g. "
                                    "--param n_estimators=200.")
        texts[key.strip()] = value
    return texts
