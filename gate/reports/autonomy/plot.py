"""The weekly trend as a PNG: stacked bars per week, the override rate as a line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gate.reports.autonomy.report import AutonomyReport, WeekStats
from gate.reports.autonomy.text import period

BAR_COLORS = {
    "passed automatically": "#2e9d57",
    "for review": "#f0a830",
    "held": "#d0413a",
    "shadow mode (not enforced)": "#a8a8a8",
    "no decision (failed or pending)": "#555555",
}


def _stacks(weeks: Sequence[WeekStats]) -> dict[str, list[int]]:
    stacks = {
        "passed automatically": [w.auto_passed for w in weeks],
        "for review": [w.reviewed for w in weeks],
        "held": [w.held for w in weeks],
        "shadow mode (not enforced)": [w.shadow for w in weeks],
        "no decision (failed or pending)": [w.undecided for w in weeks],
    }
    optional = ("shadow mode (not enforced)", "no decision (failed or pending)")
    return {k: v for k, v in stacks.items() if k not in optional or any(v)}


def _draw_bars(ax: Any, weeks: Sequence[WeekStats]) -> list[Any]:
    """The stacked bars; returns their legend handles (drawn even for a period without weeks)."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    x = range(len(weeks))
    bottom = [0] * len(weeks)
    handles = []
    for label, values in _stacks(weeks).items():
        ax.bar(x, values, bottom=bottom, color=BAR_COLORS[label], width=0.7)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        handles.append(Patch(color=BAR_COLORS[label], label=label))
    # headroom above the tallest bar keeps the bars clear of the legend along the top
    ax.set_ylim(0, max([*bottom, 1]) * 1.35)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("changes assessed")
    ax.set_xlabel("ISO week (UTC), with its Monday")
    step = max(1, len(weeks) // 16)
    ax.set_xticks(x[::step], [f"{w.week}\n{w.starts:%d %b}" for w in weeks][::step])
    if not any(w.assessed for w in weeks):
        ax.text(0.5, 0.5, "no changes assessed", ha="center", transform=ax.transAxes)
    return handles


def _draw_override_rate(ax: Any, weeks: Sequence[WeekStats]) -> Any:
    from matplotlib.ticker import PercentFormatter

    rate = ax.twinx()
    values = [float("nan") if w.override_rate is None else w.override_rate for w in weeks]
    rate.plot(range(len(weeks)), values, color="#3355aa", marker="o", lw=2, label="override rate")
    rate.set_ylim(0, 1.35)
    rate.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    rate.yaxis.set_major_formatter(PercentFormatter(1.0))
    rate.set_ylabel("override rate (approved / resolved holds)")
    return rate


def plot_weekly_trend(report: AutonomyReport, path: Path) -> Path:
    """A 1200x600 PNG: stacked passed/reviewed/held bars per week, override rate as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 6), dpi=100)
    FigureCanvasAgg(fig)  # the Agg canvas, without touching pyplot's global state
    ax = fig.add_subplot()
    handles = _draw_bars(ax, report.weeks)
    handles += _draw_override_rate(ax, report.weeks).get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", ncols=min(len(handles), 4), frameon=False)
    ax.set_title(f"riskgate autonomy for {report.repository}: {period(report)}")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    return path
