"""The report's SVG charts: scales that put values where they belong, one hover title per
drawn value, hostile names escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from python_scoring.report import charts
from python_scoring.report.charts import Band, Series

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))  # well-formed XML, or this raises


def test_a_line_chart_places_points_on_its_scales():
    svg = _parse(
        charts.line_chart(
            [Series("a", [(0.0, 0.0), (0.5, 0.25), (1.0, 1.0)])],
            kind="roc",
            x_label="x",
            y_label="y",
            x_range=(0, 1),
            y_range=(0, 1),
        )
    )
    circles = svg.findall(f".//{SVG}circle")
    assert len(circles) == 3
    xs = [float(c.get("cx")) for c in circles]
    ys = [float(c.get("cy")) for c in circles]
    left, right = charts.LEFT, charts.WIDTH - charts.RIGHT
    top, bottom = charts.TOP, charts.HEIGHT - charts.BOTTOM
    assert xs == [left, (left + right) / 2, right]
    assert ys[0] == bottom and ys[2] == top
    assert abs(ys[1] - (bottom - 0.25 * (bottom - top))) < 0.1
    assert circles[1].find(f"{SVG}title").text == "a: x 0.5, y 0.25"


def test_dense_series_keep_a_bounded_number_of_hover_markers():
    points = [(i / 100, i / 100) for i in range(101)]
    svg = _parse(charts.line_chart([Series("s", points)], kind="k", x_label="x", y_label="y"))
    markers = svg.findall(f".//{SVG}circle")
    assert 20 <= len(markers) <= charts.MAX_MARKERS + 1  # every 5th point and the last
    assert markers[-1].find(f"{SVG}title").text.endswith("y 1")  # the last point is kept
    polyline = svg.find(f".//{SVG}polyline").get("points")
    assert len(polyline.split()) == 101  # the line itself has every point


def test_bands_and_category_axes():
    svg = _parse(
        charts.line_chart(
            [Series("psi", [(0, 0.02), (1, 0.3)])],
            kind="psi",
            x_label="month",
            y_label="PSI",
            x_names=["2025-01-01", "2025-02-01"],
            bands=[Band(0.1, 0.25, "band-warn", "warn"), Band(0.25, 10, "band-error", "error")],
        )
    )
    assert [r.get("class") for r in svg.findall(f"{SVG}rect")] == ["band-warn", "band-error"]
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "2025-01-01" in texts and "2025-02-01" in texts
    titles = [t.text for t in svg.iter(f"{SVG}title")]
    assert "psi: month 2025-02-01, PSI 0.3" in titles


def test_a_heatmap_draws_one_cell_per_value_with_its_band():
    cells = {("a", "m1"): (0.05, "band-stable"), ("b", "m2"): (0.4, "band-error")}
    svg = _parse(charts.heatmap(["a", "b"], ["m1", "m2"], cells, kind="psi", what="PSI"))
    drawn = svg.findall(f".//{SVG}rect")
    assert len(drawn) == 2
    assert {(r.get("class"), float(r.get("data-value"))) for r in drawn} == {
        ("cell band-stable", 0.05),
        ("cell band-error", 0.4),
    }


def test_bars_scale_to_their_values():
    svg = _parse(charts.bar_chart(["x", "y"], {"n": [10, 40]}, kind="b", x_label="c", y_label="v"))
    heights = [float(r.get("height")) for r in svg.findall(f"{SVG}rect")]
    assert abs(heights[1] / heights[0] - 4) < 0.05
    horizontal = _parse(
        charts.bar_chart(
            ["x", "y"], {"n": [10, 40]}, kind="b", x_label="c", y_label="v", horizontal=True
        )
    )
    widths = [float(r.get("width")) for r in horizontal.findall(f"{SVG}rect")]
    assert abs(widths[1] / widths[0] - 4) < 0.05


def test_hostile_names_are_escaped():
    name = '</svg><script>alert("x")</script>&'
    svg = charts.scatter(
        [(0.1, 0.5, 2.0, name)],
        kind="rules",
        x_label="support",
        y_label="confidence",
        size_label="lift",
    )
    assert "<script>" not in str(svg)
    assert _parse(svg).find(f".//{SVG}title").text.startswith(name)


def test_numbers_read_as_the_report_prints_them():
    assert charts.number(1234567) == "1,234,567"
    assert charts.number(0.123456) == "0.1235"
    assert charts.number(None) == "n/a" and charts.number(float("nan")) == "n/a"
    assert re.fullmatch(r"[\d,]+\.\d", charts.number(12345.67))
