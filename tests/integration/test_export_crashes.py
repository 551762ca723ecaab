"""An export killed with SIGKILL at several points and retried: the end state is exact, no event twice.

Each attempt runs in its own process (``export_child``) against the sandbox with 40 ms of latency,
and is killed as soon as the sandbox has applied a chosen number of its requests, while their
answers are still on their way: the case where Braze has the data and the client never learns it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter

import pytest

from airflow_provider_braze.hooks.state import sync_ledger_store
from tests.helpers.export_child import start_attempt

ROWS = 6_000
CONCURRENCY = 4
#: Requests the sandbox applies in each attempt before that attempt is killed (five kills, then a
#: last attempt that finishes).
KILL_AFTER = (1, 9, 4, 14, 6)
BATCH = 75


def kill_after(process: subprocess.Popen, sandbox, requests: int) -> None:
    """SIGKILL the attempt once the sandbox has applied ``requests`` more of its requests."""
    start = len(sandbox.requests)
    deadline = time.monotonic() + 120
    while len(sandbox.requests) - start < requests:
        assert process.poll() is None, f"the attempt ended before it could be killed: {process.communicate()}"
        assert time.monotonic() < deadline, "the attempt sent too few requests"
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert process.returncode == -signal.SIGKILL


def finish(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err[-4000:]
    return json.loads(out.strip().splitlines()[-1])


def written(sandbox) -> dict[str, int]:
    """Data points written per user so far (each write of a row costs the same)."""
    return {u.external_id: u.data_points for u in sandbox.store.users()}


def run_with_kills(sandbox, operator: dict) -> tuple[dict, list[int]]:
    """Five killed attempts, then one that finishes; returns its summary and, per attempt after the
    first, how many users it wrote that an earlier attempt had already written."""
    resent, before = [], {}
    for requests in KILL_AFTER:
        kill_after(start_attempt(operator), sandbox, requests)
        after = written(sandbox)
        resent.append(sum(1 for user, points in after.items() if before.get(user, 0) and points > before[user]))
        before = after
    summary = finish(start_attempt(operator))
    after = written(sandbox)
    resent.append(sum(1 for user, points in after.items() if before.get(user, 0) and points > before[user]))
    return summary, resent[1:]


@pytest.fixture
def slow_sandbox(sandbox, braze_conn):
    sandbox.latency = 0.04
    return sandbox


def test_attributes_killed_five_times_end_exact_with_at_most_the_batches_in_flight_resent(slow_sandbox, warehouse):
    warehouse.execute("create table users (external_id text, plan text, score integer)")
    warehouse.executemany("insert into users values (?, ?, ?)", [(f"u{i}", f"plan-{i % 7}", i) for i in range(ROWS)])
    warehouse.commit()
    operator = {
        "sql": "select * from users order by external_id",
        "sql_conn_id": "warehouse",
        "concurrency": CONCURRENCY,
        "fetch_size": 500,
    }

    summary, resent = run_with_kills(slow_sandbox, operator)

    held = {
        u.external_id: (u.custom_attributes["plan"], u.custom_attributes["score"]) for u in slow_sandbox.store.users()
    }
    assert held == {f"u{i}": (f"plan-{i % 7}", i) for i in range(ROWS)}
    # Each retry sends again at most the batches that were in flight when the attempt before it died.
    assert all(n <= CONCURRENCY * BATCH for n in resent), resent
    assert sum(resent) > 0  # the kills did land while answers were on their way
    assert summary["already_sent"] > 0 and summary["already_sent"] + summary["accepted"] == ROWS
    assert summary["unknown"] == summary["failed"] == 0


def test_events_killed_five_times_are_never_stored_twice(slow_sandbox, warehouse):
    warehouse.execute("create table events (external_id text, name text, time text, row_number integer)")
    warehouse.executemany(
        "insert into events values (?, 'viewed', ?, ?)",
        [(f"u{i % 300}", f"2026-11-30T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z", i) for i in range(ROWS)],
    )
    warehouse.commit()
    operator = {
        "record_type": "events",
        "sql": "select * from events order by row_number",
        "sql_conn_id": "warehouse",
        "concurrency": CONCURRENCY,
        "fetch_size": 500,
        "event_key_column": "row_number",
    }

    summary, _resent = run_with_kills(slow_sandbox, operator)

    stored = Counter(e["properties"]["row_number"] for e in slow_sandbox.store.events())
    assert max(stored.values()) == 1, "an event was stored twice"
    # What is not stored was reported: rows an attempt had sent without learning the outcome.
    ledger = sync_ledger_store(None)
    unsettled = {
        int(ref) for _, _, ref in ledger.keys_with_status(ledger.find_sync("adhoc_airflow.export"), ["sending"])
    }
    assert set(range(ROWS)) - set(stored) <= {r - 1 for r in unsettled}
    assert summary["unsettled"] == len(unsettled) <= len(KILL_AFTER) * CONCURRENCY * BATCH
    assert summary["already_sent"] + summary["accepted"] + summary["unsettled"] == ROWS
