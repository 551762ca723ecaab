"""A run's summary in the page's words: refused, rows/s, health, and a dash for what it does not say."""

from __future__ import annotations

from airflow_provider_braze.state.sync_history import Run
from airflow_provider_braze.ui.figures import duration, figures, health, number


def run(status: str = "success", **summary) -> Run:
    return Run(1, "r", -1, 1, None, status, 0.0, 1.0, summary)


def test_refused_counts_invalid_and_rejected_rows_and_rows_per_second_is_rows_read_over_seconds():
    shown = figures(run(rows_read=100, skipped=3, rejected=2, seconds=4.0))

    assert (shown.refused, shown.rows_per_second) == (5, 25.0)


def test_what_a_summary_does_not_hold_is_unknown_not_zero():
    shown = figures(run(rows_read=10))

    assert shown.refused is None and shown.data_points is None and shown.rows_per_second is None
    assert number(shown.data_points) == "—" and duration(shown.seconds) == "—"


def test_health_follows_the_newest_run():
    assert health(None) == "never run"
    assert health(run("failed")) == "failed"
    assert health(run("running")) == "running"
    assert health(run(accepted=3, skipped=0, rejected=0, unknown=0)) == "healthy"
    assert health(run(accepted=3, unknown=1)) == "warning"
    assert health(run(accepted=3, rejected=1)) == "warning"


def test_durations_read_as_people_say_them():
    assert [duration(s) for s in (0.42, 75, 3725)] == ["0.4 s", "1 min 15 s", "1 h 02 min"]
