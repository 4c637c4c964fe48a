"""Small SVG charts for the daily report: no plotting library, no fonts to install, crisp when printed.

Each function returns a complete SVG document; the report embeds it as a data: URL image, so the HTML file
is one self-contained attachment a property office can e-mail or print.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from html import escape

W, H = 720, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28


def data_url(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _frame(labels: Sequence[str], top: float, unit: str) -> list[str]:
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{W}" height="{H}" fill="white"/>',
    ]
    plot_h = H - TOP - BOTTOM
    for i in range(5):
        value = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{value:g}</text>')
    out.append(f'<text x="4" y="{TOP + 8}" fill="#555">{escape(unit)}</text>')
    step = (W - LEFT - RIGHT) / max(1, len(labels))
    for i, label in enumerate(labels):
        if i % 3 == 0:
            x = LEFT + step * (i + 0.5)
            out.append(
                f'<text x="{x:.1f}" y="{H - 10}" text-anchor="middle" fill="#555">{escape(label)}</text>'
            )
    return out


def _top(values: Sequence[float], floor: float) -> float:
    peak = max([floor, *values])
    for nice in (1, 2, 2.5, 5, 10):
        for scale in (1, 10, 100, 1000, 10000):
            if nice * scale >= peak:
                return float(nice * scale)
    return peak


def stacked_bars(
    labels: Sequence[str], series: Mapping[str, Sequence[float]], colours: dict[str, str], unit: str = ""
) -> str:
    """One bar per label, the series stacked in the order given (e.g. alarms per hour by severity)."""
    totals = [sum(s[i] for s in series.values()) for i in range(len(labels))]
    top = _top(totals, 4)
    out = _frame(labels, top, unit)
    plot_h = H - TOP - BOTTOM
    step = (W - LEFT - RIGHT) / max(1, len(labels))
    for i in range(len(labels)):
        base = 0.0
        for name, values in series.items():
            v = values[i]
            if v <= 0:
                continue
            y = TOP + plot_h - plot_h * (base + v) / top
            h = plot_h * v / top
            x = LEFT + step * i + step * 0.15
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" '
                f'fill="{colours.get(name, "#888")}"><title>{escape(name)} {v:g}</title></rect>'
            )
            base += v
    out += _legend(list(series), colours)
    out.append("</svg>")
    return "\n".join(out)


def lines(
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    colours: dict[str, str],
    unit: str = "",
    marks: Sequence[tuple[float, str]] = (),
) -> str:
    """One line per series over the labels; `marks` are horizontal reference lines (alarm set-points)."""
    present = [v for s in series.values() for v in s if v is not None]
    top = _top([*present, *(m for m, _ in marks)], 1)
    out = _frame(labels, top, unit)
    plot_h = H - TOP - BOTTOM
    step = (W - LEFT - RIGHT) / max(1, len(labels))
    for value, colour in marks:
        y = TOP + plot_h - plot_h * value / top
        out.append(
            f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-dasharray="4 3"/>'
        )
    for name, values in series.items():
        points = [
            f"{LEFT + step * (i + 0.5):.1f},{TOP + plot_h - plot_h * v / top:.1f}"
            for i, v in enumerate(values)
            if v is not None
        ]
        if points:
            out.append(
                f'<polyline fill="none" stroke="{colours.get(name, "#333")}" stroke-width="2" '
                f'points="{" ".join(points)}"/>'
            )
        for point in points:  # a lone hour still shows
            cx, cy = point.split(",")
            out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colours.get(name, "#333")}"/>')
    out += _legend(list(series), colours)
    out.append("</svg>")
    return "\n".join(out)


def _legend(names: list[str], colours: dict[str, str]) -> list[str]:
    out = []
    x = W - RIGHT - 90 * len(names)
    for i, name in enumerate(names):
        out.append(
            f'<rect x="{x + 90 * i}" y="2" width="10" height="10" fill="{colours.get(name, "#888")}"/>'
        )
        out.append(f'<text x="{x + 90 * i + 14}" y="11">{escape(name)}</text>')
    return out
