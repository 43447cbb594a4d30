"""Charts drawn on the server as inline SVG (pure functions, no JavaScript).

Every chart is a `Chart`: the SVG markup together with the numbers it draws, as rows of a text table
(`key_label` heads the first column, `columns` the others), so a page always shows the figures beside
the picture. Colours come from CSS classes (`tone-warm`, `tone-cold`, `tone-graph`), never style
attributes, so the strict CSP holds and both themes apply. Bars and points carry a `<title>` with their
number for pointer users.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from markupsafe import Markup, escape

__all__ = ["Chart", "Row", "Series", "Tone", "bar_chart", "category_chart", "line_chart", "nice_ticks"]

Tone = Literal["warm", "cold", "graph", "neutral"]
Number = int | float

WIDTH = 640
HEIGHT = 240
_LEFT, _RIGHT, _TOP, _BOTTOM = 46, 14, 12, 34
_TICKS = 4  # gridlines above zero


@dataclass(frozen=True, slots=True)
class Series:
    """One named sequence of values, one per label, drawn in one tone."""

    name: str
    tone: Tone
    values: tuple[Number, ...]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a chart's table: the label and a value per column."""

    label: str
    values: tuple[Number, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """An SVG chart and the table of the numbers it draws."""

    title: str
    key_label: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    legend: tuple[tuple[str, Tone], ...]
    svg: Markup

    @property
    def totals(self) -> tuple[Number, ...]:
        """The sum of each column."""
        return tuple(sum(row.values[i] for row in self.rows) for i in range(len(self.columns)))


def nice_ticks(top: Number, count: int = _TICKS) -> list[int]:
    """Gridline values from 0 that cover `top` in `count` equal steps of 1, 2, 2.5 or 5 x 10^k (whole numbers)."""
    raw = max(float(top), 1.0) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    steps = (1, 2, 2.5, 5, 10) if magnitude >= 10 else (1, 2, 5, 10)
    step = max(1, math.ceil(next(m * magnitude for m in steps if m * magnitude >= raw)))
    return [step * i for i in range(count + 1)]


def _number(value: Number) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def _coordinate(value: float) -> str:
    return f"{value:.1f}"


def _open(title: str, width: int = WIDTH, height: int = HEIGHT) -> list[str]:
    label = f"{title} (the numbers are in the table beside the chart)"
    return [
        f'<svg class="chart-svg" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}"'
        ' focusable="false" xmlns="http://www.w3.org/2000/svg">'
    ]


def _grid(parts: list[str], ticks: list[int], plot_w: float, plot_h: float) -> None:
    top = ticks[-1]
    for tick in ticks:
        y = _TOP + plot_h - plot_h * tick / top
        line_class = "chart-axis-line" if tick == 0 else "chart-grid"
        parts.append(
            f'<line class="{line_class}" x1="{_LEFT}" y1="{_coordinate(y)}" x2="{_coordinate(_LEFT + plot_w)}"'
            f' y2="{_coordinate(y)}"/>'
        )
        parts.append(
            f'<text class="chart-tick" x="{_LEFT - 6}" y="{_coordinate(y + 4)}" text-anchor="end">'
            f"{escape(_number(tick))}</text>"
        )


def _x_labels(parts: list[str], labels: Sequence[str], centres: Sequence[float], every: int) -> None:
    for index, (label, x) in enumerate(zip(labels, centres, strict=True)):
        if index % every == 0:
            parts.append(
                f'<text class="chart-tick" x="{_coordinate(x)}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )


def _check(labels: Sequence[str], series: Sequence[Series]) -> None:
    if not series:
        raise ValueError("a chart needs at least one series")
    for one in series:
        if len(one.values) != len(labels):
            raise ValueError(f"series {one.name!r} has {len(one.values)} values for {len(labels)} labels")


def _table(title: str, key_label: str, labels: Sequence[str], series: Sequence[Series], svg: list[str]) -> Chart:
    return Chart(
        title=title,
        key_label=key_label,
        columns=tuple(s.name for s in series),
        rows=tuple(Row(label, tuple(s.values[i] for s in series)) for i, label in enumerate(labels)),
        legend=tuple((s.name, s.tone) for s in series),
        svg=Markup("".join(svg)),
    )


def bar_chart(
    title: str, key_label: str, labels: Sequence[str], series: Sequence[Series], *, label_every: int = 1
) -> Chart:
    """Grouped vertical bars: one group per label, one bar per series. `label_every` thins the x labels."""
    _check(labels, series)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    ticks = nice_ticks(max((v for s in series for v in s.values), default=0))
    slot = plot_w / max(len(labels), 1)
    group = slot * 0.76
    bar = group / len(series)
    parts = _open(title)
    _grid(parts, ticks, plot_w, plot_h)
    centres = []
    for index, label in enumerate(labels):
        left = _LEFT + slot * index + (slot - group) / 2
        centres.append(_LEFT + slot * (index + 0.5))
        for number, one in enumerate(series):
            value = one.values[index]
            height = plot_h * value / ticks[-1]
            parts.append(
                f'<rect class="chart-bar tone-{one.tone}" x="{_coordinate(left + bar * number)}"'
                f' y="{_coordinate(_TOP + plot_h - height)}" width="{_coordinate(max(bar - 1, 1))}"'
                f' height="{_coordinate(height)}" rx="1.5"><title>{escape(f"{label}: {one.name} {_number(value)}")}'
                "</title></rect>"
            )
    _x_labels(parts, labels, centres, label_every)
    parts.append("</svg>")
    return _table(title, key_label, labels, series, parts)


def line_chart(
    title: str, key_label: str, labels: Sequence[str], series: Sequence[Series], *, label_every: int = 1
) -> Chart:
    """One line per series over the labels, with a dot at every point."""
    _check(labels, series)
    plot_w, plot_h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    ticks = nice_ticks(max((v for s in series for v in s.values), default=0))
    step = plot_w / max(len(labels) - 1, 1)
    xs = [_LEFT + step * i if len(labels) > 1 else _LEFT + plot_w / 2 for i in range(len(labels))]
    parts = _open(title)
    _grid(parts, ticks, plot_w, plot_h)
    for one in series:
        ys = [_TOP + plot_h - plot_h * v / ticks[-1] for v in one.values]
        points = " ".join(f"{_coordinate(x)},{_coordinate(y)}" for x, y in zip(xs, ys, strict=True))
        parts.append(f'<polyline class="chart-line tone-{one.tone}" points="{points}"/>')
        for label, x, y, value in zip(labels, xs, ys, one.values, strict=True):
            parts.append(
                f'<circle class="chart-dot tone-{one.tone}" cx="{_coordinate(x)}" cy="{_coordinate(y)}" r="3">'
                f"<title>{escape(f'{label}: {one.name} {_number(value)}')}</title></circle>"
            )
    _x_labels(parts, labels, xs, label_every)
    parts.append("</svg>")
    return _table(title, key_label, labels, series, parts)


def category_chart(title: str, key_label: str, column: str, items: Sequence[tuple[str, Number, Tone]]) -> Chart:
    """Horizontal bars, one per category in its own tone (e.g. warm and cold entries); one table column."""
    if not items:
        raise ValueError("a chart needs at least one category")
    height = _TOP + 34 * len(items) + 8
    label_w, plot_w = 70, WIDTH - 70 - 80
    top = max((value for _, value, _ in items), default=0) or 1
    parts = _open(title, WIDTH, height)
    for index, (label, value, tone) in enumerate(items):
        y = _TOP + 34 * index
        width = plot_w * value / top
        parts.append(f'<text class="chart-tick" x="0" y="{y + 17}">{escape(label)}</text>')
        parts.append(f'<rect class="chart-track" x="{label_w}" y="{y + 4}" width="{plot_w}" height="18" rx="3"/>')
        parts.append(
            f'<rect class="chart-bar tone-{tone}" x="{label_w}" y="{y + 4}" width="{_coordinate(width)}"'
            f' height="18" rx="3"><title>{escape(f"{label}: {_number(value)}")}</title></rect>'
        )
        parts.append(
            f'<text class="chart-value" x="{label_w + plot_w + 8}" y="{y + 17}">{escape(_number(value))}</text>'
        )
    parts.append("</svg>")
    return Chart(
        title=title,
        key_label=key_label,
        columns=(column,),
        rows=tuple(Row(label, (value,)) for label, value, _ in items),
        legend=tuple((label, tone) for label, _, tone in items),
        svg=Markup("".join(parts)),
    )
