"""Braze's ``X-RateLimit-*`` response headers, read case-insensitively (HTTP/2 sends them lowercase)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

_N = TypeVar("_N", int, float)


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
