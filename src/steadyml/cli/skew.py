"""`steady skew`: the values served against the offline values for the same keys."""

from __future__ import annotations

from typing import Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from steadyml.cli.app import app, open_from
from steadyml.cli.inspections import Inspector
from steadyml.cli.output import console, json_option, print_json
from steadyml.monitoring import parse_duration

_STATUS_STYLE = {"skew": "bold red", "no_skew": "green", "no_data": "yellow",
                 "no_match": "yellow"}


@app.command()
def skew(ctx: typer.Context, deployment: str = typer.Argument(...),
         keys: list[str] = typer.Option(
             ["request_id"], "--key", "-k",
             help="Column(s) that identify a row on both sides: request_id (the id the client "
                  "sent), row, ts, or a logged input such as an entity id. Repeat for several."),
         offline: str = typer.Option(
             None, "--offline",
             help="The offline rows: a Parquet file, or dataset:NAME / dataset:ID (default: the "
                  "training dataset of the model the stable arm serves)."),
         window: str = typer.Option("1h", "--window", help="Served rows from the last window."),
         atol: float = typer.Option(1e-6, "--atol", help="Absolute tolerance for numbers."),
         rtol: float = typer.Option(1e-6, "--rtol", help="Relative tolerance for numbers."),
         max_mismatch_rate: float = typer.Option(
             0.01, "--max-mismatch-rate", help="A feature is skewed above this share."),
         as_json: bool = json_option) -> None:
    """Compare what DEPLOYMENT served with the offline values for the same keys (skew)."""
    with open_from(ctx) as platform:
        document = Inspector(platform).skew(
            deployment, keys=keys, offline=offline,
            window_s=parse_duration(window, key="--window"), atol=atol, rtol=rtol,
            max_mismatch_rate=max_mismatch_rate)
    if as_json:
        print_json(document)
        return
    show_skew(document)


def show_skew(document: dict[str, Any]) -> None:
    """Print a skew document: the join, one row per feature, the verdict."""
    window, report = document["window"], document["report"]
    console.print(f"[bold]{escape(document['deployment'])}[/]: {window['rows']} served rows in "
                  f"the last {window['seconds']:g} s vs {escape(document['offline']['source'])} "
                  f"({document['offline']['rows']} rows)", highlight=False, soft_wrap=True)
    if report is not None:
        console.print(f"matched {report['matched_rows']} on {', '.join(report['keys'])}; "
                      f"{report['unmatched_served']} served without an offline row; "
                      f"{report['ambiguous_keys']} ambiguous offline key(s)", highlight=False)
        table = Table(header_style="bold cyan", box=box.SIMPLE_HEAD, pad_edge=False)
        for column in ("feature", "kind", "mismatch", "missing 1 side", "mean |Δ|", "max |Δ|",
                       "mean |Δ|/std", "example (served vs offline)"):
            table.add_column(column, justify="right" if "Δ" in column or column in (
                "mismatch", "missing 1 side") else "left", overflow="fold")
        for f in report["features"]:
            style = "bold red" if f["skewed"] else ""
            rate = f["mismatch_rate"]
            example = f["examples"][0] if f["examples"] else None
            table.add_row(
                escape(f["name"]), f["kind"],
                "-" if rate is None else f"{rate:.2%} ({f['mismatches']})",
                str(f["one_side_missing"]), _num(f["mean_abs_diff"]), _num(f["max_abs_diff"]),
                _num(f["mean_abs_diff_norm"]),
                "" if example is None else escape(f"{example['served']!r} vs "
                                                  f"{example['offline']!r}"),
                style=style)
        console.print(table)
    style = _STATUS_STYLE[document["status"]]
    console.print(f"[{style}]{escape(document['message'])}[/]", highlight=False, soft_wrap=True)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
