"""Server-rendered SVG charts for the dashboard: no JavaScript library, no external request.

Each chart scales to its container (viewBox, width 100%). Values that are None (no data in
a bucket) leave a gap rather than a zero.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 600, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 14, 28


@dataclass(frozen=True, kw_only=True)
class Marker:
    """A count drawn above a bucket, e.g. failed deployments."""

    css: str
    label: str
    counts: Sequence[int] = field(default_factory=list)


def _nice_max(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value`."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return value


def _x_labels(labels: Sequence[str]) -> list[int]:
    """Indexes of the bucket labels to print: at most five, evenly spaced."""
    n = len(labels)
    if n <= 5:
        return list(range(n))
    return sorted({round(i * (n - 1) / 4) for i in range(5)})


def chart(
    *,
    kind: str,
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    fmt: Callable[[float], str],
    markers: Sequence[Marker] = (),
) -> SafeString:
    """A bar ("bar") or line ("line") chart of one value per bucket."""
    n = len(values)
    known = [v for v in values if v is not None]
    top = _nice_max(max(known, default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(n, 1)

    def x(index: int) -> float:
        return LEFT + slot * index + slot / 2

    def y(value: float) -> float:
        return TOP + plot_h - (value / top) * plot_h

    parts = [
        f'<svg class="chart chart-{kind}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" preserveAspectRatio="xMidYMid meet">'
    ]
    for fraction in (0, 0.5, 1) if known else (0,):
        gy = y(top * fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{gy:.1f}" y2="{gy:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{gy + 4:.1f}" text-anchor="end">'
            f"{escape(fmt(top * fraction)) if known else ''}</text>"
        )
    for index in _x_labels(labels):
        # The outermost labels align with the plot's edges: centred on their bucket, a long
        # label of a narrow slot (365 days per week) would run past the picture and be cut.
        anchor, at = "middle", x(index)
        if n > 1 and index == 0:
            anchor, at = "start", LEFT
        elif n > 1 and index == n - 1:
            anchor, at = "end", WIDTH - RIGHT
        parts.append(
            f'<text class="axis" x="{at:.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">'
            f"{escape(labels[index])}</text>"
        )
    if not known:
        parts.append(
            f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">'
            "No data in this range</text>"
        )
    if kind == "bar":
        bar_w = max(slot * 0.7, 1.0)
        for index, value in enumerate(values):
            if value is None:
                continue
            top_y = y(value)
            parts.append(
                f'<rect class="bar point" data-value="{value}" x="{x(index) - bar_w / 2:.1f}" '
                f'y="{top_y:.1f}" width="{bar_w:.1f}" height="{TOP + plot_h - top_y:.1f}">'
                f"<title>{escape(labels[index])}: {escape(fmt(value))}</title></rect>"
            )
    else:
        segment: list[str] = []
        segments = []
        for index, value in enumerate(values):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{x(index):.1f},{y(value):.1f}")
        if segment:
            segments.append(segment)
        for points in segments:
            parts.append(f'<polyline class="line" points="{" ".join(points)}"/>')
        for index, value in enumerate(values):
            if value is not None:
                parts.append(
                    f'<circle class="point" data-value="{value}" cx="{x(index):.1f}" '
                    f'cy="{y(value):.1f}" r="3.5"><title>{escape(labels[index])}: '
                    f"{escape(fmt(value))}</title></circle>"
                )
    # Markers stack above the bucket's value (or the axis when there is none).
    for index in range(n):
        base = y(values[index] or 0) - 8
        for marker in markers:
            count = marker.counts[index] if index < len(marker.counts) else 0
            if not count:
                continue
            parts.append(
                f'<g class="marker {marker.css}" data-count="{count}">'
                f'<circle cx="{x(index):.1f}" cy="{base:.1f}" r="6"/>'
                f'<text x="{x(index):.1f}" y="{base + 3.5:.1f}" text-anchor="middle">{count}'
                f"</text><title>{escape(labels[index])}: {count} {escape(marker.label)}</title></g>"
            )
            base -= 14
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every interpolated text is escaped above
