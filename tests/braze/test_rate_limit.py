"""Token buckets per Braze rate-limit group, and their steering by response headers."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from airflow_provider_braze.braze.cancel import CancelToken
from airflow_provider_braze.braze.errors import BrazeCancelledError, BrazeConfigurationError, BrazeRateLimitWaitError
from airflow_provider_braze.braze.rate_limit import RateLimiter, TokenBucket
from airflow_provider_braze.braze.rate_limit_headers import RateLimitHeaders


class Clock:
    def __init__(self) -> None:
        self.mono = 0.0
        self.wall = 1_800_000_000.0

    def sleep(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds


def bucket(rate: float, capacity: float, clock: Clock, **kwargs) -> TokenBucket:
    return TokenBucket(
        rate, capacity, clock=lambda: clock.mono, wall_clock=lambda: clock.wall, sleep=clock.sleep, **kwargs
    )


def test_burst_up_to_capacity_is_free_then_requests_are_spaced_at_the_rate():
    clock = Clock()
    b = bucket(10, 5, clock)
    assert [b.acquire() for _ in range(5)] == [0.0] * 5
    assert b.acquire() == pytest.approx(0.1)
    assert b.acquire() == pytest.approx(0.1)


def test_remaining_zero_pauses_until_reset():
    clock = Clock()
    b = bucket(1000, 1000, clock)
    b.observe(RateLimitHeaders(limit=3000, remaining=0, reset=clock.wall + 2))
    assert b.acquire() == pytest.approx(2.0)


def test_low_remaining_spreads_the_rest_over_the_window():
    clock = Clock()
    b = bucket(1000, 3000, clock)
    # Other workers used the workspace's budget: 10 requests left for the next 2 seconds.
    b.observe(RateLimitHeaders(limit=3000, remaining=10, reset=clock.wall + 2))
    waited = sum(b.acquire() for _ in range(30))
    # 10 left now, then 5 per second until the reset, then the full rate again.
    assert 2.0 <= waited <= 2.5


def test_headers_without_remaining_change_nothing():
    clock = Clock()
    b = bucket(10, 1, clock)
    b.observe(RateLimitHeaders())
    assert b.acquire() == 0.0


def test_headers_are_read_case_insensitively():
    parsed = RateLimitHeaders.parse(
        {"x-ratelimit-limit": "3000", "X-RATELIMIT-REMAINING": "7", "X-RateLimit-Reset": "1800000003"}
    )
    assert parsed == RateLimitHeaders(limit=3000, remaining=7, reset=1_800_000_003.0)


def test_default_groups_follow_brazes_documented_limits():
    limiter = RateLimiter()
    assert limiter.groups["users_track"].limit == 3000 and limiter.groups["users_track"].period == 3
    assert limiter.groups["users_identity"].limit == 20_000 and limiter.groups["users_identity"].period == 60
    assert limiter.groups["subscription_status_set"].per_second == pytest.approx(5000 / 60)
    assert limiter.groups["users_export_ids"].limit == 250
    assert limiter.groups["default"].limit == 250_000 and limiter.groups["default"].period == 3600


def test_overrides_from_connection_extras_replace_a_group_limit():
    limiter = RateLimiter({"users_track": {"limit": 100, "period": 1}, "users_export_ids": [2500, 60]})
    assert limiter.bucket("users_track").rate == 100
    assert limiter.groups["users_export_ids"].limit == 2500


def test_share_scales_every_bucket():
    limiter = RateLimiter(share=0.5)
    assert limiter.bucket("users_track").rate == pytest.approx(500)


@pytest.mark.parametrize("bad", [{"nope": [1, 1]}, {"users_track": "fast"}, {"users_track": [0, 1]}])
def test_bad_overrides_are_clear_configuration_errors(bad):
    with pytest.raises(BrazeConfigurationError, match=r"rate_limits|rate-limit group"):
        RateLimiter(bad)


def test_bucket_is_thread_safe_and_never_over_issues():
    clock_lock = threading.Lock()
    state = {"t": 0.0}

    def sleep(seconds: float) -> None:
        with clock_lock:
            state["t"] += seconds / 8  # eight threads share the elapsed time

    b = TokenBucket(100, 10, clock=lambda: state["t"], sleep=sleep)
    taken: list[float] = []

    def worker() -> None:
        for _ in range(50):
            b.acquire()
            with clock_lock:
                taken.append(state["t"])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(taken) == 400
    # 400 tokens at 100/s with a burst of 10 need at least 3.9 s of (fake) time.
    assert max(taken) >= 3.9 - 1e-6


def test_requests_still_in_flight_are_spent_from_what_braze_says_is_left():
    # 40 requests out; the first answer says 30 are left of the window. The 39 others may not be
    # counted in it yet: the bucket must stop until the reset instead of sending 30 more (and
    # collecting 429s for them).
    clock = Clock()
    b = bucket(1000, 1000, clock)
    for _ in range(40):
        b.acquire()
    b.observe(RateLimitHeaders(limit=3000, remaining=30, reset=clock.wall + 1.5))
    b.release()
    assert b.acquire() == pytest.approx(1.5)

    # Once they are answered, what is left is spread over the rest of the window as before.
    for _ in range(40):
        b.release()
    b.observe(RateLimitHeaders(limit=3000, remaining=100, reset=clock.wall + 2))
    b.release()
    # 100 over 2 s: one every 0.02 s (the pause saved nothing up for a burst).
    assert [b.acquire() for _ in range(3)] == [pytest.approx(0.02)] * 3


def answered(b: TokenBucket, remaining: int, reset: float, limit: int = 150) -> None:
    """One request of this client sent and answered with these headers."""
    b.acquire()
    b.observe(RateLimitHeaders(limit=limit, remaining=remaining, reset=reset))
    b.release()


def window_seen(remainings: range) -> tuple[TokenBucket, Clock, float]:
    """A bucket after answers of one 3 s window whose Remaining ran through ``remainings``."""
    clock = Clock()
    b = bucket(1000, 3000, clock)
    reset = clock.wall + 3
    for remaining in remainings:
        answered(b, remaining, reset)
    return b, clock, reset


def free_requests(b: TokenBucket) -> int:
    """How many requests the bucket lets go now without waiting."""
    n = 0
    while b.acquire() == 0.0 and n < 10_000:
        n += 1
        b.release()
    return n


def test_a_worker_alone_keeps_the_whole_budget():
    b, _, _ = window_seen(range(149, 129, -1))  # Remaining falls by one per request of ours: nobody else
    assert free_requests(b) == 130


def test_a_worker_sharing_the_workspace_spends_only_its_share_of_what_is_left():
    b, _, _ = window_seen(range(146, 66, -4))  # four workers on one key: four per request of ours
    # 70 are left of the workspace's window: about a quarter of them are this worker's, not all 70.
    assert 16 <= free_requests(b) <= 19


def test_a_new_window_starts_at_the_workers_share_of_the_limit_not_in_a_burst():
    b, clock, reset = window_seen(range(146, 2, -4))
    b.observe(RateLimitHeaders(limit=150, remaining=0, reset=reset))  # the window is spent
    # The pause ends at the reset; then a quarter of 150 per 3 s: 12.5 requests a second, no burst
    # of the documented 1,000 a second that four workers at once would turn into 429s.
    for _ in range(26):
        b.acquire()
    assert clock.wall - reset == pytest.approx(26 / 12.5, abs=0.15)


def test_a_429_pause_accrues_nothing_for_the_window_after_it():
    clock = Clock()
    b = bucket(10, 10, clock)
    b.pause_until_epoch(clock.wall + 5)
    waited = sum(b.acquire() for _ in range(3))
    # 5 s of pause, one request at its end, then one every 0.1 s: the pause did not fill the bucket.
    assert waited == pytest.approx(5.0 + 0.2, abs=0.01)


# --- every wait is bounded ------------------------------------------------------------------------


def test_a_pause_longer_than_the_request_may_wait_fails_at_once_naming_the_reset():
    clock = Clock()
    b = bucket(1000, 3000, clock, name="users_track")
    b.observe(RateLimitHeaders(limit=3000, remaining=0, reset=clock.wall + 600))
    with pytest.raises(BrazeRateLimitWaitError) as refused:
        b.acquire(within=30)
    assert clock.mono == 0.0  # nothing was slept
    assert refused.value.seconds == pytest.approx(600) and refused.value.group == "users_track"
    assert str(refused.value).startswith(
        "Braze asked to wait 600 s (X-RateLimit-Remaining 0 until X-RateLimit-Reset 1800000600 "
        "(2027-01-15T08:10:00Z), rate-limit group users_track), beyond the budget (30.0 s left)"
    )


def test_a_pause_within_what_the_request_may_wait_is_waited_out():
    clock = Clock()
    b = bucket(1000, 3000, clock)
    b.observe(RateLimitHeaders(limit=3000, remaining=0, reset=clock.wall + 20))
    assert b.acquire(within=30) == pytest.approx(20)


def test_pacing_that_would_hold_a_request_past_what_it_may_wait_fails_at_once():
    # 10 requests left for the next 3,000 s: after them, one every 300 s.
    clock = Clock()
    b = bucket(1000, 3000, clock, name="users_track")
    b.observe(RateLimitHeaders(limit=3000, remaining=10, reset=clock.wall + 3000))
    assert [b.acquire(within=30) for _ in range(10)] == [0.0] * 10
    with pytest.raises(BrazeRateLimitWaitError, match=r"the rate limiter would hold it 300 s .*Remaining 10 until"):
        b.acquire(within=30)


def test_a_reset_beyond_any_braze_window_is_set_aside_with_one_warning(caplog):
    clock = Clock()
    b = bucket(1000, 3000, clock, name="users_track")
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            b.observe(RateLimitHeaders(limit=3000, remaining=0, reset=clock.wall + 100_000))
    # No pause a day long for every thread: the bucket keeps its documented rate.
    assert b.acquire(within=30) == pytest.approx(0.001)
    far = [r.getMessage() for r in caplog.records if "further than any rate-limit window" in r.getMessage()]
    assert len(far) == 1 and "100000 s ahead" in far[0] and "(3660 s at most)" in far[0]


def test_a_429_reset_beyond_any_braze_window_does_not_pause_the_group():
    clock = Clock()
    b = bucket(10, 10, clock)
    b.pause_until_epoch(clock.wall + 100_000)
    assert b.acquire(within=30) == 0.0


def test_a_longer_window_set_in_the_connection_makes_a_later_reset_believable():
    limiter = RateLimiter({"users_track": {"limit": 100, "period": 86_400}})
    assert limiter.bucket("users_track").horizon == 86_460
    assert RateLimiter().bucket("users_track").horizon == 3_660  # Braze's longest window: an hour


def test_a_long_pause_is_logged_once_as_a_warning_with_its_length_and_a_short_one_is_not(caplog):
    clock = Clock()
    b = bucket(1000, 3000, clock, name="users_track")
    with caplog.at_level(logging.DEBUG):
        b.observe(RateLimitHeaders(limit=3000, remaining=0, reset=clock.wall + 2))
        clock.sleep(3)
        for _ in range(2):  # every answer of the window repeats its reset: one pause
            b.observe(RateLimitHeaders(limit=3000, remaining=0, reset=clock.wall + 600))
    pauses = [(r.levelno, r.getMessage()) for r in caplog.records if "holds every request" in r.getMessage()]
    assert [level for level, _ in pauses] == [logging.DEBUG, logging.WARNING]
    assert pauses[1][1].startswith(
        "Rate-limit group users_track: X-RateLimit-Remaining 0 until X-RateLimit-Reset 1800000603 "
        "(2027-01-15T08:10:03Z) holds every request for 600 s;"
    )


def test_a_wait_in_the_bucket_ends_at_once_when_the_send_is_cancelled():
    b = TokenBucket(1000, 3000)
    b.pause_until_epoch(time.time() + 60)
    token = CancelToken()
    threading.Timer(0.1, token.cancel, args=("export cancelled (SIGTERM)",)).start()
    started = time.monotonic()
    with pytest.raises(BrazeCancelledError, match="export cancelled"):
        b.acquire(within=900, cancel=token)
    assert time.monotonic() - started < 0.5


def test_waits_at_the_groups_own_rate_are_never_refused_even_with_no_budget_at_all():
    clock = Clock()
    b = bucket(10, 1, clock)
    assert [b.acquire(within=0) for _ in range(3)] == [0.0, pytest.approx(0.1), pytest.approx(0.1)]
