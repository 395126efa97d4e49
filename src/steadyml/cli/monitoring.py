"""`steady drift|report|alerts` and `steady outcomes ingest|metrics`."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from steadyml.cli.app import app, open_from
from steadyml.cli.inspections import DriftCheck, Inspector
from steadyml.cli.output import compact_table, console, json_option, print_json, when
from steadyml.control import LogReader
from steadyml.core.errors import InvalidInputError
from steadyml.monitoring import DriftReport, OnlineMetric, parse_duration, read_outcomes_file
from steadyml.monitoring.policies import DriftReference

outcomes_app = typer.Typer(no_args_is_help=True,
                           help="Ingest delayed outcomes (ground truth) and see online metrics.")
app.add_typer(outcomes_app, name="outcomes")

_STATUS_STYLE = {"drift": "bold red", "no_drift": "green", "not_enough_samples": "yellow",
                 "no_data": "yellow", "no_reference": "yellow"}


def _seconds(text: str | None, option: str) -> float | None:
    return None if text is None else parse_duration(text, key=option)


@app.command()
def drift(ctx: typer.Context, deployment: str = typer.Argument(...),
          window: str = typer.Option(None, "--window", help="Window to judge, e.g. 1h or 30m "
                                     "(default: the policy's drift window, else 1h)."),
          reference: DriftReference = typer.Option(
              None, "--reference", case_sensitive=False,
              help="Compare with the training data, the same window a week (the policy's "
                   "reference_offset) earlier, or both (default: the policy's, else training)."),
          as_json: bool = json_option) -> None:
    """Judge DEPLOYMENT's input and prediction drift now, per feature, as the controller does."""
    with open_from(ctx) as platform:
        check = Inspector(platform).drift(deployment, window_s=_seconds(window, "--window"),
                                          reference=reference)
    if as_json:
        print_json(check.to_dict())
        return
    show_drift(check)


def show_drift(check: DriftCheck) -> None:
    """Print a drift check: one table per reference, then the verdict."""
    r = check.revision
    console.print(f"[bold]{check.deployment}[/] revision {r.revision} (stable {r.stable.ref}): "
                  f"{when(check.start_ms)} -> {when(check.end_ms)} UTC, {check.rows} rows; "
                  f"{check.policy_source} policy", highlight=False)
    wide = console.width >= _WIDE
    for report in check.reports:
        console.print(_drift_table(report, reasons=wide))
        if not wide:  # the reasons would not fit beside the figures
            for f in report.features:
                console.print(f"  [bold]{escape(f.name)}[/]: {escape(f.reason)}",
                              highlight=False, soft_wrap=True)
    style = _STATUS_STYLE[check.status]
    console.print(f"[{style}]{escape(check.message)}[/]", highlight=False, soft_wrap=True)
    if check.flagged:
        console.print(Text(f"flagged: {', '.join(check.flagged)}"))


_WIDE = 120


def _drift_table(report: DriftReport, *, reasons: bool) -> Table:
    out = Table(title=f"vs {report.reference}", title_justify="left", header_style="bold cyan",
                box=box.SIMPLE_HEAD, pad_edge=False)
    out.add_column("feature", overflow="fold", min_width=8)
    out.add_column("kind")
    for name in ("PSI", "KS", "p (Holm)", "W/std", "JS", "Δnull"):
        out.add_column(name, justify="right", no_wrap=True)
    out.add_column("drifted", no_wrap=True)
    if reasons:
        out.add_column("reason", overflow="fold", ratio=1)
    for f in report.features:
        verdict = ("[bold red]yes[/]" if f.drifted else "no") if f.judged else \
            "[yellow]not judged[/]"
        out.add_row(escape(f.name), _KINDS.get(f.kind, f.kind),
                    *[_num(v, 3) for v in (f.psi, f.ks, f.p_adjusted, f.wasserstein_norm,
                                           f.js, f.null_rate_change)], verdict,
                    *([escape(f.reason)] if reasons else []))
    return out


_KINDS = {"numeric": "num", "categorical": "cat", "type_changed": "TYPE CHANGED",
          "missing": "MISSING"}


@app.command()
def report(ctx: typer.Context, deployment: str = typer.Argument(...),
           html: Path = typer.Option(..., "--html", help="Where to write the HTML page.",
                                     dir_okay=False),
           window: str = typer.Option(None, "--window", help="Window to judge, e.g. 1h "
                                      "(default: the policy's drift window, else 1h).")) -> None:
    """Write DEPLOYMENT's drift report (tables, distributions, PSI over time) as one HTML file."""
    from steadyml.monitoring import render_drift_report

    with open_from(ctx) as platform:
        document, history = Inspector(platform).report(
            deployment, window_s=_seconds(window, "--window"))
    page = render_drift_report(document, history=history)
    try:
        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"Cannot write the report to {str(html)!r}: {exc}.") from None
    console.print(Text(document["message"]), soft_wrap=True)
    console.print(Text(f"Wrote {html.absolute()}"), soft_wrap=True)


@app.command()
def alerts(ctx: typer.Context,
           deployment: str = typer.Option(None, "--deployment", "-d",
                                          help="Only this deployment's alerts."),
           include_resolved: bool = typer.Option(False, "--all",
                                                 help="Resolved alerts too, not only open."),
           as_json: bool = json_option) -> None:
    """List open alerts (newest activity first); --all adds the resolved ones."""
    with open_from(ctx) as platform:
        found = platform.alerts.list(deployment=deployment,
                                     status=None if include_resolved else "open")
    if as_json:
        print_json(found)
        return
    which = "alert(s)" if include_resolved else "open alert(s)"
    if not found:
        console.print(f"No {which}{f' for {deployment}' if deployment else ''}.",
                      highlight=False)
        return
    status = ["status"] if include_resolved else []
    console.print(compact_table(
        f"{len(found)} {which}",
        ["id", "deployment", "key", "severity", *status, "count", "last (UTC)", "message"],
        [[a.id, a.deployment, a.key, a.severity, *([a.status] if include_resolved else []),
          a.count, when(a.last_ms), a.message] for a in found]))


@outcomes_app.command("ingest")
def ingest(ctx: typer.Context,
           file: Path = typer.Argument(..., help="CSV or Parquet with request_id and value "
                                                 "(or outcome) columns."),
           as_json: bool = json_option) -> None:
    """Store outcomes keyed by request id; report how many match logged predictions."""
    outcomes = read_outcomes_file(file)
    with open_from(ctx) as platform:
        result = platform.outcomes.ingest(outcomes, source=f"file:{file.name}")
        unknown = LogReader(platform.settings.resolved_logs).unmatched(outcomes) \
            if outcomes.num_rows else 0
    counts = {"accepted": result.accepted, "matched": outcomes.num_rows - unknown,
              "unknown": unknown}
    if as_json:
        print_json(counts)
        return
    console.print(Text(f"Accepted {counts['accepted']} outcome(s) from {file}: "
                       f"{counts['matched']} match a logged prediction, {unknown} have a request "
                       "id the prediction log does not know."), soft_wrap=True)
    if unknown:
        console.print("[dim]Unknown ids are kept: their predictions may not be written yet, "
                      "or were logged elsewhere.[/]")


@outcomes_app.command("metrics")
def metrics(ctx: typer.Context, deployment: str = typer.Argument(...),
            window: str = typer.Option("1d", "--window", help="Predictions made in this "
                                       "window, e.g. 1d or 6h."),
            metric: OnlineMetric = typer.Option(
                None, "--metric", case_sensitive=False,
                help="Show one metric (mae and rmse for regression; default: the policy's "
                     "slo.metric, else the classification metrics)."),
            as_json: bool = json_option) -> None:
    """Show online metrics per arm and model version, from outcomes joined to predictions."""
    with open_from(ctx) as platform:
        found = Inspector(platform).online(deployment, window_s=_seconds(window, "--window"),
                                           metric=metric)
    if as_json:
        print_json(found)
        return
    chosen = found["metric"]
    names = (["accuracy", "precision", "recall", "roc_auc", "log_loss"] if chosen is None
             else ["mae", "rmse"] if chosen in ("mae", "rmse") else [chosen])
    rows = [[arm, values.get("model_version"), values.get("n"),
             *[_num(values.get(n)) for n in names]]
            for arm, values in sorted(found["arms"].items())]
    console.print(compact_table(f"{deployment}: online metrics, predictions since "
                                f"{found['window']['start']}",
                                ["arm", "version", "outcomes", *names], rows,
                                fold_last=False))
    if not rows:
        console.print(f"[yellow]No outcome matches a prediction of {deployment} in the "
                      f"window yet.[/]", highlight=False)
    console.print(f"{found['outcomes']} outcome(s) received in the window, {found['matched']} "
                  f"joined to {deployment}'s predictions, {found['unknown']} with a request id "
                  "the prediction log does not know.", highlight=False, soft_wrap=True)


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}g}"
    return str(value)
