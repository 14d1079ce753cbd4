"""Charts drawn on the server as small SVG (no chart library sent to the browser).

Each chart is geometry computed here and drawn by `record/includes/bar_chart.html`:
horizontal bars with their value written beside them, so a person reads the numbers at
a glance and a screen reader reads the same numbers from the table under each chart.
Coordinates are logical (the SVG scales to its box); text is the page's language.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 560
LABEL_WIDTH = 170
BAR_HEIGHT = 22
GAP = 8


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    y: int
    width: int
    text_y: int
    value_x: int


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: list[Bar]
    height: int
    label_width: int = LABEL_WIDTH
    track_width: int = WIDTH - LABEL_WIDTH - 70
    width: int = WIDTH


def bar_chart(*, title: str, rows: list[tuple[str, float, str]], maximum: float | None = None) -> BarChart:
    """Rows of (label, value, value as text); bars scaled to `maximum` (default: the largest)."""
    track = WIDTH - LABEL_WIDTH - 70
    top = maximum if maximum else max((value for _l, value, _t in rows), default=0) or 1
    bars = []
    for index, (label, value, text) in enumerate(rows):
        y = index * (BAR_HEIGHT + GAP)
        width = max(0, min(track, round(track * value / top)))
        bars.append(Bar(label=label[:28], value_text=text, y=y, width=width, text_y=y + BAR_HEIGHT - 6,
                        value_x=LABEL_WIDTH + width + 6))
    return BarChart(title=title, bars=bars, height=max(1, len(rows)) * (BAR_HEIGHT + GAP))
