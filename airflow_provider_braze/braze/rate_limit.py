"""Client-side rate limiting: one token bucket per Braze rate-limit group, steered by Braze's headers.

Braze counts requests per workspace, so several tasks (or workers) sharing one key compete for one
budget. Each bucket refills at the group's documented rate; every response then tells us what the
workspace really has left (``X-RateLimit-Remaining`` until ``X-RateLimit-Reset``), and the bucket
slows down to spread that remainder over the rest of the window, or pauses until the reset when it
is zero.

Workers that share a workspace see the same ``Remaining``: each spending all of it would overshoot
by as many times as there are workers, near every window's end, and again at each window's start
after a pause. So each bucket learns its *share* of the workspace's use, what it sent against how
far ``Remaining`` fell over a window, spends that share of what is left, and starts each new window
at its share of the window's limit instead of at full speed. Four workers on one limit then take a
quarter each; a worker alone keeps the whole budget.
https://www.braze.com/docs/api/api_limits/

Every wait is bounded. A caller says how long it may wait (``within``: what is left of the request's
``max_retry_seconds``); a pause or pace that Braze's headers call for and that would hold it longer
raises :class:`~airflow_provider_braze.braze.errors.BrazeRateLimitWaitError` at once instead of
sleeping. (Waits at the group's own rate are not refused: a request waits at most its turn among the
requests in flight, and a budget of zero must not fail a request over a millisecond of pacing.)
One answer steers every thread, so a reset further ahead than any Braze window
(:func:`~airflow_provider_braze.braze.rate_limit_headers.reset_horizon`: the group's period or an
hour, whichever is longer, plus a minute) is not taken: the bucket keeps its documented rate and
still spends no more than ``Remaining``, and Braze's own 429s say the rest. A pause longer than
:data:`LONG_PAUSE` is logged as a warning when it begins; waits sleep on the caller's
:class:`~airflow_provider_braze.braze.cancel.CancelToken`, so a cancelled export wakes at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_braze.braze.cancel import CancelToken
from airflow_provider_braze.braze.endpoints import RATE_LIMIT_GROUPS, RateLimitGroup
from airflow_provider_braze.braze.errors import BrazeConfigurationError, BrazeRateLimitWaitError
from airflow_provider_braze.braze.rate_limit_headers import RateLimitHeaders, describe_reset, reset_horizon

log = logging.getLogger(__name__)

_EPSILON = 1e-9
_MIN_SLEEP = 0.001
#: Fall of ``Remaining`` within a window needed before the window's own share estimate is trusted.
_SHARE_EVIDENCE = 8
#: The smallest share a bucket assumes (it never starves itself below 1/64 of the workspace).
_MIN_SHARE = 1 / 64
#: A pause longer than this (seconds) is logged as a warning; shorter ones at debug level (at Braze's
#: 3,000 requests per 3 s a pause to the next window is routine).
LONG_PAUSE = 60.0


class TokenBucket:
    """A thread-safe token bucket.

    :param rate: tokens added per second.
    :param capacity: the most tokens it holds (the burst size).
    :param name: the rate-limit group, for log lines and errors.
    :param period: the group's window in seconds (default ``capacity / rate``); it bounds how far
        ahead a believable ``X-RateLimit-Reset`` lies (see the module's docstring).
    :param clock: monotonic clock, injectable for tests.
    :param wall_clock: epoch clock used to read ``X-RateLimit-Reset``, injectable for tests.
    :param sleep: a stand-in for the waits, injectable for tests (default: sleep on the caller's
        cancel token, or ``time.sleep`` without one).
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        name: str = "default",
        period: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise BrazeConfigurationError(f"A rate limit needs a positive rate and capacity, got {rate}/{capacity}.")
        self.rate = rate
        self.capacity = capacity
        self.name = name
        self.horizon = reset_horizon(period if period is not None else capacity / rate)
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = capacity
        self._updated = clock()
        # Steering from response headers: a slower rate that holds until the server's window resets.
        self._paced_rate: float | None = None
        self._paced_until = 0.0
        self._paused_until = 0.0
        # What Braze said behind the current pause or pace, for the error of a request that cannot wait.
        self._pause_why = ""
        self._reset_epoch: float | None = None
        self._remaining: int | None = None
        self._warned_far_reset = False
        # Requests taken and not yet answered: Braze may not have counted them in a Remaining it sends.
        self._in_flight = 0
        # What this client sends of the workspace's use (1: alone), learnt window by window.
        self._share = 1.0
        self._window_reset: float | None = None  # X-RateLimit-Reset of the window being observed
        self._window_top = 0  # Remaining before this client's first answered request of the window
        self._window_own = 0  # this client's answered requests in the window
        # The rate to start a window at, until its first answer: this client's share of the window's
        # limit (None until a limit was seen: the documented rate).
        self._window_rate: float | None = None

    def _refill(self, now: float) -> float:
        rate = self.rate if self._window_rate is None else min(self.rate, self._window_rate)
        if self._paced_rate is not None:
            if now < self._paced_until:
                rate = min(self.rate, self._paced_rate)
            else:
                self._paced_rate = None
        # A pause moves _updated to its end: nothing accrues before that.
        self._tokens = min(self.capacity, self._tokens + max(0.0, now - self._updated) * rate)
        self._updated = max(self._updated, now)
        return rate

    def _pause(self, now: float, until: float, why: str, reset: float | None) -> float | None:
        """Hold every caller until ``until`` (monotonic); returns the pause's length when it is new.

        Nothing accrues meanwhile: the next window starts with one request (its answer tells what the
        window holds), then goes at this client's pace, not in a burst of everything a pause saved up.

        :param why: what Braze said, for the error of a request that cannot wait that long.
        :param reset: the ``X-RateLimit-Reset`` behind the pause.
        """
        if until <= now:
            return None
        # Answers within one window repeat the same reset; only a later one is a new pause.
        new = until > self._paused_until + 1.0
        if until >= self._paused_until:
            self._pause_why, self._reset_epoch = why, reset
        self._paused_until = max(self._paused_until, until)
        self._tokens = min(1.0, self.capacity)
        self._updated = max(self._updated, self._paused_until)
        return until - now if new else None

    def _log_pause(self, seconds: float | None) -> None:
        """Log a pause that just began (outside the lock: a log handler may be slow)."""
        if seconds is None:
            return
        level = logging.WARNING if seconds > LONG_PAUSE else logging.DEBUG
        log.log(
            level,
            "Rate-limit group %s: %s holds every request for %.0f s; a request that cannot wait that long "
            "within its max_retry_seconds fails at once instead",
            self.name,
            self._pause_why,
            seconds,
        )

    def _believable(self, reset: float) -> float | None:
        """Seconds until ``reset``, or ``None`` when it lies beyond any Braze window (then ignored)."""
        ahead = reset - self._wall_clock()
        return ahead if ahead <= self.horizon else None

    def _log_far_reset(self, reset: float | None) -> None:
        """Say, once as a warning, that a reset beyond any window was set aside (outside the lock)."""
        if reset is None:
            return
        level = logging.DEBUG if self._warned_far_reset else logging.WARNING
        self._warned_far_reset = True
        if log.isEnabledFor(level):
            log.log(
                level,
                "Rate-limit group %s: Braze's %s is %.0f s ahead, further than any rate-limit window (%.0f s "
                "at most); the rate limiter ignores it (is this machine's clock right?). A 429 naming it still "
                "fails its request when the wait passes max_retry_seconds.",
                self.name,
                describe_reset(reset),
                reset - self._wall_clock(),
                self.horizon,
            )

    def acquire(self, tokens: float = 1.0, *, within: float | None = None, cancel: CancelToken | None = None) -> float:
        """Take ``tokens``, waiting until they are available; returns the seconds waited.

        :param within: the most this call may wait, in seconds: when the next wait would pass it,
            the call raises at once instead of sleeping in vain (the request's ``max_retry_seconds``).
        :param cancel: the token that ends the wait when the send is cancelled.
        :raises BrazeRateLimitWaitError: the wait would pass ``within``.
        :raises BrazeCancelledError: ``cancel`` was cancelled while waiting.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                rate = self._refill(now)
                paused = now < self._paused_until
                if paused:
                    delay = self._paused_until - now
                elif self._tokens >= tokens - _EPSILON:
                    self._tokens = max(0.0, self._tokens - tokens)
                    self._in_flight += 1
                    return waited
                else:
                    # A floor on the sleep: a float-rounding shortfall must not spin the loop.
                    delay = max((tokens - self._tokens) / rate, _MIN_SLEEP)
                steered = paused or (self._paced_rate is not None and now < self._paced_until)
                if within is not None and steered and waited + delay > within:
                    raise self._too_long(delay, within - waited, paused=paused)
            self._wait(delay, cancel)
            waited += delay

    def _wait(self, seconds: float, cancel: CancelToken | None) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
            if cancel is not None:
                cancel.raise_if_cancelled()
        elif cancel is not None:
            cancel.sleep(seconds)
        else:
            time.sleep(seconds)

    def _too_long(self, delay: float, left: float, *, paused: bool) -> BrazeRateLimitWaitError:
        if paused:
            why = f"Braze asked to wait {delay:,.0f} s ({self._pause_why}, rate-limit group {self.name})"
        else:
            why = (
                f"the rate limiter would hold it {delay:,.0f} s (spreading Braze's X-RateLimit-Remaining "
                f"{self._remaining} until {describe_reset(self._reset_epoch)}, rate-limit group {self.name})"
            )
        return BrazeRateLimitWaitError(delay, why, group=self.name, left=max(left, 0.0))

    def release(self) -> None:
        """A request taken with :meth:`acquire` was answered (or failed)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def observe(self, headers: RateLimitHeaders) -> None:
        """Align the bucket with what Braze says is left of the workspace's window.

        Call it before :meth:`release` of the answered request. The other requests this client has in
        flight may have left after Braze counted ``Remaining``: they are spent from it now, or near a
        window's end each worker would overshoot by its requests in flight and collect 429s.
        """
        if headers.remaining is None:
            return
        paused = far = None
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._learn_share(headers)
            seconds_to_reset = None
            if headers.reset is not None:
                seconds_to_reset = self._believable(headers.reset)
                far = headers.reset if seconds_to_reset is None else None
            # Our other requests in flight may not be counted in Remaining yet, nor the other workers'
            # (assumed as many as ours for their share): what is left is after all of them, and of
            # that, the other workers' shares are theirs to spend.
            share = self._share
            ours = max(self._in_flight - 1, 0)
            left = max(headers.remaining - ours - ours * (1 - share) / share, 0)
            mine = left * share
            self._tokens = min(self._tokens, mine)
            if seconds_to_reset is not None and seconds_to_reset > 0:
                self._remaining = headers.remaining
                if mine < 1:
                    why = f"X-RateLimit-Remaining {headers.remaining} until {describe_reset(headers.reset)}"
                    paused = self._pause(now, now + seconds_to_reset, why, headers.reset)
                else:
                    self._paced_rate = mine / seconds_to_reset
                    self._paced_until = now + seconds_to_reset
                    self._reset_epoch = headers.reset
        self._log_far_reset(far)
        self._log_pause(paused)

    def _learn_share(self, headers: RateLimitHeaders) -> None:
        """Update the share of the workspace's use this client makes, from one answer's headers.

        Within a window, each request of ours is one that ``Remaining`` fell by; the rest of its fall is
        other clients' requests. A window's estimate replaces the running share once enough of the
        window was seen, and is kept for the next window (the workers sharing a key change slowly).
        """
        remaining, reset = headers.remaining, headers.reset
        if remaining is None or reset is None:
            return
        if reset != self._window_reset:
            self._window_reset, self._window_top, self._window_own = reset, remaining + 1, 0
        self._window_own += 1
        fallen = self._window_top - remaining
        if fallen >= _SHARE_EVIDENCE:
            self._share = min(1.0, max(_MIN_SHARE, self._window_own / fallen))
        limit = headers.limit if headers.limit is not None else self._window_top
        period = self.capacity / self.rate  # the group's window: capacity is its limit, rate its limit per period
        self._window_rate = max(limit * self._share / period, _EPSILON)

    def pause_until_epoch(self, reset_epoch: float) -> None:
        """Hold every caller until the given wall-clock time (after a 429), unless it is beyond belief."""
        paused = None
        with self._lock:
            now = self._clock()
            self._refill(now)
            ahead = self._believable(reset_epoch)
            if ahead is not None:
                paused = self._pause(now, now + ahead, f"HTTP 429 until {describe_reset(reset_epoch)}", reset_epoch)
        self._log_far_reset(None if ahead is not None else reset_epoch)
        self._log_pause(paused)


class RateLimiter:
    """One :class:`TokenBucket` per Braze rate-limit group.

    :param overrides: per-group limits replacing Braze's defaults, e.g. from connection extras:
        ``{"users_track": {"limit": 1000, "period": 3}}`` or ``{"users_track": [1000, 3]}``.
    :param share: the fraction of each workspace limit this client may use (leave room for other
        integrations sharing the workspace), between 0 and 1.
    :param enabled: ``False`` disables client-side limiting (the server's 429s still apply).
    """

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        *,
        share: float = 1.0,
        enabled: bool = True,
        **bucket_kwargs: Any,
    ) -> None:
        if not 0 < share <= 1:
            raise BrazeConfigurationError(f"rate_limit_share must be in (0, 1], got {share!r}.")
        self.enabled = enabled
        self.groups = _groups_with_overrides(overrides or {})
        self._buckets = {
            name: TokenBucket(
                group.per_second * share,
                max(1.0, group.limit * share),
                name=name,
                period=group.period,
                **bucket_kwargs,
            )
            for name, group in self.groups.items()
        }

    def bucket(self, group: str) -> TokenBucket:
        return self._buckets.get(group) or self._buckets["default"]

    def acquire(self, group: str, *, within: float | None = None, cancel: CancelToken | None = None) -> float:
        """Wait for a request slot in ``group``; returns the seconds waited.

        :param within: the most this call may wait (see :meth:`TokenBucket.acquire`).
        :param cancel: the token that ends the wait when the send is cancelled.
        :raises BrazeRateLimitWaitError: the wait would pass ``within``.
        :raises BrazeCancelledError: ``cancel`` was cancelled while waiting.
        """
        return self.bucket(group).acquire(within=within, cancel=cancel) if self.enabled else 0.0

    def release(self, group: str) -> None:
        """A request of ``group`` taken with :meth:`acquire` was answered (or failed)."""
        if self.enabled:
            self.bucket(group).release()

    def observe(self, group: str, headers: RateLimitHeaders) -> None:
        if self.enabled:
            self.bucket(group).observe(headers)

    def pause(self, group: str, reset_epoch: float) -> None:
        if self.enabled:
            self.bucket(group).pause_until_epoch(reset_epoch)


def _groups_with_overrides(overrides: Mapping[str, Any]) -> dict[str, RateLimitGroup]:
    groups = dict(RATE_LIMIT_GROUPS)
    for name, value in overrides.items():
        if name not in groups:
            raise BrazeConfigurationError(
                f"Unknown rate-limit group {name!r} in rate_limits; known groups: {', '.join(groups)}."
            )
        try:
            if isinstance(value, Mapping):
                limit, period = value["limit"], value.get("period", groups[name].period)
            else:
                limit, period = value
            groups[name] = RateLimitGroup(name, int(limit), float(period), groups[name].description)
        except (KeyError, TypeError, ValueError):
            raise BrazeConfigurationError(
                f"rate_limits[{name!r}] must be {{'limit': N, 'period': seconds}} or [N, seconds], got {value!r}."
            ) from None
        if groups[name].limit <= 0 or groups[name].period <= 0:
            raise BrazeConfigurationError(f"rate_limits[{name!r}] needs a positive limit and period.")
    return groups
