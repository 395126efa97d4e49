"""Drift reports as one self-contained HTML page.

The page works offline: plotly.js is inlined once in the head and every chart is a bare `<div>`
with its own small script. Every value that comes from the report (feature names, categories,
reasons, descriptions) is HTML-escaped; values inside chart data are escaped by plotly's JSON
encoder, and feature names never go into chart data.

plotly (a dependency of steadyml) is imported only when a page is
rendered.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from steadyml.core.errors import ConfigurationError, InvalidInputError

_REFERENCE_COLOR = "#7f8fa9"
_CURRENT_COLOR = "#e4572e"
_CHART_CONFIG = {"displaylogo": False, "responsive": True}

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430;
       margin: 0 auto; max-width: 1200px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 12px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid #d8dde6; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 0 0 4px; }
.verdict { font-size: 16px; padding: 12px 16px; border-radius: 6px; margin: 12px 0; }
.verdict.drift { background: #fde2e1; border: 1px solid #e4572e; }
.verdict.stable { background: #e3f4e8; border: 1px solid #4caf6a; }
.verdict ul { display: inline; padding: 0; margin: 0; }
.verdict li { display: inline-block; background: #fff; border: 1px solid #e4572e;
              border-radius: 12px; padding: 0 10px; margin: 2px 4px; font-weight: 600; }
.verdict a { color: inherit; text-decoration: none; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.summary dt { font-weight: 600; color: #4a5568; }
dl.summary dd { margin: 0; }
.alert { background: #fff4d6; border: 1px solid #e0a800; border-radius: 6px;
         padding: 8px 12px; margin: 6px 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e2e6ee; padding: 4px 8px; text-align: right;
         white-space: nowrap; }
th { background: #f3f5f9; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
td.reason { white-space: normal; min-width: 240px; color: #4a5568; }
tr.drifted { background: #fde2e1; }
tr.drifted td.name { font-weight: 600; }
tr.type_changed { background: #fff4d6; }
article { border: 1px solid #e2e6ee; border-radius: 6px; padding: 12px 16px; margin: 12px 0; }
article.drifted { border-color: #e4572e; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 8px; }
.muted { color: #6b7689; }
"""

# (header, key): one table column each, for numeric and categorical features alike.
_COLUMNS = (
    ("PSI", "psi"), ("JS", "js"), ("Wasserstein", "wasserstein"),
    ("Wasserstein / std", "wasserstein_norm"), ("Unseen share", "unseen_share"),
    ("Null rate ref", "null_rate_ref"), ("Null rate cur", "null_rate_cur"),
    ("Null rate change", "null_rate_change"),
)
_TESTS = {"numeric": ("KS", "ks", "ks_pvalue"), "categorical": ("χ²", "chi2", "chi2_pvalue")}


def render_drift_report(report: Mapping[str, Any], *, history: Sequence[Mapping[str, Any]] = (),
                        title: str | None = None) -> str:
    """Return a drift report as one self-contained HTML document, with its charts.

    Args:
        report: one window's drift result: deployment, window, reference, rule, flagged,
            features (each with its statistics, verdict and histogram) and predictions.
        history: earlier windows, each {"end": ISO time, "features": {name: {"psi", "drifted"}}},
            drawn as each feature's PSI over time; empty for no history charts.
        title: the page title; default "Drift report: <deployment>".

    Raises:
        ConfigurationError: plotly is not installed.
        InvalidInputError: the report lacks its feature list or a histogram is malformed.
    """
    try:
        import plotly.graph_objects as go
        from plotly.offline import get_plotlyjs
    except ImportError as exc:
        raise ConfigurationError("Rendering a drift report needs plotly, which is not "
                                 "installed. Install it with: pip install plotly."
                                 ) from exc
    entries = _entries(report)
    deployment = report.get("deployment")
    title = title if title is not None else f"Drift report: {deployment or 'unnamed deployment'}"
    articles = [_article(go, index, entry, report, history) for index, entry in enumerate(entries)]
    body = "\n".join([
        f"<h1>{_e(title)}</h1>",
        _verdict(report, entries),
        _summary(report),
        _alerts(entries),
        "<h2>Features</h2>",
        _table(entries),
        "<h2>Distributions</h2>" if articles else "",
        *articles,
    ])
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n"
            f'<script type="text/javascript">{get_plotlyjs()}</script>\n'
            f"</head>\n<body>\n{body}\n</body>\n</html>\n")


# -- page sections ----------------------------------------------------------------------------


def _entries(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Return the features, then the predictions entry when the report has one."""
    if not isinstance(report, Mapping) or not isinstance(report.get("features"), Sequence):
        raise InvalidInputError("A drift report must be a mapping with a 'features' list; got "
                                f"{type(report).__name__}. Pass the result of the drift check.")
    entries = list(report["features"])
    if report.get("predictions") is not None:
        entries.append(report["predictions"])
    for position, entry in enumerate(entries):
        if not isinstance(entry, Mapping) or "name" not in entry:
            raise InvalidInputError(f"Drift report feature #{position} has no 'name': "
                                    f"{entry!r:.200}.")
    return entries


def _verdict(report: Mapping[str, Any], entries: Sequence[Mapping[str, Any]]) -> str:
    flagged = [str(name) for name in report.get("flagged") or ()]
    anchors = {str(entry["name"]): index for index, entry in enumerate(entries)}
    if not flagged:
        return (f'<div class="verdict stable" id="flagged">No drift: none of the {len(entries)} '
                "columns is flagged.</div>")
    items = "".join(
        f'<li><a href="#feature-{anchors[name]}">{_e(name)}</a></li>' if name in anchors
        else f"<li>{_e(name)}</li>" for name in flagged)
    return (f'<div class="verdict drift" id="flagged"><strong>Drift in {len(flagged)} of '
            f"{len(entries)} columns:</strong> <ul>{items}</ul></div>")


def _summary(report: Mapping[str, Any]) -> str:
    window = report.get("window") or {}
    reference = report.get("reference") or {}
    rule = report.get("rule") or {}
    rows = [
        ("Deployment", _e(report.get("deployment", "—"))),
        ("Window", f"{_e(window.get('start', '?'))} → {_e(window.get('end', '?'))}"
                   f"{_rows(window.get('rows'))}"),
        ("Reference", " — ".join(_e(reference[k]) for k in ("kind", "description")
                                 if reference.get(k) is not None)
                      + _rows(reference.get("rows"))),
        ("Rule", ", ".join(f"{_e(k)} = {_fmt(v)}" for k, v in rule.items()) or "—"),
    ]
    if (predictions := report.get("predictions")) is not None:
        rows.append(("Predictions", "drifted" if predictions.get("drifted") else "stable"))
    items = "".join(f"<dt>{label}</dt><dd>{value}</dd>" for label, value in rows)
    return f'<dl class="summary">{items}</dl>'


def _alerts(entries: Sequence[Mapping[str, Any]]) -> str:
    alerts = [f'<div class="alert"><strong>{_e(entry["name"])}</strong> changed type: '
              f'{_e(entry.get("reason") or "no reason given")}</div>'
              for entry in entries if entry.get("kind") == "type_changed"]
    return "\n".join(["<h2>Alerts</h2>", *alerts]) if alerts else ""


def _table(entries: Sequence[Mapping[str, Any]]) -> str:
    headers = ['<th class="text">Feature</th>', '<th class="text">Kind</th>',
               '<th class="text">Drifted</th>', '<th class="text">Test</th>',
               "<th>Statistic</th>", "<th>p-value</th>",
               *(f"<th>{_e(header)}</th>" for header, _ in _COLUMNS),
               '<th class="text">Reason</th>']
    rows = []
    for index, entry in enumerate(entries):
        kind = str(entry.get("kind", ""))
        test, statistic, pvalue = _TESTS.get(kind, ("", "", ""))
        css = "drifted" if entry.get("drifted") else "type_changed" if kind == "type_changed" else ""
        cells = [
            f'<td class="text name"><a href="#feature-{index}">{_e(entry["name"])}</a></td>',
            f'<td class="text">{_e(kind.replace("_", " "))}</td>',
            f'<td class="text">{_fmt(entry.get("drifted"))}</td>',
            f'<td class="text">{_e(test)}</td>',
            f"<td>{_fmt(entry.get(statistic))}</td><td>{_fmt(entry.get(pvalue))}</td>",
            *(f"<td>{_fmt(entry.get(key))}</td>" for _, key in _COLUMNS),
            f'<td class="reason">{_e(entry.get("reason") or "")}</td>',
        ]
        rows.append(f'<tr class="{css}">{"".join(cells)}</tr>')
    return (f'<div class="table-wrap"><table id="features"><thead><tr>{"".join(headers)}</tr>'
            f'</thead><tbody>{"".join(rows)}</tbody></table></div>')


def _article(go: Any, index: int, entry: Mapping[str, Any], report: Mapping[str, Any],
             history: Sequence[Mapping[str, Any]]) -> str:
    charts = []
    histogram = entry.get("histogram")
    if histogram:
        charts.append(_chart(_histogram_figure(go, entry, histogram), f"hist-{index}"))
    if history and entry.get("kind") != "type_changed":
        charts.append(_chart(_psi_figure(go, entry, report, history), f"psi-{index}"))
    kind = str(entry.get("kind", "?"))
    status = (kind.replace("_", " ") if kind == "type_changed"
              else f"{kind}, {'drifted' if entry.get('drifted') else 'stable'}")
    note = "" if charts else '<p class="muted">No distribution to draw for this column.</p>'
    return (f'<article id="feature-{index}" class="{"drifted" if entry.get("drifted") else ""}">'
            f'<h3>{_e(entry["name"])} <span class="muted">({_e(status)})</span></h3>'
            f'<p class="muted">{_e(entry.get("reason") or "")}</p>'
            f'{note}<div class="charts">{"".join(charts)}</div></article>')


def _chart(figure: Any, div_id: str) -> str:
    return str(figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                              config=_CHART_CONFIG))


# -- figures ----------------------------------------------------------------------------------


def _histogram_figure(go: Any, entry: Mapping[str, Any], histogram: Mapping[str, Any]) -> Any:
    reference = _shares(histogram.get("reference"), entry, "reference")
    current = _shares(histogram.get("current"), entry, "current")
    if len(reference) != len(current):
        raise InvalidInputError(f"Histogram of {entry['name']!r} has {len(reference)} reference "
                                f"and {len(current)} current bins; they must match.")
    figure = go.Figure()
    if "edges" in histogram:
        edges = _finite_edges(histogram["edges"], len(reference), entry)
        centers = [(low + high) / 2 for low, high in zip(edges, edges[1:], strict=False)]
        widths = [high - low for low, high in zip(edges, edges[1:], strict=False)]
        ranges = [[_fmt_plain(low), _fmt_plain(high)]
                  for low, high in zip(histogram["edges"], histogram["edges"][1:], strict=False)]
        for name, shares, color in (("reference", reference, _REFERENCE_COLOR),
                                    ("current", current, _CURRENT_COLOR)):
            figure.add_trace(go.Bar(
                x=centers, y=shares, width=widths, name=name, marker_color=color, opacity=0.55,
                customdata=ranges,
                hovertemplate="[%{customdata[0]}, %{customdata[1]}): %{y:.2%}<extra>"
                              f"{name}</extra>"))
        figure.update_layout(barmode="overlay", xaxis_title="value")
    elif "categories" in histogram:
        categories = [str(c) for c in histogram["categories"]]
        if len(categories) != len(reference):
            raise InvalidInputError(f"Histogram of {entry['name']!r} has {len(categories)} "
                                    f"categories but {len(reference)} shares; they must match.")
        for name, shares, color in (("reference", reference, _REFERENCE_COLOR),
                                    ("current", current, _CURRENT_COLOR)):
            figure.add_trace(go.Bar(x=categories, y=shares, name=name, marker_color=color,
                                    hovertemplate=f"%{{x}}: %{{y:.2%}}<extra>{name}</extra>"))
        figure.update_layout(barmode="group", xaxis_type="category", xaxis_title="category")
    else:
        raise InvalidInputError(f"Histogram of {entry['name']!r} has neither 'edges' (numeric) "
                                "nor 'categories' (categorical).")
    return _layout(figure, "Reference vs current", "share of rows")


def _psi_figure(go: Any, entry: Mapping[str, Any], report: Mapping[str, Any],
                history: Sequence[Mapping[str, Any]]) -> Any:
    name = entry["name"]
    points = [(str(window.get("end", "")), (window.get("features") or {}).get(name) or {})
              for window in history]
    points.sort(key=lambda point: point[0])
    points.append((str((report.get("window") or {}).get("end", "this window")), entry))
    times = _times([end for end, _ in points])
    psi = [_number(stats.get("psi")) for _, stats in points]
    drifted = [i for i, (_, stats) in enumerate(points) if stats.get("drifted")]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=times, y=psi, mode="lines+markers", name="PSI",
                                line_color=_REFERENCE_COLOR, connectgaps=False,
                                hovertemplate="%{x}: PSI %{y:.4f}<extra></extra>"))
    figure.add_trace(go.Scatter(x=[times[i] for i in drifted], y=[psi[i] for i in drifted],
                                mode="markers", name="drifted", marker_color=_CURRENT_COLOR,
                                marker_symbol="x", marker_size=11,
                                hovertemplate="%{x}: drifted, PSI %{y:.4f}<extra></extra>"))
    figure.add_trace(go.Scatter(x=[times[-1]], y=[psi[-1]], mode="markers", name="this window",
                                marker_color="rgba(0,0,0,0)", marker_size=16,
                                marker_line_color="#1d2430", marker_line_width=2,
                                hoverinfo="skip"))
    return _layout(figure, "PSI over time", "PSI")


def _layout(figure: Any, title: str, y_title: str) -> Any:
    # The empty "none" template keeps each chart's JSON small; the page styles what matters.
    axis = {"gridcolor": "#e2e6ee", "zerolinecolor": "#c8cfdb", "automargin": True}
    figure.update_layout(
        template="none", title_text=title, title_font_size=14, yaxis_title=y_title, height=320,
        font={"family": "system-ui, sans-serif", "size": 12, "color": "#1d2430"},
        margin={"l": 56, "r": 16, "t": 40, "b": 48}, legend_orientation="h", legend_y=-0.25,
        xaxis=axis, yaxis=axis, plot_bgcolor="white", paper_bgcolor="white")
    return figure


def _shares(values: Any, entry: Mapping[str, Any], which: str) -> list[float | None]:
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise InvalidInputError(f"Histogram of {entry['name']!r} has no list of {which} shares.")
    return [_number(value) for value in values]


def _finite_edges(edges: Any, bins: int, entry: Mapping[str, Any]) -> list[float]:
    """Return the bin edges, an open end (±inf) drawn one average bin width past the last edge."""
    values = [_number(edge) for edge in edges] if isinstance(edges, Sequence) else []
    if len(values) != bins + 1 or any(value is None for value in values):
        raise InvalidInputError(f"Histogram of {entry['name']!r} needs {bins + 1} numeric edges "
                                f"for {bins} bins; got {edges!r:.200}.")
    numbers = [float(value) for value in values if value is not None]
    finite = [value for value in numbers if math.isfinite(value)] or [0.0]
    step = ((finite[-1] - finite[0]) / (len(finite) - 1) if len(finite) > 1 else 0.0) or 1.0
    return [finite[0] - step if value == -math.inf else finite[-1] + step if value == math.inf
            else value for value in numbers]


def _times(ends: Sequence[str]) -> list[str]:
    """Return ISO timestamps as UTC 'YYYY-MM-DD HH:MM:SS', which plotly reads as dates."""
    try:
        parsed = [datetime.fromisoformat(end) for end in ends]
    except ValueError:
        return list(ends)  # not all timestamps: plot them as labels
    return [(t.astimezone(UTC) if t.tzinfo else t).strftime("%Y-%m-%d %H:%M:%S") for t in parsed]


# -- formatting -------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _fmt(value: Any) -> str:
    """Return a value for a table cell, escaped."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return _fmt_plain(value)
    return _e(value)


def _fmt_plain(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "NaN" if isinstance(value, float) else _e(value)
    if number == 0:
        return "0"
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    return f"{number:.2e}" if abs(number) < 1e-3 else f"{number:.4g}"


def _rows(rows: Any) -> str:
    return f" ({_fmt(rows)} rows)" if rows is not None else ""
