"""Every wait is bounded: a far-off ``X-RateLimit-Reset`` and a SIGTERM end an export within seconds.

With ``max_retry_seconds=30``, Braze asking for a wait beyond it (a 429 whose reset lies days ahead,
or 2xx answers saying the hour's window is spent) fails the export at once, naming the wait, with the
refused rows ``failed`` and sent by the next run. A SIGTERM (what Airflow sends on a kill, a run
marked failed, a worker shutting down) ends an export stalled in a rate-limit wait or on slow
answers within 10 s; the sync ledger agrees with what the sandbox holds, and a retry leaves every
event stored once.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import time
from collections import Counter
from collections.abc import Callable

import pytest

from airflow_provider_braze.braze.errors import BrazeRateLimitWaitError
from airflow_provider_braze.hooks.state import sync_ledger_store
from airflow_provider_braze.operators import BrazeTrackUsersOperator
from tests.helpers.export_child import start_attempt

ROWS = 3_000
BUDGET = 30
RUN_ID = "scheduled__2026-11-30"
TIME = "2026-11-30T10:00:00Z"
ATTRIBUTES = [{"external_id": f"u{i}", "plan": f"plan-{i % 7}"} for i in range(ROWS)]
EVENTS = [{"external_id": f"u{i % 300}", "name": "played", "time": TIME, "row": i} for i in range(ROWS)]


def export(record_type: str, task_id: str = "t", **kwargs) -> dict:
    rows = ATTRIBUTES if record_type == "attributes" else EVENTS
    keyed = {"event_key_column": "row"} if record_type == "events" else {}
    operator = BrazeTrackUsersOperator(
        task_id=task_id, record_type=record_type, records=rows, concurrency=4, **keyed, **kwargs
    )
    return operator.execute(context={"run_id": RUN_ID})


def held_exactly(sandbox, record_type: str) -> bool:
    """Braze holds every row: each user's plan, or each event once."""
    if record_type == "attributes":
        held = {u.external_id: u.custom_attributes.get("plan") for u in sandbox.store.users()}
        return held == {r["external_id"]: r["plan"] for r in ATTRIBUTES}
    return Counter(e["properties"]["row"] for e in sandbox.store.events()) == Counter(range(ROWS))


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


# --- a wait beyond max_retry_seconds --------------------------------------------------------------


@pytest.mark.parametrize("record_type", ["attributes", "events"])
def test_a_429_reset_a_day_ahead_ends_the_export_within_max_retry_seconds_naming_the_wait(
    sandbox, braze_conn, caplog, record_type
):
    braze_conn(max_retry_seconds=BUDGET)
    sandbox.faults.update(rate_limit_storm=0.2, rate_limit_storm_reset=100_000)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(BrazeRateLimitWaitError) as failure:
        export(record_type)
    took = time.monotonic() - started

    assert took < BUDGET + 5, took
    assert re.search(
        r"POST /users/track: Braze asked to wait 100,00[01] s \(HTTP 429, X-RateLimit-Reset \d+ \(\S+Z\), "
        r"rate-limit group users_track\), beyond max_retry_seconds=30 ",
        str(failure.value),
    ), failure.value
    assert any("Braze asked to wait 100,00" in line for line in warnings(caplog))
    # One answer's reset far beyond any Braze window did not pause every thread: it was set aside, once.
    assert sum("further than any rate-limit window" in line for line in warnings(caplog)) == 1
    # The refused request's rows are failed, not lost: the next run sends them.
    state = sync_ledger_store(None).state("adhoc_airflow.t")
    assert state is not None and state.open_problems.get("failed", 0) >= 1 and "sending" not in state.keys
    sandbox.faults.update(rate_limit_storm=0.0)
    summary = export(record_type)
    assert summary["already_sent"] + summary["accepted"] == ROWS and summary["failed"] == 0
    assert held_exactly(sandbox, record_type)


def test_braze_saying_the_hours_window_is_spent_ends_the_export_at_once_not_in_an_hour(sandbox, braze_conn, caplog):
    # Monthly Active Users CY 24-25 contracts limit /users/track per hour: once the hour's requests are
    # spent, Braze's 2xx answers say Remaining 0 until a reset up to an hour ahead.
    braze_conn(max_retry_seconds=BUDGET)
    sandbox.set_rate_limit("users_track", limit=12, period=3600, start=time.time())
    started = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(BrazeRateLimitWaitError) as failure:
        export("attributes")
    took = time.monotonic() - started

    assert took < BUDGET + 5, took
    assert re.search(r"X-RateLimit-Reset \d+ .*beyond max_retry_seconds=30 ", str(failure.value)), failure.value
    assert any("beyond max_retry_seconds=30" in line for line in warnings(caplog))
    # What the ledger says Braze accepted is what the sandbox holds; the rest comes with the next run.
    held = len(sandbox.store.users())
    state = sync_ledger_store(None).state("adhoc_airflow.t")
    assert state is not None and 0 < state.users == held < ROWS
    sandbox.rate_limits.clear_overrides()
    summary = export("attributes")
    assert summary["already_sent"] == held and summary["accepted"] == ROWS - held
    assert held_exactly(sandbox, "attributes")


# --- SIGTERM ------------------------------------------------------------------------------------


@pytest.fixture
def events_table(warehouse) -> dict:
    """The events in the warehouse, and the export of them one attempt in a child process runs."""
    warehouse.execute("create table events (external_id text, name text, time text, row integer)")
    warehouse.executemany("insert into events values (:external_id, :name, :time, :row)", EVENTS)
    warehouse.commit()
    return {
        "record_type": "events",
        "sql": "select * from events order by row",
        "sql_conn_id": "warehouse",
        "concurrency": 4,
        "fetch_size": 500,
        "event_key_column": "row",
    }


def wait_until(condition: Callable[[], bool], child, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert child.poll() is None, f"the attempt ended before {what}: {child.communicate()}"
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def terminate(child) -> tuple[float, dict]:
    """SIGTERM the attempt; returns the seconds it took to exit, and what it printed."""
    sent = time.monotonic()
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    took = time.monotonic() - sent
    print(f"SIGTERM -> the attempt exited in {took:.2f} s")  # shown with pytest -s
    assert child.returncode == 1, err[-4000:]
    return took, json.loads(out.strip().splitlines()[-1])


def stored_events(sandbox) -> Counter:
    return Counter(e["properties"]["row"] for e in sandbox.store.events())


def test_sigterm_during_a_long_rate_limit_wait_ends_the_export_within_10_s_and_no_event_is_lost_or_twice(
    sandbox, braze_conn, events_table
):
    sandbox.latency = 0.02
    child = start_attempt(events_table)
    wait_until(lambda: len(sandbox.requests) >= 8, child, "it sent requests")
    # Braze refuses everything until five minutes from now (within max_retry_seconds=900): the export waits.
    sandbox.faults.update(rate_limit_storm_for=600, rate_limit_storm_reset=300)
    wait_until(
        lambda: any("rate_limit_storm" in r.faults for r in sandbox.requests.records(endpoint="users/track")),
        child,
        "Braze refused a request",
    )
    time.sleep(0.5)  # every request of the attempt is waiting now
    took, outcome = terminate(child)

    assert took < 10, took
    assert outcome["error"] == "BrazeCancelledError" and "export cancelled (SIGTERM)" in outcome["message"]
    ledger = sync_ledger_store(None)
    state = ledger.state("adhoc_airflow.export")
    stored = stored_events(sandbox)
    # The ledger and the sandbox agree: the events Braze took are the ones it recorded as accepted, and
    # none is left in doubt (the waiting requests were never sent again; a 429 applied nothing).
    assert state is not None and state.keys == {"accepted": len(stored)} and max(stored.values()) == 1
    assert state.open_problems.get("failed", 0) > 0 and ledger.runs("adhoc_airflow.export")[0]["status"] == "failed"

    sandbox.faults.update(rate_limit_storm_until=0.0)
    summary = BrazeTrackUsersOperator(task_id="export", **events_table).execute(context={"run_id": RUN_ID})
    assert summary["already_sent"] == len(stored) and summary["accepted"] == ROWS - len(stored)
    assert stored_events(sandbox) == Counter(range(ROWS))


def test_sigterm_while_answers_are_slow_ends_the_export_within_10_s_and_no_event_is_lost_or_twice(
    sandbox, braze_conn, events_table
):
    slow = 6.0  # longer than the grace requests in flight get after a cancel
    sandbox.latency = 0.02
    child = start_attempt(events_table)
    wait_until(lambda: len(sandbox.requests) >= 8, child, "it sent requests")
    sandbox.faults.update(slow_rate=1.0, slow_seconds=slow)
    slowed = time.monotonic()
    time.sleep(0.5)  # the requests in flight now are slow ones
    took, outcome = terminate(child)
    time.sleep(max(0.0, slowed + slow + 1.0 - time.monotonic()))  # the slow requests land in Braze
    sandbox.faults.update(slow_rate=0.0)

    assert took < 10, took
    assert outcome["error"] == "BrazeCancelledError" and "export cancelled (SIGTERM)" in outcome["message"]
    state = sync_ledger_store(None).state("adhoc_airflow.export")
    stored = stored_events(sandbox)
    # Requests cut off after the grace may have been applied (they were): their events are unknown,
    # never failed, so no retry sends them again. Everything else Braze took is recorded accepted.
    assert state is not None and set(state.keys) == {"accepted", "unknown"}
    assert state.keys["accepted"] + state.keys["unknown"] == len(stored) and max(stored.values()) == 1
    assert state.keys["unknown"] <= events_table["concurrency"] * 75

    summary = BrazeTrackUsersOperator(task_id="export", **events_table).execute(context={"run_id": RUN_ID})
    assert summary["unsettled"] == state.keys["unknown"]
    assert summary["already_sent"] + summary["accepted"] + summary["unsettled"] == ROWS
    assert stored_events(sandbox) == Counter(range(ROWS))
