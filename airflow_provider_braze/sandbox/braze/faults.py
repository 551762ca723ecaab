"""Fault injection: the ways a real Braze call goes wrong, switchable while the sandbox runs.

Every knob is off by default. Each request draws one random number per knob from one seeded
generator, in a fixed order, so a given ``seed`` and request order always give the same faults.
The faults are decided before the request is processed; ``processed_then_timeout`` and
``processed_then_drop`` apply the request first (the case that matters most for a client: Braze has
the data, the client does not know), and ``slow`` applies it after the pause, as a slow server would.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

DROP, ERROR, STORM, SLOW, TIMEOUT, LOST = (
    "drop",
    "error",
    "rate_limit_storm",
    "slow",
    "processed_then_timeout",
    "processed_then_drop",
)


@dataclass
class Faults:
    """Fault settings; assign attributes (or call :meth:`update`) at any time.

    :param error_rate: fraction of requests answered with a 5xx from ``error_statuses``; nothing applied.
    :param error_statuses: the statuses drawn from for ``error_rate``.
    :param rate_limit_storm: fraction of requests answered 429 ``Rate Limited`` with
        ``X-RateLimit-Remaining: 0``; nothing applied.
    :param rate_limit_storm_until: epoch seconds; every request before then gets the storm 429.
    :param rate_limit_storm_reset: how far ahead (seconds) the storm's ``X-RateLimit-Reset`` lies.
    :param slow_rate: fraction of requests that wait ``slow_seconds`` before being processed.
    :param slow_seconds: the wait of a slow request.
    :param drop_rate: fraction of requests whose connection is closed without any answer; nothing applied.
    :param processed_then_timeout_rate: fraction of requests applied, then answered 504 after
        ``timeout_seconds`` (the client has usually given up by then).
    :param timeout_seconds: the wait before that 504.
    :param processed_then_drop_rate: fraction of requests applied, then left without any answer:
        the connection is closed where the response should be (a load balancer dropping it).
    :param endpoints: catalogue names the faults apply to; empty: every Braze endpoint.
    """

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    rate_limit_storm: float = 0.0
    rate_limit_storm_until: float = 0.0
    rate_limit_storm_reset: float = 1.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    drop_rate: float = 0.0
    processed_then_timeout_rate: float = 0.0
    timeout_seconds: float = 0.0
    processed_then_drop_rate: float = 0.0
    endpoints: frozenset[str] = field(default_factory=frozenset)

    def update(self, **settings: Any) -> Faults:
        """Change several knobs at once; ``rate_limit_storm_for=seconds`` starts a storm window now.

        :raises ValueError: on an unknown knob or a rate outside 0..1.
        """
        known = {f.name for f in fields(self)}
        storm_for = settings.pop("rate_limit_storm_for", None)
        unknown = set(settings) - known
        if unknown:
            raise ValueError(f"Unknown fault settings: {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        for name, given in settings.items():
            value: Any
            if name == "error_statuses":
                value = tuple(int(v) for v in given)
            elif name == "endpoints":
                value = frozenset(str(v).lstrip("/") for v in (given or ()))
            else:
                value = float(given)
                if (name.endswith("rate") or name == "rate_limit_storm") and not 0.0 <= value <= 1.0:
                    raise ValueError(f"{name} must be between 0 and 1")
            setattr(self, name, value)
        if storm_for is not None:
            self.rate_limit_storm_until = time.time() + float(storm_for)
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        data["endpoints"] = sorted(self.endpoints)
        return data


@dataclass(frozen=True)
class Draw:
    """The faults chosen for one request (several may combine: a slow request may also time out)."""

    drop: bool = False
    error_status: int | None = None
    storm: bool = False
    slow: float = 0.0
    timeout: float | None = None
    lost: bool = False

    @property
    def names(self) -> list[str]:
        chosen = [
            (DROP, self.drop),
            (ERROR, self.error_status),
            (STORM, self.storm),
            (SLOW, self.slow),
            (TIMEOUT, self.timeout is not None),
            (LOST, self.lost),
        ]
        return [name for name, on in chosen if on]


class FaultDice:
    """The seeded generator behind :class:`Faults`."""

    def __init__(self, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)

    def reseed(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)

    def roll(self, faults: Faults, endpoint: str, now: float | None = None) -> Draw:
        """Decide the faults for one request to ``endpoint``."""
        with self._lock:
            # Always draw the same count, whatever is switched on, so one knob never shifts another.
            r_drop, r_error, r_pick, r_storm, r_slow, r_timeout, r_lost = (self._rng.random() for _ in range(7))
        if faults.endpoints and endpoint not in faults.endpoints:
            return Draw()
        now = time.time() if now is None else now
        error_status = None
        if r_error < faults.error_rate and faults.error_statuses:
            error_status = faults.error_statuses[int(r_pick * len(faults.error_statuses))]
        return Draw(
            drop=r_drop < faults.drop_rate,
            error_status=error_status,
            storm=r_storm < faults.rate_limit_storm or now < faults.rate_limit_storm_until,
            slow=faults.slow_seconds if r_slow < faults.slow_rate else 0.0,
            timeout=faults.timeout_seconds if r_timeout < faults.processed_then_timeout_rate else None,
            lost=r_lost < faults.processed_then_drop_rate,
        )
