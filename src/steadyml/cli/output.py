"""Printing for people (Rich tables) and for programs (--json)."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

console = Console()
err_console = Console(stderr=True)

json_option = typer.Option(False, "--json", help="Print JSON instead of a table.")


def print_json(value: Any) -> None:
    """Write `value` as JSON to stdout (dataclasses, enums and NaN handled)."""
    sys.stdout.write(json.dumps(_plain(value), indent=2, sort_keys=False, default=str) + "\n")


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    out = Table(title=title, title_justify="left", header_style="bold cyan")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*[fmt(v) for v in row])
    return out


def compact_table(title: str | None, columns: list[str], rows: list[list[Any]], *,
                  fold_last: bool = True) -> Table:
    """A table whose columns never wrap, but the last (a message, a reason) may fold."""
    out = Table(title=title, title_justify="left", header_style="bold cyan",
                box=box.SIMPLE_HEAD, pad_edge=False)
    for i, column in enumerate(columns):
        last = fold_last and i == len(columns) - 1
        out.add_column(column, no_wrap=not last, overflow="fold", ratio=1 if last else None)
    for row in rows:
        out.add_row(*[Text(fmt(v)) for v in row])  # as written: never read as markup
    return out


def seconds_text(seconds: float) -> str:
    """Return a duration as the policy files write it: 90s, 5m, 1h, 7d."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return _plain(value.to_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return _plain(asdict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
