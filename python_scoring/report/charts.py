"""Charts as inline SVG, written here rather than by a plotting library: the report must
open from disk with no network and stay small and fast whatever the warehouse holds.
Each chart is a few kilobytes of text; every drawn value carries a `<title>`, which a
browser shows on hover and a printer ignores, and the numbers are also in a table beside
the chart (report/page.py). Colours come from CSS classes (s0..s5 for series, band-ok /
band-warn / band-error for bands), so the page's stylesheet owns the look.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 460, 270
LEFT, RIGHT, TOP, BOTTOM = 52, 14, 32, 44  # the legend above the plot
SERIES_CLASSES = 6  # s0 .. s5 in the stylesheet
MAX_MARKERS = 25  # hover markers per series: dense curves get every k-th point


def number(value: float | None) -> str:
    """A value as the report prints it: thousands separated, else 4 significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, int) or (abs(value) >= 1000 and float(value).is_integer()):
        return f"{value:,.0f}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.4g}"


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False


@dataclass(frozen=True)
class Band:
    """A horizontal band behind a chart, e.g. PSI's warn band 0.10 .. 0.25."""

    low: float
    high: float
    css: str  # band-ok, band-warn, band-error
    label: str


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def _range(values: Sequence[float], given: tuple[float, float] | None) -> tuple[float, float]:
    if given is not None:
        return given
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    low = min(low, 0.0) if low >= 0 and low < 0.5 * high else low
    return (low, high) if high > low else (low - 0.5, high + 0.5)


class _Frame:
    """The plotting area and its scales: data coordinates -> SVG coordinates."""

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        self.width, self.height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(self, value: float) -> float:
        return LEFT + (value - self.x0) / ((self.x1 - self.x0) or 1) * self.width

    def y(self, value: float) -> float:
        return TOP + self.height - (value - self.y0) / ((self.y1 - self.y0) or 1) * self.height


def _svg(kind: str, label: str, body: list[str], height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg class="chart" data-chart="{escape(kind)}" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(body)
        + "</svg>"
    )


def _axes(
    frame: _Frame,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[tuple[float, str]],
    y_ticks: Sequence[tuple[float, str]],
) -> list[str]:
    out = [
        f'<g class="axis"><line x1="{LEFT}" y1="{TOP + frame.height}" '
        f'x2="{LEFT + frame.width}" y2="{TOP + frame.height}"/>'
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + frame.height}"/>'
    ]
    for value, text in x_ticks:
        x = frame.x(value)
        out.append(
            f'<text x="{x:.1f}" y="{TOP + frame.height + 14}" text-anchor="middle">'
            f"{escape(text)}</text>"
        )
    for value, text in y_ticks:
        y = frame.y(value)
        out.append(
            f'<line class="grid" x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + frame.width}" '
            f'y2="{y:.1f}"/><text x="{LEFT - 5}" y="{y + 3:.1f}" text-anchor="end">'
            f"{escape(text)}</text>"
        )
    out.append(
        f'<text class="label" x="{LEFT + frame.width / 2:.1f}" y="{HEIGHT - 6}" '
        f'text-anchor="middle">{escape(x_label)}</text>'
        f'<text class="label" transform="translate(12 {TOP + frame.height / 2:.1f}) '
        f'rotate(-90)" text-anchor="middle">{escape(y_label)}</text></g>'
    )
    return out


def _legend(names: Sequence[str]) -> list[str]:
    """Above the plot, in up to two rows."""
    if len(names) < 2:
        return []
    out, x, y = ['<g class="legend">'], LEFT + 6, 2
    for i, name in enumerate(names):
        width = 20 + 6.2 * len(name)
        if x + width > WIDTH - RIGHT and x > LEFT + 6:
            x, y = LEFT + 6, y + 14
        out.append(
            f'<rect class="s{i % SERIES_CLASSES}" x="{x:.0f}" y="{y}" width="10" height="10"/>'
            f'<text x="{x + 13:.0f}" y="{y + 9}">{escape(name)}</text>'
        )
        x += width
    out.append("</g>")
    return out


def _ticks(low: float, high: float, fmt: Callable[[float], str]) -> list[tuple[float, str]]:
    return [(t, fmt(t)) for t in _nice_ticks(low, high) if low - 1e-9 <= t <= high + 1e-9]


def line_chart(
    series: Sequence[Series],
    *,
    kind: str,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float] | None = None,
    y_range: tuple[float, float] | None = None,
    x_names: Sequence[str] | None = None,
    bands: Sequence[Band] = (),
    diagonal: bool = False,
) -> Markup:
    """Lines with hover markers. `x_names` makes x categorical (point x = index into it,
    e.g. months); `bands` shade value ranges; `diagonal` draws y = x (ROC's chance line)."""
    xs = [p[0] for s in series for p in s.points]
    ys = [p[1] for s in series for p in s.points if p[1] is not None]
    if x_names is not None:
        x_range = (-0.5, len(x_names) - 0.5)
    frame = _Frame(_range(xs, x_range), _range(ys + [b.low for b in bands], y_range))
    body = []
    for band in bands:
        top, bottom = min(band.high, frame.y1), max(band.low, frame.y0)
        if top > bottom:
            body.append(
                f'<rect class="{band.css}" x="{LEFT}" y="{frame.y(top):.1f}" '
                f'width="{frame.width}" height="{frame.y(bottom) - frame.y(top):.1f}">'
                f"<title>{escape(band.label)}</title></rect>"
            )
    if x_names is not None:
        step = max(1, math.ceil(len(x_names) / 8))
        x_ticks = [(i, name) for i, name in enumerate(x_names) if i % step == 0]
    else:
        x_ticks = _ticks(frame.x0, frame.x1, number)
    body += _axes(frame, x_label, y_label, x_ticks, _ticks(frame.y0, frame.y1, number))
    if diagonal:
        body.append(
            f'<line class="diagonal" x1="{frame.x(frame.x0):.1f}" y1="{frame.y(frame.y0):.1f}" '
            f'x2="{frame.x(frame.x1):.1f}" y2="{frame.y(frame.y1):.1f}"/>'
        )
    for i, s in enumerate(series):
        css = f"s{i % SERIES_CLASSES}" + (" dashed" if s.dashed else "")
        points = [(x, y) for x, y in s.points if y is not None]
        path = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in points)
        body.append(
            f'<g class="series {css}" data-series="{escape(s.name)}"><polyline points="{path}"/>'
        )
        every = max(1, math.ceil(len(points) / MAX_MARKERS))
        for j, (x, y) in enumerate(points):
            if j % every and j != len(points) - 1:
                continue
            shown_x = x_names[int(x)] if x_names is not None else number(x)
            body.append(
                f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="2.6">'
                f"<title>{escape(s.name)}: {escape(x_label)} {escape(shown_x)}, "
                f"{escape(y_label)} {number(y)}</title></circle>"
            )
        body.append("</g>")
    body += _legend([s.name for s in series])
    return _svg(kind, f"{y_label} by {x_label}", body)


def bar_chart(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    *,
    kind: str,
    x_label: str,
    y_label: str,
    horizontal: bool = False,
) -> Markup:
    """Grouped bars: one group per category, one bar per series. Horizontal bars suit
    long names (features, products)."""
    names = list(series)
    values = [v for vs in series.values() for v in vs if v is not None]
    low, high = _range(values + [0.0], None)
    if not horizontal:
        frame = _Frame((0, len(categories)), (low, high))
        step = max(1, math.ceil(len(categories) / 12))
        x_ticks = [(i + 0.5, c[:14]) for i, c in enumerate(categories) if i % step == 0]
        body = _axes(frame, x_label, y_label, x_ticks, _ticks(low, high, number))
        width = 0.8 / max(1, len(names))
        for k, name in enumerate(names):
            for i, value in enumerate(series[name]):
                if value is None:
                    continue
                top, bottom = frame.y(max(value, 0)), frame.y(min(value, 0))
                body.append(
                    f'<rect class="bar s{k % SERIES_CLASSES}" '
                    f'x="{frame.x(i + 0.1 + k * width):.1f}" y="{top:.1f}" '
                    f'width="{frame.width / len(categories) * width:.1f}" '
                    f'height="{max(bottom - top, 0.5):.1f}" data-value="{value!r}">'
                    f"<title>{escape(categories[i])} {escape(name)}: {number(value)}</title></rect>"
                )
        return _svg(kind, f"{y_label} by {x_label}", body + _legend(names))
    # horizontal: categories down the left, names written inside the chart
    row, left = 16, 170
    span = (high - min(low, 0)) or 1
    scale = (WIDTH - left - RIGHT) / span
    body, y = [], TOP
    for i, category in enumerate(categories):
        body.append(
            f'<text x="{left - 6}" y="{y + row * len(names) / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(category[:28])}</text>"
        )
        for k, name in enumerate(names):
            value = series[name][i]
            if value is not None:
                body.append(
                    f'<rect class="bar s{k % SERIES_CLASSES}" x="{left}" y="{y + 2}" '
                    f'width="{max(value - min(low, 0), 0) * scale:.1f}" height="{row - 4}" '
                    f'data-value="{value!r}"><title>{escape(category)} {escape(name)}: '
                    f"{number(value)}</title></rect>"
                )
            y += row
    body.append(
        f'<text class="label" x="{(left + WIDTH) / 2:.0f}" y="{y + 20}" '
        f'text-anchor="middle">{escape(x_label)} (max {number(high)})</text>'
    )
    return _svg(kind, f"{x_label} by {y_label}", body + _legend(names), height=y + BOTTOM)


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: Mapping[tuple[str, str], tuple[float, str]],
    *,
    kind: str,
    what: str,
) -> Markup:
    """One rect per (row, column) present in `cells`, coloured by its CSS class (a band);
    absent cells stay empty. Rows are e.g. features, columns months."""
    cell_w = min(48, (WIDTH - 170 - RIGHT) / max(1, len(columns)))
    cell_h, left, top = 13, 170, 62
    width = left + cell_w * len(columns) + RIGHT
    body = []
    for j, column in enumerate(columns):
        x = left + (j + 0.5) * cell_w
        body.append(
            f'<text class="column" transform="translate({x:.1f} {top - 4}) rotate(-45)">'
            f"{escape(column)}</text>"
        )
    for i, row in enumerate(rows):
        y = top + i * cell_h
        body.append(
            f'<text x="{left - 5}" y="{y + cell_h - 3}" text-anchor="end">{escape(row[:30])}</text>'
        )
        for j, column in enumerate(columns):
            if (row, column) not in cells:
                continue
            value, css = cells[(row, column)]
            body.append(
                f'<rect class="cell {css}" x="{left + j * cell_w:.1f}" y="{y}" '
                f'width="{cell_w - 1:.1f}" height="{cell_h - 1}" data-value="{value!r}">'
                f"<title>{escape(row)} {escape(column)}: {escape(what)} {number(value)}</title>"
                f"</rect>"
            )
    height = top + cell_h * len(rows) + 8
    svg = str(_svg(kind, f"{what} by row and column", body, height=height))
    # drawn at its own size (a few months would otherwise be scaled up to the page's width)
    return Markup(
        svg.replace(
            f'viewBox="0 0 {WIDTH} ',
            f'style="max-width: {width:.0f}px" viewBox="0 0 {width:.0f} ',
            1,
        )
    )


def scatter(
    points: Sequence[tuple[float, float, float, str]],
    *,
    kind: str,
    x_label: str,
    y_label: str,
    size_label: str,
) -> Markup:
    """Points (x, y, size, name), the area growing with size: e.g. association rules by
    support and confidence, sized by lift."""
    frame = _Frame(_range([p[0] for p in points], None), _range([p[1] for p in points], None))
    body = _axes(
        frame,
        x_label,
        y_label,
        _ticks(frame.x0, frame.x1, number),
        _ticks(frame.y0, frame.y1, number),
    )
    biggest = max((p[2] for p in points), default=1) or 1
    for x, y, size, name in points:
        radius = 2 + 8 * math.sqrt(max(size, 0) / biggest)
        body.append(
            f'<circle class="point s0" cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" '
            f'r="{radius:.1f}"><title>{escape(name)}: {escape(x_label)} {number(x)}, '
            f"{escape(y_label)} {number(y)}, {escape(size_label)} {number(size)}</title></circle>"
        )
    return _svg(kind, f"{y_label} by {x_label}", body)
