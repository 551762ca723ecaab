"""The charts across runs: inline SVG, oldest run on the left, every text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from airflow_provider_braze.state.sync_history import Run
from airflow_provider_braze.ui.charts import nice_ceiling, outcomes_chart, throughput_chart


def run(run_id: str, started: float, **summary) -> Run:
    return Run(1, run_id, -1, 1, None, "success", started, started + 1, summary)


RUNS = [  # newest first, as the ledger returns them
    run("new", 2_000.0, rows_read=300, seconds=1.0, accepted=100, unchanged=200),
    run("<old>", 1_000.0, rows_read=100, seconds=1.0, accepted=90, skipped=10),
]


def bars(svg: str) -> list[tuple[float, str]]:
    root = ET.fromstring(svg)  # noqa: S314 - the provider's own SVG, whose escaping is what is tested
    ns = "{http://www.w3.org/2000/svg}"
    return [(float(r.get("x")), r.find(f"{ns}title").text) for r in root.iter(f"{ns}rect")]


def test_throughput_draws_one_bar_per_run_oldest_first():
    drawn = bars(throughput_chart(RUNS))

    assert [title for _, title in drawn] == ["<old>: 100 rows/s", "new: 300 rows/s"]
    assert drawn[0][0] < drawn[1][0]


def test_outcomes_stack_each_run_s_rows_by_outcome():
    titles = [title for _, title in bars(outcomes_chart(RUNS))]

    assert titles == ["<old>: 90 accepted", "<old>: 10 refused", "new: 100 accepted", "new: 200 unchanged"]


def test_text_from_the_ledger_is_escaped_in_the_svg():
    svg = throughput_chart(RUNS)

    assert "<old>" not in svg and "&lt;old&gt;" in svg and "<script" not in svg
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", svg)


def test_axis_tops_are_round_numbers():
    assert [nice_ceiling(v) for v in (0, 7, 12, 230, 2600)] == [1.0, 10, 20, 250, 5000]
