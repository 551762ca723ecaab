"""Metrics through Airflow's Stats: what an export run and its requests emit."""

from __future__ import annotations

from collections import Counter

import pytest
from airflow.sdk._shared.observability.metrics.base_stats_logger import NoStatsLogger
from airflow.sdk.observability import stats

from airflow_provider_braze.operators import BrazeTrackUsersOperator


class RecordingStatsLogger:
    """A Stats backend (Airflow's ``StatsLogger`` protocol) that keeps what it is sent."""

    def __init__(self) -> None:
        self.counters: Counter = Counter()
        self.timings: list[tuple[str, float, dict]] = []
        self.tags: dict[str, list[dict]] = {}

    def incr(self, stat, count=1, rate=1, *, tags=None):
        self.counters[stat] += count
        self.tags.setdefault(stat, []).append(dict(tags or {}))

    def decr(self, stat, count=1, rate=1, *, tags=None):
        self.counters[stat] -= count

    def gauge(self, stat, value, rate=1, delta=False, *, tags=None):
        self.counters[stat] = value

    def timing(self, stat, dt, *, tags=None):
        self.timings.append((stat, float(dt), dict(tags or {})))

    def timer(self, *args, **kwargs):
        raise AssertionError("the provider times with timing(), not timer()")


@pytest.fixture
def metrics():
    recorder = RecordingStatsLogger()
    stats.initialize(factory=lambda: recorder, export_legacy_names=False)
    yield recorder
    stats.initialize(factory=NoStatsLogger, export_legacy_names=False)


ROWS = [{"external_id": f"u{i}", "plan": "pro"} for i in range(200)] + [{"external_id": "", "plan": "x"}]


def test_an_export_emits_its_outcomes_and_each_request(sandbox, braze_conn, metrics):
    summary = BrazeTrackUsersOperator(task_id="t", records=ROWS, skip_on_invalid_records=True).execute(
        context={"run_id": "r1"}
    )

    assert metrics.counters["braze.export.accepted"] == summary["accepted"] == 200
    assert metrics.counters["braze.export.skipped"] == 1
    assert metrics.counters["braze.export.rows_read"] == 201
    assert metrics.counters["braze.export.data_points"] == summary["data_points"]
    assert metrics.tags["braze.export.accepted"] == [{"endpoint": "users/track", "sync_key": "adhoc_airflow.t"}]
    assert metrics.counters["braze.requests"] == summary["requests"] == 3  # 75 + 75 + 50 objects
    assert {t["status"] for t in metrics.tags["braze.requests"]} == {"201"}
    durations = [t for t in metrics.timings if t[0] == "braze.request.duration"]
    assert len(durations) == 3 and all(ms > 0 for _, ms, _ in durations)
    assert [t[0] for t in metrics.timings].count("braze.export.duration") == 1


def test_answers_429_are_counted(sandbox, braze_conn, metrics):
    sandbox.faults.update(rate_limit_storm_for=0.5, rate_limit_storm_reset=0.2)

    BrazeTrackUsersOperator(task_id="t", records=ROWS[:10]).execute(context={"run_id": "r1"})

    assert metrics.counters["braze.requests.rate_limited"] >= 1
    assert metrics.counters["braze.requests"] == metrics.counters["braze.requests.rate_limited"] + 1


def test_a_dry_run_emits_no_export_counts(sandbox, braze_conn, metrics):
    BrazeTrackUsersOperator(task_id="t", records=ROWS, dry_run=True, skip_on_invalid_records=True).execute(
        context={"run_id": "r1"}
    )
    assert not [name for name in metrics.counters if name.startswith("braze.")]
