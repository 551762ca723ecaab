"""The faults the fault-injection tests put on the Braze sandbox, one definition for every suite.

Each is injected into half the requests, so that a case with few requests still sees it; a first run
goes with the fault on, a second (Airflow's retry) with it off.
"""

from __future__ import annotations

import time

#: Fault name -> the sandbox's knobs (``BrazeSandbox.faults.update``).
FAULTS: dict[str, dict[str, float]] = {
    "5xx": {"error_rate": 0.5},
    "429 storm": {"rate_limit_storm_for": 1.0, "rate_limit_storm_reset": 0.5},
    "slower than the timeout": {"slow_rate": 0.5, "slow_seconds": 1.5},
    "dropped before applying": {"drop_rate": 0.5},
    "dropped after applying": {"processed_then_drop_rate": 0.5},
    "504 after applying": {"processed_then_timeout_rate": 0.5, "timeout_seconds": 0.0},
}
#: The connection extras every suite runs with: the slow fault outlasts the read timeout.
CONNECTION = {"timeout": 1.0, "max_attempts": 3}


def switched_off(fault: str) -> dict[str, float]:
    """The knobs that turn ``fault`` off again (the storm window ends by itself)."""
    return {knob: 0.0 for knob in FAULTS[fault] if knob.endswith("rate")}


def let_slow_requests_land(fault: str) -> None:
    """Wait until a slow request has been applied (and logged), so it lands in this test's sandbox."""
    time.sleep(FAULTS[fault].get("slow_seconds", 0.0) + 0.2)
