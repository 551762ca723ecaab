"""The in-flight window: rate x latency, grown one answer at a time, halved on 429, 5xx or silence."""

from __future__ import annotations

import threading
import time

import pytest

from airflow_provider_braze.braze.cancel import CancelToken
from airflow_provider_braze.braze.concurrency import InFlightWindow
from airflow_provider_braze.braze.errors import BrazeCancelledError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def answered(window: InFlightWindow, times: int, seconds: float, status: int = 201) -> None:
    for _ in range(times):
        window.observe(seconds, status)


def test_it_grows_one_request_per_answer_to_rate_times_latency():
    window = InFlightWindow(1_000, cap=64, start=8)
    answered(window, 10, 0.05)
    assert window.limit == 18  # 8, then one more per answer
    answered(window, 100, 0.05)
    assert window.limit == 63  # 1,000 a second x 50 ms x 1.25 headroom


@pytest.mark.parametrize(("latency", "limit"), [(0.2, 64), (0.001, 2), (0.01, 13)], ids=["cap", "floor", "between"])
def test_it_stays_within_its_cap_and_floor(latency, limit):
    window = InFlightWindow(1_000, cap=64, start=8)
    answered(window, 200, latency)
    assert window.limit == limit


def test_a_faster_braze_shrinks_it_at_once():
    window = InFlightWindow(1_000, cap=64, start=8)
    answered(window, 100, 0.05)
    answered(window, 30, 0.01)  # the average follows the new latency
    assert window.limit == window.target() < 20


@pytest.mark.parametrize("status", [429, 500, 503, None], ids=["429", "500", "503", "no answer"])
def test_throttling_an_error_or_silence_halves_it_once_per_round_trip(status):
    clock = Clock()
    window = InFlightWindow(1_000, cap=64, start=8, clock=clock)
    answered(window, 100, 0.05)
    window.observe(0.05, status)
    window.observe(0.05, status)  # answers to requests sent before the cut: no second cut
    assert window.limit == 31
    clock.now += 0.06
    window.observe(0.05, status)
    assert window.limit == 15
    answered(window, 5, 0.05)
    assert window.limit == 20  # then it grows back, one per answer


def test_a_cap_below_its_start_or_floor_holds():
    window = InFlightWindow(1_000, cap=1)
    answered(window, 10, 0.2)
    window.observe(0.2, 429)
    assert window.limit == 1


def test_a_thread_waiting_for_a_slot_gives_up_when_the_send_is_cancelled():
    token = CancelToken()
    window = InFlightWindow(1_000, cap=1, cancel=token)
    window.__enter__()  # the only slot is taken by a request that never returns
    threading.Timer(0.1, token.cancel, args=("export cancelled (SIGTERM)",)).start()
    started = time.monotonic()
    with pytest.raises(BrazeCancelledError), window:
        pass
    assert time.monotonic() - started < 0.6
