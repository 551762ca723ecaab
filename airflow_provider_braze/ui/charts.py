"""The sync page's two charts across runs, drawn as inline SVG on the server.

No JavaScript and no stylesheet from elsewhere: the page works offline and behind any proxy. Every
text that comes from the ledger (run ids) is escaped here, since the SVG is put into the page as is.
Runs are drawn oldest on the left, so time reads left to right; each bar has a ``<title>`` that a
browser shows on hover.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import datetime, timezone

from airflow_provider_braze.state.sync_history import Run
from airflow_provider_braze.ui.figures import figures, number

WIDTH, HEIGHT = 760, 240
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 44

#: Outcomes of the second chart, bottom to top, with their colours (distinguishable by most people
#: with colour blindness; the legend and each bar's title name them too).
OUTCOMES = (
    ("accepted", "Accepted", "#2b8a3e"),
    ("unchanged", "Unchanged", "#74c0fc"),
    ("already_sent", "Already sent", "#a5d8ff"),
    ("refused", "Refused", "#e8590c"),
    ("failed", "Failed", "#c92a2a"),
    ("unknown", "Unknown", "#868e96"),
)


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n at or above ``value`` (an axis maximum people can read)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def _label(run: Run) -> str:
    return datetime.fromtimestamp(run.started_at, tz=timezone.utc).strftime("%m-%d %H:%M")


def _frame(title: str, top: float, unit: str) -> list[str]:
    """The SVG's opening tag, title, horizontal grid lines and their labels."""
    e = html.escape
    plot = HEIGHT - TOP - BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{e(title)}" class="chart">',
        f"<title>{e(title)}</title>",
    ]
    step = top / 4
    # As many decimals as the ticks need (a top of 5 has ticks at 1.25): never a rounded, wrong label.
    digits = next(d for d in (0, 1, 2, 3) if abs(step * 10**d - round(step * 10**d)) < 1e-9 or d == 3)
    for i in range(5):
        y = TOP + plot - plot * i / 4
        value = step * i
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#dee2e6"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#495057">'
            f"{e(number(value, digits))}</text>"
        )
    parts.append(
        f'<text x="12" y="{TOP + plot / 2:.1f}" font-size="11" fill="#495057" '
        f'transform="rotate(-90 12 {TOP + plot / 2:.1f})" text-anchor="middle">{e(unit)}</text>'
    )
    return parts


def _slots(count: int) -> tuple[float, float]:
    """Width of each run's slot and of its bar."""
    slot = (WIDTH - LEFT - RIGHT) / max(count, 1)
    return slot, max(min(slot * 0.7, 48.0), 1.0)


def _x_label(parts: list[str], run: Run, x: float, every: int, index: int) -> None:
    if index % every == 0:
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="10" fill="#495057">'
            f"{html.escape(_label(run))}</text>"
        )


#: One part of a run's bar: its value, its colour and what its hover title says after the run id.
Segment = tuple[float, str, str]


def _bar_chart(title: str, unit: str, ordered: Sequence[Run], stacks: Sequence[Sequence[Segment]]) -> str:
    """A chart of one bar per run, each stacking its segments from the bottom up.

    :param title: the chart's title, read by screen readers and shown on hover.
    :param unit: the vertical axis's label.
    :param ordered: the runs, oldest first.
    :param stacks: each run's segments, bottom first; a run without any leaves an empty slot.
    """
    top = nice_ceiling(max((sum(value for value, _, _ in stack) for stack in stacks), default=0.0))
    parts = _frame(title, top, unit)
    slot, bar = _slots(len(ordered))
    plot = HEIGHT - TOP - BOTTOM
    every = max(1, math.ceil(len(ordered) / 8))
    for i, (run, stack) in enumerate(zip(ordered, stacks, strict=True)):
        x = LEFT + slot * i + slot / 2
        _x_label(parts, run, x, every, i)
        base = float(TOP + plot)
        for value, colour, what in stack:
            h = plot * value / top
            base -= h
            tip = f"{run.run_id}: {what}"
            parts.append(
                f'<rect x="{x - bar / 2:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{html.escape(tip)}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def throughput_chart(runs: Sequence[Run]) -> str:
    """Rows read per second, one bar per run (runs given newest first, drawn oldest first).

    :param runs: the sync's runs; runs without a rate (still going, nothing read) leave an empty slot.
    """
    ordered = list(reversed(runs))
    rates = [figures(run).rows_per_second for run in ordered]
    stacks = [[(rate, "#1971c2", f"{number(rate)} rows/s")] if rate else [] for rate in rates]
    return _bar_chart("Throughput per run (rows read per second)", "rows/s", ordered, stacks)


def outcomes_chart(runs: Sequence[Run]) -> str:
    """Rows per outcome, one stacked bar per run (runs given newest first, drawn oldest first).

    :param runs: the sync's runs.
    """
    ordered = list(reversed(runs))
    counts = [{key: getattr(figures(run), key) or 0 for key, _, _ in OUTCOMES} for run in ordered]
    stacks = [
        [(count[key], colour, f"{number(count[key])} {label.lower()}") for key, label, colour in OUTCOMES if count[key]]
        for count in counts
    ]
    return _bar_chart("Rows per outcome per run", "rows", ordered, stacks)
