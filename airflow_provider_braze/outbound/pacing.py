"""A steady request rate for a client that must not burst (Ketch's public web API)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pace:
    """Spaces calls ``1 / per_second`` apart: the first goes at once, each next one waits its turn.

    :param per_second: calls per second.
    :param clock: a monotonic clock, injectable for tests.
    :param sleep: how to wait, injectable for tests.
    """

    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError(f"a pace needs a positive rate, got {per_second}")
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next: float | None = None

    def acquire(self) -> float:
        """Wait for this call's turn; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            turn = now if self._next is None else max(now, self._next)
            self._next = turn + self.interval
        if turn > now:
            self._sleep(turn - now)
        return turn - now
