"""The drift report page: content, charts, escaping and a self-contained plotly.js."""

from __future__ import annotations

import copy
import json
import re
import sys
from typing import Any

import numpy as np
import pytest

from steadyml.core.errors import ConfigurationError, InvalidInputError
from steadyml.monitoring.report import render_drift_report

plotly_offline = pytest.importorskip("plotly.offline")

CHART_DIV = 'class="plotly-graph-div"'


def _shares(rng: np.random.Generator, k: int) -> list[float]:
    return [float(x) for x in rng.dirichlet(np.ones(k))]


def example_report() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    edges = [float(x) for x in np.linspace(0, 500, 11)]
    return {
        "deployment": "fraud",
        "window": {"start": "2026-11-22T10:00:00Z", "end": "2026-11-22T11:00:00Z", "rows": 12000},
        "reference": {"kind": "training", "description": "dataset fraud-train sha256:ab12cd34",
                      "rows": 50000},
        "rule": {"alpha": 0.05, "correction": "holm", "numeric_effect": 0.1,
                 "categorical_effect": 0.1},
        "flagged": ["amount", "country"],
        "features": [
            {"name": "amount", "kind": "numeric", "drifted": True,
             "reason": "ks p=1e-12 (holm) and wasserstein/std=0.31 >= 0.1",
             "psi": 0.21, "ks": 0.12, "ks_pvalue": 1e-12, "wasserstein": 3.1,
             "wasserstein_norm": 0.31, "js": 0.2, "null_rate_ref": 0.0, "null_rate_cur": 0.01,
             "null_rate_change": 0.01,
             "histogram": {"edges": edges, "reference": _shares(rng, 10),
                           "current": _shares(rng, 10)}},
            {"name": "country", "kind": "categorical", "drifted": True,
             "reason": "chi2 p=1e-20 (holm) and js=0.3 >= 0.1", "psi": 0.4, "chi2": 123.0,
             "chi2_pvalue": 1e-20, "js": 0.3, "unseen_share": 0.05, "null_rate_ref": 0.0,
             "null_rate_cur": 0.0, "null_rate_change": 0.0,
             "histogram": {"categories": ["DE", "FR", "(unseen)"], "reference": [0.6, 0.4, 0.0],
                           "current": [0.5, 0.45, 0.05]}},
            {"name": "age", "kind": "numeric", "drifted": False, "reason": "ks p=0.4 (holm)",
             "psi": 0.01, "ks": 0.02, "ks_pvalue": 0.4, "wasserstein": 0.2,
             "wasserstein_norm": 0.01, "js": 0.01, "null_rate_ref": 0.0, "null_rate_cur": 0.0,
             "null_rate_change": 0.0,
             "histogram": {"edges": [-np.inf, 20.0, 30.0, 40.0, 50.0, np.inf],
                           "reference": _shares(rng, 5), "current": _shares(rng, 5)}},
            {"name": "merchant_id", "kind": "type_changed", "drifted": True,
             "reason": "reference is integer, current is string"},
        ],
        "predictions": {
            "name": "prediction", "kind": "numeric", "drifted": False, "reason": "ks p=0.2",
            "psi": 0.03, "ks": 0.03, "ks_pvalue": 0.2, "wasserstein": 0.01,
            "wasserstein_norm": 0.05, "js": 0.02, "null_rate_ref": 0.0, "null_rate_cur": 0.0,
            "null_rate_change": 0.0,
            "histogram": {"edges": [0.0, 0.25, 0.5, 0.75, 1.0], "reference": _shares(rng, 4),
                          "current": _shares(rng, 4)}},
    }


def example_history() -> list[dict[str, Any]]:
    return [
        {"end": "2026-11-22T09:00:00Z", "features": {"amount": {"psi": 0.15, "drifted": True},
                                                      "country": {"psi": 0.02, "drifted": False}}},
        {"end": "2026-11-22T07:00:00Z", "features": {"amount": {"psi": 0.02, "drifted": False}}},
        {"end": "2026-11-22T08:00:00Z", "features": {"amount": {"psi": 0.03, "drifted": False},
                                                      "age": {"psi": 0.01, "drifted": False}}},
    ]


def _plot_data(page: str, div_id: str) -> list[dict[str, Any]]:
    match = re.search(r'Plotly\.newPlot\(\s*"' + re.escape(div_id) + r'",\s*', page)
    assert match, f"no chart {div_id}"
    data, _ = json.JSONDecoder().raw_decode(page, match.end())
    return data


def _table_rows(page: str) -> list[str]:
    table = page[page.index('<table id="features">'):page.index("</table>")]
    return re.findall(r"<tr[^>]*>.*?</tr>", table.split("<tbody>")[1])


def test_example_report_renders_a_complete_page() -> None:
    page = render_drift_report(example_report())
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>Drift report: fraud</title>" in page
    for text in ("fraud", "2026-11-22T10:00:00Z", "2026-11-22T11:00:00Z", "12,000",
                 "dataset fraud-train sha256:ab12cd34", "50,000", "holm", "alpha = 0.05",
                 "reference is integer, current is string"):
        assert text in page
    for name in ("amount", "country", "age", "merchant_id", "prediction"):
        assert f">{name}</a></td>" in page  # a table row each


def test_flagged_columns_are_listed_prominently() -> None:
    page = render_drift_report(example_report())
    verdict = re.search(r'<div class="verdict drift" id="flagged">(.*?)</div>', page)
    assert verdict, "no drift banner"
    assert "Drift in 2 of 5 columns" in verdict.group(1)
    assert re.findall(r"<li><a [^>]*>([^<]*)</a></li>", verdict.group(1)) == ["amount", "country"]
    assert page.index('id="flagged"') < page.index('<table id="features">')


def test_no_flagged_columns_says_no_drift() -> None:
    report = example_report() | {"flagged": []}
    assert '<div class="verdict stable" id="flagged">No drift' in render_drift_report(report)


def test_table_has_every_statistic_and_highlights_drifted_rows() -> None:
    page = render_drift_report(example_report())
    rows = _table_rows(page)
    assert len(rows) == 5
    classes = [re.match(r'<tr class="([^"]*)"', row).group(1) for row in rows]  # type: ignore[union-attr]
    assert classes == ["drifted", "drifted", "", "drifted", ""]
    amount, country = rows[0], rows[1]
    for cell in ("<td>0.21</td>", "<td>0.12</td>", "<td>1.00e-12</td>", "<td>3.1</td>",
                 "<td>0.31</td>", "<td>0.01</td>", ">KS<"):
        assert cell in amount
    for cell in ("<td>123</td>", "<td>1.00e-20</td>", "<td>0.05</td>", ">χ²<"):
        assert cell in country


def test_one_histogram_chart_per_column_with_a_distribution() -> None:
    page = render_drift_report(example_report())
    # amount, country, age, prediction; the type change has no histogram.
    assert page.count(CHART_DIV) == 4
    assert re.findall(r'id="(hist-\d+)"', page) == ["hist-0", "hist-1", "hist-2", "hist-4"]
    assert "psi-" not in page
    assert '<div class="alert"><strong>merchant_id</strong> changed type' in page


def test_numeric_histograms_are_overlaid_bars_on_the_edges() -> None:
    page = render_drift_report(example_report())
    reference, current = _plot_data(page, "hist-0")
    assert [reference["name"], current["name"]] == ["reference", "current"]
    assert reference["x"][0] == pytest.approx(25.0) and reference["width"][0] == pytest.approx(50)
    assert sum(current["y"]) == pytest.approx(1.0)
    open_ended = _plot_data(page, "hist-2")[0]
    assert all(np.isfinite(open_ended["x"])) and all(np.isfinite(open_ended["width"]))
    assert open_ended["customdata"][0][0] == "-∞"


def test_categorical_histograms_are_grouped_bars() -> None:
    page = render_drift_report(example_report())
    reference, current = _plot_data(page, "hist-1")
    assert reference["x"] == ["DE", "FR", "(unseen)"] and current["y"] == [0.5, 0.45, 0.05]
    layout_start = re.search(r'Plotly\.newPlot\(\s*"hist-1",\s*', page).end()  # type: ignore[union-attr]
    decoder = json.JSONDecoder()
    _, end = decoder.raw_decode(page, layout_start)
    layout, _ = decoder.raw_decode(page, page.index("{", end))
    assert layout["barmode"] == "group" and layout["xaxis"]["type"] == "category"


def test_history_adds_a_psi_chart_per_column_with_drifted_windows_marked() -> None:
    page = render_drift_report(example_report(), history=example_history())
    assert page.count(CHART_DIV) == 4 + 4
    line, drifted, current = _plot_data(page, "psi-0")
    assert line["x"] == ["2026-11-22 07:00:00", "2026-11-22 08:00:00", "2026-11-22 09:00:00",
                         "2026-11-22 11:00:00"]  # sorted by time, this window last
    assert line["y"] == [0.02, 0.03, 0.15, 0.21]
    assert drifted["x"] == ["2026-11-22 09:00:00", "2026-11-22 11:00:00"]
    assert current["x"] == ["2026-11-22 11:00:00"]
    age_line = _plot_data(page, "psi-2")[0]
    assert age_line["y"] == [None, 0.01, None, 0.01]  # windows without the column are gaps


def test_plotly_js_is_inlined_exactly_once_and_nothing_is_fetched() -> None:
    page = render_drift_report(example_report(), history=example_history())
    bundle = plotly_offline.get_plotlyjs()
    assert page.count(bundle) == 1
    assert re.findall(r"<script[^>]*\ssrc\s*=", page) == []
    assert "cdn.plot.ly" not in page.replace(bundle, "")
    assert len(page) - len(bundle) < 200_000  # charts stay small without plotly.js


def test_user_text_is_escaped() -> None:
    report = example_report()
    report["deployment"] = "fraud & <b>co</b>"
    evil = "<script>alert('name')</script>"
    report["features"][0]["name"] = evil
    report["features"][0]["reason"] = "<img src=x onerror=alert(1)>"
    report["features"][1]["histogram"]["categories"][0] = "</script><script>alert(2)</script>"
    report["flagged"] = [evil, "country"]
    report["reference"]["description"] = '"><iframe>'
    page = render_drift_report(report, history=example_history(),
                               title="<i>t</i>")
    for raw in ("<script>alert", "<img src=x", "<iframe>", "<b>co</b>", "<i>t</i>",
                "</script><script>"):
        assert raw not in page
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in page
    assert "fraud &amp; &lt;b&gt;co&lt;/b&gt;" in page
    assert "<title>&lt;i&gt;t&lt;/i&gt;</title>" in page
    assert _plot_data(page, "hist-1")[0]["x"][0] == "</script><script>alert(2)</script>"


def test_rendering_is_deterministic_and_does_not_change_the_input() -> None:
    report, history = example_report(), example_history()
    before = copy.deepcopy((report, history))
    first = render_drift_report(report, history=history)
    assert render_drift_report(report, history=history) == first
    assert json.dumps((report, history)) == json.dumps(before)


def test_report_without_predictions_or_optional_sections() -> None:
    minimal = {"features": [{"name": "x", "kind": "numeric", "drifted": False}],
               "predictions": None}
    page = render_drift_report(minimal)
    assert "No distribution to draw" in page and page.count(CHART_DIV) == 0
    assert "<title>Drift report: unnamed deployment</title>" in page


@pytest.mark.parametrize(("change", "fragment"), [
    (lambda r: r.pop("features"), "must be a mapping with a 'features' list"),
    (lambda r: r["features"][0].pop("name"), "feature #0 has no 'name'"),
    (lambda r: r["features"][0]["histogram"]["current"].pop(), "10 reference and 9 current"),
    (lambda r: r["features"][0]["histogram"]["edges"].pop(), "needs 11 numeric edges"),
    (lambda r: r["features"][1]["histogram"]["categories"].pop(), "2 categories but 3 shares"),
    (lambda r: r["features"][1]["histogram"].pop("categories"), "neither 'edges'"),
])
def test_malformed_reports_are_rejected(change: Any, fragment: str) -> None:
    report = example_report()
    change(report)
    with pytest.raises(InvalidInputError) as caught:
        render_drift_report(report)
    assert fragment in str(caught.value)


def test_missing_plotly_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("plotly", "plotly.graph_objects", "plotly.offline"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ConfigurationError, match=r"pip install plotly"):
        render_drift_report(example_report())
