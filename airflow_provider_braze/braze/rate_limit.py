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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from airflow_provider_braze.braze.endpoints import RATE_LIMIT_GROUPS, RateLimitGroup
from airflow_provider_braze.braze.errors import BrazeConfigurationError
from airflow_provider_braze.braze.rate_limit_headers import RateLimitHeaders

_EPSILON = 1e-9
_MIN_SLEEP = 0.001
#: Fall of ``Remaining`` within a window needed before the window's own share estimate is trusted.
_SHARE_EVIDENCE = 8
#: The smallest share a bucket assumes (it never starves itself below 1/64 of the workspace).
_MIN_SHARE = 1 / 64


class TokenBucket:
    """A thread-safe token bucket.

    :param rate: tokens added per second.
    :param capacity: the most tokens it holds (the burst size).
    :param clock: monotonic clock, injectable for tests.
    :param wall_clock: epoch clock used to read ``X-RateLimit-Reset``, injectable for tests.
    :param sleep: sleep function, injectable for tests.
    """

    def __init__(
        self,
        rate: float,
        capacity: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or capacity < 1:
            raise BrazeConfigurationError(f"A rate limit needs a positive rate and capacity, got {rate}/{capacity}.")
        self.rate = rate
        self.capacity = capacity
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

    def _pause(self, now: float, until: float) -> None:
        """Hold every caller until ``until`` (monotonic).

        Nothing accrues meanwhile: the next window starts with one request (its answer tells what the
        window holds), then goes at this client's pace, not in a burst of everything a pause saved up.
        """
        if until <= now:
            return
        self._paused_until = max(self._paused_until, until)
        self._tokens = min(1.0, self.capacity)
        self._updated = max(self._updated, self._paused_until)

    def acquire(self, tokens: float = 1.0) -> float:
        """Take ``tokens``, sleeping until they are available; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                rate = self._refill(now)
                if now < self._paused_until:
                    delay = self._paused_until - now
                elif self._tokens >= tokens - _EPSILON:
                    self._tokens = max(0.0, self._tokens - tokens)
                    self._in_flight += 1
                    return waited
                else:
                    # A floor on the sleep: a float-rounding shortfall must not spin the loop.
                    delay = max((tokens - self._tokens) / rate, _MIN_SLEEP)
            self._sleep(delay)
            waited += delay

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
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._learn_share(headers)
            seconds_to_reset = None
            if headers.reset is not None:
                seconds_to_reset = headers.reset - self._wall_clock()
            # Our other requests in flight may not be counted in Remaining yet, nor the other workers'
            # (assumed as many as ours for their share): what is left is after all of them, and of
            # that, the other workers' shares are theirs to spend.
            share = self._share
            ours = max(self._in_flight - 1, 0)
            left = max(headers.remaining - ours - ours * (1 - share) / share, 0)
            mine = left * share
            self._tokens = min(self._tokens, mine)
            if seconds_to_reset is None or seconds_to_reset <= 0:
                return
            if mine < 1:
                self._pause(now, now + seconds_to_reset)
            else:
                self._paced_rate = mine / seconds_to_reset
                self._paced_until = now + seconds_to_reset

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
        """Hold every caller until the given wall-clock time (after a 429)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._pause(now, now + reset_epoch - self._wall_clock())


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
            name: TokenBucket(group.per_second * share, max(1.0, group.limit * share), **bucket_kwargs)
            for name, group in self.groups.items()
        }

    def bucket(self, group: str) -> TokenBucket:
        return self._buckets.get(group) or self._buckets["default"]

    def acquire(self, group: str) -> float:
        """Wait for a request slot in ``group``; returns the seconds waited."""
        return self.bucket(group).acquire() if self.enabled else 0.0

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
