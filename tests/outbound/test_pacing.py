"""A steady request rate without bursts."""

from __future__ import annotations

from airflow_provider_braze.outbound.pacing import Pace


def test_the_first_call_goes_at_once_and_each_next_waits_its_turn():
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    pace = Pace(4, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        pace.acquire()
    assert sleeps == [0.25, 0.25, 0.25, 0.25]


def test_time_spent_elsewhere_counts_toward_the_next_turn():
    now = [0.0]
    pace = Pace(1, clock=lambda: now[0], sleep=lambda s: None)
    pace.acquire()
    now[0] = 5.0
    assert pace.acquire() == 0.0
