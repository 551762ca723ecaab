"""Braze's ``X-RateLimit-*`` response headers, read case-insensitively (HTTP/2 sends them lowercase).

``X-RateLimit-Reset`` is when the current window resets, in UTC epoch seconds: the start of the next
window, so never further ahead than the group's window is long. Braze's longest window for the
endpoints this provider calls is an hour (the 250,000 requests an hour shared by unlisted endpoints;
the hourly limits of /users/track on Monthly Active Users CY 24-25 contracts):
https://www.braze.com/docs/api/api_limits/ and
https://www.braze.com/docs/api/messaging_api/rate_limits (the header's definition). A reset
further ahead than :func:`reset_horizon` is not a window's end (a skewed clock, a proxy's header, a
bug) and the client-side rate limiter does not pause on it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

_N = TypeVar("_N", int, float)

#: Braze's longest rate-limit window for the endpoints in the catalogue, in seconds.
LONGEST_WINDOW = 3600.0
#: Allowance beyond a window's length for clocks that disagree and a reset rounded up to the second.
RESET_SLACK = 60.0


def reset_horizon(period: float) -> float:
    """How far ahead, in seconds, an ``X-RateLimit-Reset`` can plausibly be for a group.

    :param period: the group's window as configured (a ``rate_limits`` override may make it longer
        than Braze's documented hour).
    """
    return max(period, LONGEST_WINDOW) + RESET_SLACK


def describe_reset(epoch: float | None) -> str:
    """``X-RateLimit-Reset 1900000000 (2030-03-17T17:46:40Z)`` for log lines and errors."""
    if epoch is None:
        return "X-RateLimit-Reset unknown"
    try:
        moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        moment = "out of range"
    return f"X-RateLimit-Reset {epoch:.0f} ({moment})"


@dataclass(frozen=True)
class RateLimitHeaders:
    """What one response said about its rate-limit window.

    :param limit: requests allowed in the window (``X-RateLimit-Limit``).
    :param remaining: requests left in the window (``X-RateLimit-Remaining``).
    :param reset: when the window resets, UTC epoch seconds (``X-RateLimit-Reset``).
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str] | None) -> RateLimitHeaders:
        """Read the three headers from any mapping, whatever the case of its keys."""
        if not headers:
            return cls()
        lowered = {str(k).lower(): v for k, v in headers.items()}
        return cls(
            limit=_number(lowered.get("x-ratelimit-limit"), int),
            remaining=_number(lowered.get("x-ratelimit-remaining"), int),
            reset=_number(lowered.get("x-ratelimit-reset"), float),
        )

    @property
    def present(self) -> bool:
        return self.remaining is not None or self.reset is not None


def _number(raw: str | None, kind: Callable[[float], _N]) -> _N | None:
    if raw is None:
        return None
    try:
        return kind(float(str(raw).strip()))
    except ValueError:
        return None
