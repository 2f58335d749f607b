"""Charts as inline SVG, drawn here: no JavaScript, no third-party code, readable by a
screen reader (each chart has a title and a description naming its figures).

Every piece of text is escaped: labels can come from merchant data.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 64
MARGIN_RIGHT = 16
MARGIN_TOP = 16
MARGIN_BOTTOM = 40
GRID_LINES = 4
PALETTE = ("#635bff", "#00a6c0", "#e5484d", "#f5a623", "#30a46c", "#8e4ec6")


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    points: Sequence[tuple[str, float]]  # (x label, value), in x order


def _axis_top(value: float, value_format: str) -> float:
    """The top of a y axis from 0 to at least ``value``, so that its GRID_LINES steps are
    1, 2, 2.5 or 5 times a power of ten, and whole numbers when the labels show none (a
    count of 5 reads 0, 2, 4, 6, 8 rather than 0, 1, 2, 4, 5)."""
    step = value / GRID_LINES if value > 0 else 0.25
    magnitude = 10.0 ** math.floor(math.log10(step))
    step = next(factor * magnitude for factor in (1, 2, 2.5, 5, 10) if step <= factor * magnitude)
    if value_format.endswith(".0f}") and step != math.floor(step):
        step = float(math.ceil(step))
    return step * GRID_LINES


def _frame(title: str, description: str, body: list[str]) -> Markup:
    key = hashlib.sha1(title.encode(), usedforsecurity=False).hexdigest()[:8]
    # Markup: templates embed the SVG as is. Safe because every text above went through
    # escape() and every number is formatted here.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="t{key} d{key}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="t{key}">{escape(title)}</title>'
        f'<desc id="d{key}">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _y_axis(top: float, fmt: str) -> list[str]:
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    parts = []
    for i in range(GRID_LINES + 1):
        value = top * i / GRID_LINES
        y = HEIGHT - MARGIN_BOTTOM - plot_height * i / GRID_LINES
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#e3e8ee"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#697386">{escape(fmt.format(value))}</text>'
        )
    return parts


def line_chart(title: str, series: Sequence[Series], value_format: str = "{:,.0f}") -> Markup:
    """One line per series over shared x labels (the union, in first-seen order)."""
    labels: list[str] = []
    for s in series:
        labels += [label for label, _ in s.points if label not in labels]
    if not labels:
        return _frame(title, "No data yet.", [_empty()])
    top = _axis_top(max((v for s in series for _, v in s.points), default=0.0), value_format)
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    step = plot_width / max(1, len(labels) - 1)

    def x(label: str) -> float:
        return (
            MARGIN_LEFT + step * labels.index(label)
            if len(labels) > 1
            else MARGIN_LEFT + plot_width / 2
        )

    def y(value: float) -> float:
        return HEIGHT - MARGIN_BOTTOM - plot_height * value / top

    body = _y_axis(top, value_format)
    every = max(1, math.ceil(len(labels) / 8))  # at most ~8 x labels fit
    for i, label in enumerate(labels):
        if i % every == 0:
            body.append(
                f'<text x="{x(label):.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" font-size="11" '
                f'text-anchor="middle" fill="#697386">{escape(label)}</text>'
            )
    described = []
    for index, s in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        path = " ".join(f"{x(label):.1f},{y(v):.1f}" for label, v in s.points)
        body.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
        body += [
            f'<circle cx="{x(label):.1f}" cy="{y(v):.1f}" r="3" fill="{color}">'
            f"<title>{escape(s.name)} {escape(label)}: {escape(value_format.format(v))}</title>"
            "</circle>"
            for label, v in s.points
        ]
        body.append(_legend(index, s.name, color))
        described.append(
            f"{s.name}: " + ", ".join(f"{lbl} {value_format.format(v)}" for lbl, v in s.points)
        )
    return _frame(title, "; ".join(described), body)


def bar_chart(
    title: str, bars: Sequence[tuple[str, float]], value_format: str = "{:.0%}"
) -> Markup:
    """One bar per label, values from 0 to 1 (rates) or any non-negative number."""
    if not bars:
        return _frame(title, "No data yet.", [_empty()])
    top = _axis_top(max(v for _, v in bars), value_format) if value_format != "{:.0%}" else 1.0
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_width / len(bars)
    body = _y_axis(top, value_format)
    for index, (label, value) in enumerate(bars):
        height = plot_height * value / top
        left = MARGIN_LEFT + slot * index + slot * 0.2
        body.append(
            f'<rect x="{left:.1f}" y="{HEIGHT - MARGIN_BOTTOM - height:.1f}" '
            f'width="{slot * 0.6:.1f}" height="{height:.1f}" rx="3" '
            f'fill="{PALETTE[index % len(PALETTE)]}"><title>{escape(label)}: '
            f"{escape(value_format.format(value))}</title></rect>"
            f'<text x="{left + slot * 0.3:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" '
            f'font-size="11" text-anchor="middle" fill="#697386">{escape(label)}</text>'
        )
    description = ", ".join(f"{label} {value_format.format(v)}" for label, v in bars)
    return _frame(title, description, body)


def _legend(index: int, name: str, color: str) -> str:
    x = MARGIN_LEFT + 8 + index * 120
    return (
        f'<rect x="{x}" y="{MARGIN_TOP - 12}" width="10" height="10" fill="{color}"/>'
        f'<text x="{x + 14}" y="{MARGIN_TOP - 3}" font-size="11" fill="#1a1f36">'
        f"{escape(name)}</text>"
    )


def _empty() -> str:
    return (
        f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#697386">'
        "No data yet</text>"
    )


def grouped_bar_chart(
    title: str,
    series_names: Sequence[str],
    groups: Sequence[tuple[str, Sequence[float], Sequence[str]]],
    value_format: str = "{:.0%}",
) -> Markup:
    """Side-by-side bars per group: (group label, one value per series, one tooltip per
    series). Values are non-negative; the axis runs from 0 to the next round number."""
    if not groups:
        return _frame(title, "No data yet.", [_empty()])
    top = _axis_top(max(max(values, default=0.0) for _, values, _ in groups), value_format)
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    slot = plot_width / len(groups)
    bar = slot * 0.7 / max(1, len(series_names))
    body = _y_axis(top, value_format)
    described = []
    for index, (label, values, tips) in enumerate(groups):
        left = MARGIN_LEFT + slot * index + slot * 0.15
        for position, (value, tip) in enumerate(zip(values, tips, strict=True)):
            height = plot_height * value / top
            body.append(
                f'<rect x="{left + bar * position:.1f}" y="{HEIGHT - MARGIN_BOTTOM - height:.1f}" '
                f'width="{bar * 0.9:.1f}" height="{height:.1f}" rx="2" '
                f'fill="{PALETTE[position % len(PALETTE)]}"><title>{escape(tip)}</title></rect>'
            )
        body.append(
            f'<text x="{left + slot * 0.35:.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" '
            f'font-size="11" text-anchor="middle" fill="#697386">{escape(label)}</text>'
        )
        described.append(f"{label}: " + ", ".join(tips))
    body += [_legend(i, name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(series_names)]
    return _frame(title, "; ".join(described), body)
