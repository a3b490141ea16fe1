"""Server-side SVG charts: no JavaScript, no third-party library, readable without CSS."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

WIDTH, HEIGHT = 720, 240
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 40, 28, 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str


@dataclass(frozen=True)
class Chart:
    """Geometry for the template: bars for two series, axis ticks and month labels."""

    width: int
    height: int
    signup_bars: list
    churn_bars: list
    y_ticks: list
    x_labels: list
    baseline: float


def nice_ceiling(value: float) -> int:
    """A round maximum for the y axis (1, 2, 5 x 10^n) at or above `value`."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def plain_bar_label(week: dict, series: str) -> str:
    """`2026-01-05: 3 signups`: a bar's tooltip when no page language is given."""
    return f"{week['start']:%Y-%m-%d}: {week[series]} {series}"


def plain_month_label(start: date) -> str:
    """`2026-01`: an x-axis label when no page language is given."""
    return f"{start:%Y-%m}"


def weekly_chart(
    weeks: list[dict],
    bar_label: Callable[[dict, str], str] = plain_bar_label,
    month_label: Callable[[date], str] = plain_month_label,
) -> Chart:
    """Lay out paired bars (signups, churn) for each week of `weeks`.

    `weeks` is a list of dicts with `start` (date), `signups` and `churn`. The words
    come from `bar_label(week, "signups" or "churn")` and `month_label(start)`, so the
    geometry needs no page language (the dashboard passes the staff language's).
    """
    top = nice_ceiling(max([1] + [max(w["signups"], w["churn"]) for w in weeks]))
    plot_width = WIDTH - MARGIN_LEFT - 8
    plot_height = HEIGHT - MARGIN_BOTTOM - MARGIN_TOP
    baseline = MARGIN_TOP + plot_height
    slot = plot_width / max(len(weeks), 1)
    bar_width = max(slot / 2 - 0.5, 0.5)
    signup_bars, churn_bars, x_labels = [], [], []
    previous_month = None
    for index, week in enumerate(weeks):
        x = MARGIN_LEFT + index * slot
        for series, key, offset in ((signup_bars, "signups", 0), (churn_bars, "churn", bar_width)):
            height = plot_height * week[key] / top
            label = bar_label(week, key)
            series.append(
                Bar(
                    round(x + offset, 2),
                    round(baseline - height, 2),
                    round(bar_width, 2),
                    round(height, 2),
                    label,
                )
            )
        if week["start"].month != previous_month:
            x_labels.append((round(x, 2), month_label(week["start"])))
            previous_month = week["start"].month
    # Gridlines at 0, the top, and half-way when that is a whole number.
    values = [0, top // 2, top] if top % 2 == 0 else [0, top]
    y_ticks = [(round(baseline - plot_height * v / top, 2), v) for v in values]
    return Chart(WIDTH, HEIGHT, signup_bars, churn_bars, y_ticks, x_labels, baseline)
