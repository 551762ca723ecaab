"""Braze's per-workspace rate limits: one fixed window per rate-limit group of the catalogue.

Windows are aligned to the period on the epoch clock (a 60 s group resets on the minute), which is
how ``X-RateLimit-Reset`` can be one integer for every caller. An override may start its windows at a
chosen moment instead: an hourly window that began just now, whose 2xx answers carry a
``X-RateLimit-Reset`` an hour ahead, as a workspace on the hourly /users/track limits of Braze's
Monthly Active Users CY 24-25 contracts sees once its hour is spent. Every request that reaches the
limiter counts, accepted or not (https://www.braze.com/docs/api/api_limits/). One sandbox is one
workspace: all of its API keys share the windows (sandbox choice).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from airflow_provider_braze.braze.endpoints import RATE_LIMIT_GROUPS
from airflow_provider_braze.braze.rate_limit_headers import RateLimitHeaders

# Header names as Braze spells them; the client reads them case-insensitively.
LIMIT_HEADER, REMAINING_HEADER, RESET_HEADER = "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"


@dataclass(frozen=True)
class RateLimitVerdict:
    """The limiter's answer for one request, and the headers that report it."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {LIMIT_HEADER: str(self.limit), REMAINING_HEADER: str(self.remaining), RESET_HEADER: str(self.reset)}

    def parsed(self) -> RateLimitHeaders:
        return RateLimitHeaders(self.limit, self.remaining, float(self.reset))


def storm_headers(limit: int, reset_in: float, now: float | None = None) -> dict[str, str]:
    """Headers of an injected 429: nothing left, reset ``reset_in`` seconds ahead."""
    reset = math.ceil((time.time() if now is None else now) + reset_in)
    return RateLimitVerdict(False, limit, 0, reset).headers()


class WorkspaceRateLimits:
    """Fixed windows per group, with per-test overrides of a group's limit and period.

    :param overrides: ``{group: (limit, period_seconds)}`` replacing the catalogue's figures.
    """

    def __init__(self, overrides: dict[str, tuple[int, float]] | None = None) -> None:
        self._lock = threading.Lock()
        self._overrides: dict[str, tuple[int, float]] = {}
        self._starts: dict[str, float] = {}
        self._windows: dict[str, tuple[float, int]] = {}
        for group, (limit, period) in (overrides or {}).items():
            self.set_limit(group, limit, period)

    def set_limit(self, group: str, limit: int, period: float, start: float | None = None) -> None:
        """Override one group's window (the current window starts afresh).

        :param start: epoch seconds at which a window begins (default: windows aligned to the period).
        """
        if group not in RATE_LIMIT_GROUPS:
            raise KeyError(f"Unknown rate-limit group {group!r}; known: {', '.join(sorted(RATE_LIMIT_GROUPS))}")
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        with self._lock:
            self._overrides[group] = (int(limit), float(period))
            if start is None:
                self._starts.pop(group, None)
            else:
                self._starts[group] = float(start)
            self._windows.pop(group, None)

    def clear_overrides(self) -> None:
        """Back to the catalogue's figures for every group."""
        with self._lock:
            self._overrides.clear()
            self._starts.clear()
            self._windows.clear()

    def limits(self, group: str) -> tuple[int, float]:
        """The ``(limit, period)`` in force for a group."""
        if group in self._overrides:
            return self._overrides[group]
        catalogue = RATE_LIMIT_GROUPS[group]
        return catalogue.limit, catalogue.period

    def reset(self) -> None:
        """Start every window afresh (overrides stay)."""
        with self._lock:
            self._windows.clear()

    def _window(self, group: str, now: float) -> tuple[float, int, int, float]:
        limit, period = self.limits(group)
        origin = self._starts.get(group, 0.0)
        start = origin + math.floor((now - origin) / period) * period
        current_start, count = self._windows.get(group, (start, 0))
        if current_start != start:
            count = 0
        return start, count, limit, period

    def hit(self, group: str, now: float | None = None) -> RateLimitVerdict:
        """Count one request against ``group``; refuse it when the window is full."""
        now = time.time() if now is None else now
        with self._lock:
            start, count, limit, period = self._window(group, now)
            allowed = count < limit
            if allowed:
                count += 1
            self._windows[group] = (start, count)
            return RateLimitVerdict(allowed, limit, max(limit - count, 0), math.ceil(start + period))

    def peek(self, group: str, now: float | None = None) -> RateLimitVerdict:
        """The window's state without counting a request."""
        now = time.time() if now is None else now
        with self._lock:
            start, count, limit, period = self._window(group, now)
            return RateLimitVerdict(count < limit, limit, max(limit - count, 0), math.ceil(start + period))

    def to_dict(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {
                group: {
                    "limit": self.limits(group)[0],
                    "period": self.limits(group)[1],
                    "window_start": start,
                    "used": count,
                }
                for group, (start, count) in self._windows.items()
            }
