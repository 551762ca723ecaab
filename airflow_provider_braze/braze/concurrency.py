"""How many requests a sender keeps in flight: enough to spend the rate-limit budget, no more.

By Little's law a client that wants ``rate`` requests a second, each answered after ``latency``
seconds, needs ``rate x latency`` of them in flight: 1,000 a second at 50 ms is 50; at 10 ms, 10.
Fewer leaves budget unused; more only queues at the rate limiter (or, between workers, at Braze).
The window follows the latency it observes (a moving average), grows one request per answer toward
that target, and halves when Braze answers 429 or 5xx or does not answer (at most once per round
trip, so one burst of errors counts once): additive increase, multiplicative decrease, as TCP does.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from airflow_provider_braze.braze.cancel import CancelToken

#: Requests in flight when nothing else is set: a safe cap for one worker's threads and sockets.
DEFAULT_CAP = 64
#: Headroom over rate x latency: latencies vary, and a request waiting for the limiter costs nothing.
HEADROOM = 1.25
#: Weight of the newest latency in the moving average.
_ALPHA = 0.2
#: How often, in seconds, a thread waiting for a slot looks at the cancel token.
_CANCEL_POLL = 0.25


class InFlightWindow:
    """The number of requests to keep in flight, from the latency observed and Braze's answers.

    Thread-safe: the sender's threads pass through it around each request (``with window:`` waits
    for a free slot) and report answers; batches may queue behind it, built ahead.

    :param rate: requests per second the rate limiter allows this client (its budget).
    :param cap: the most in flight (the ``concurrency`` setting, or :data:`DEFAULT_CAP`).
    :param floor: the fewest in flight, even after errors.
    :param start: in flight before the first answer.
    :param clock: monotonic clock, injectable for tests.
    :param cancel: ends the wait for a slot when the send is cancelled.
    """

    def __init__(
        self,
        rate: float,
        *,
        cap: int = DEFAULT_CAP,
        floor: int = 2,
        start: int = 8,
        clock: Callable[[], float] = time.monotonic,
        cancel: CancelToken | None = None,
    ) -> None:
        if cap < 1:
            raise ValueError(f"concurrency must be at least 1, got {cap}.")
        self.rate = rate
        self.cap = cap
        self.floor = min(floor, cap)
        self._limit = max(self.floor, min(start, cap))
        self._latency: float | None = None
        self._clock = clock
        self._calm_after = 0.0
        self._lock = threading.Condition()
        self._active = 0
        self._cancel = cancel

    @property
    def limit(self) -> int:
        """Requests to keep in flight now."""
        return self._limit

    @property
    def latency(self) -> float | None:
        """The moving average of the latencies observed, in seconds."""
        return self._latency

    def target(self) -> int:
        """``rate x latency`` with headroom, within ``[floor, cap]``."""
        if self._latency is None:
            return self._limit
        return max(self.floor, min(self.cap, math.ceil(self.rate * self._latency * HEADROOM)))

    def __enter__(self) -> InFlightWindow:
        """Wait for a slot: fewer than :attr:`limit` requests in flight.

        :raises BrazeCancelledError: the send was cancelled while waiting.
        """
        cancel = self._cancel
        with self._lock:
            while self._active >= self._limit:
                if cancel is None:
                    self._lock.wait()
                    continue
                # Polled: the token does not know this lock, and a cancel is seen within _CANCEL_POLL.
                cancel.raise_if_cancelled()
                self._lock.wait(_CANCEL_POLL)
            self._active += 1
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self._active -= 1
            self._lock.notify()

    def observe(self, seconds: float, status: int | None) -> None:
        """One answer (``status``; ``None`` for none at all) that took ``seconds``."""
        with self._lock:
            if status is None or status == 429 or status >= 500:
                now = self._clock()
                if now >= self._calm_after:
                    self._limit = max(self.floor, self._limit // 2)
                    # Answers to requests sent before the cut tell nothing new: one cut per round trip.
                    self._calm_after = now + (self._latency or seconds)
                return
            self._latency = seconds if self._latency is None else self._latency + _ALPHA * (seconds - self._latency)
            target = self.target()
            grown = self._limit < target
            self._limit = target if self._limit > target else min(target, self._limit + 1)
            if grown:
                self._lock.notify()
