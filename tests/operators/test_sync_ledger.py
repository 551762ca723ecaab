"""Settling unknown rows and forgetting a sync, with the operators, then exporting again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.operators import (
    BrazeExportFailed,
    BrazeExportUnrecorded,
    BrazeSyncResetOperator,
    BrazeSyncSettleOperator,
    BrazeTrackUsersOperator,
)
from tests.helpers.state_faults import DiskFills

EVENTS = [
    {"external_id": f"u{i % 9}", "name": "opened", "time": f"2026-11-30T10:00:{i % 60:02d}Z", "n": i}
    for i in range(600)
]


def export(run_id: str, **kwargs):
    op = BrazeTrackUsersOperator(task_id="t", record_type="events", records=EVENTS, sync_key="app_events", **kwargs)
    return op.execute(context={"run_id": run_id})


def stored(sandbox) -> Counter:
    return Counter(e["properties"]["n"] for e in sandbox.store.events())


@pytest.fixture
def unknown_rows(sandbox, braze_conn):
    """An export whose answers were lost after Braze applied a tenth of its requests."""
    sandbox.faults.update(processed_then_drop_rate=0.2)
    with pytest.raises(BrazeExportFailed):
        export("run-1")
    sandbox.faults.update(processed_then_drop_rate=0.0)
    held = export("run-2")["unsettled"]
    assert held > 0
    return held


def test_settled_as_delivered_they_are_never_sent(sandbox, unknown_rows):
    summary = BrazeSyncSettleOperator(task_id="settle", sync_key="app_events", delivered=True).execute({})
    after = export("run-3")
    assert summary["settled"] == unknown_rows
    assert after["unsettled"] == 0 and after["rows_sent"] == 0 and max(stored(sandbox).values()) == 1


def test_settled_as_not_delivered_the_next_run_sends_them(sandbox, unknown_rows):
    BrazeSyncSettleOperator(task_id="settle", sync_key="app_events", delivered=False).execute({})
    after = export("run-3")
    assert after["rows_sent"] == unknown_rows and after["accepted"] == unknown_rows
    # The sandbox had applied them: "not delivered" was the wrong verdict here, and Braze shows it.
    assert max(stored(sandbox).values()) == 2


def test_reset_forgets_the_sync_so_every_event_goes_again(sandbox, braze_conn):
    export("run-1")
    result = BrazeSyncResetOperator(task_id="reset", sync_key="app_events").execute({})
    again = export("run-2")
    assert result["forgotten"] and result["keys"] == 600
    assert again["accepted"] == 600 and max(stored(sandbox).values()) == 2
    assert BrazeSyncResetOperator(task_id="reset", sync_key="nope").execute({}) == {
        "sync_key": "nope",
        "forgotten": False,
    }


@pytest.fixture
def spooled(sandbox, braze_conn, own_state_store):
    """An export whose state store filled up mid-way: what Braze accepted after that is in its spool."""
    sandbox.latency = 0.02
    # Three commits open the run, the next three take the first batches' keys; then the disk is full.
    with DiskFills(own_state_store / "braze_provider_state.db", after=6), pytest.raises(BrazeExportUnrecorded) as e:
        export("run-1", concurrency=2)
    return Path(e.value.spool)


def test_settled_as_not_delivered_after_a_store_failure_no_delivered_event_is_sent_again(sandbox, spooled):
    BrazeSyncSettleOperator(task_id="settle", sync_key="app_events", delivered=False).execute({})
    export("run-1")  # the retry
    assert stored(sandbox) == Counter(range(600)) and not spooled.exists()


def test_the_settle_operator_refuses_while_a_spool_cannot_be_read(sandbox, spooled):
    spooled.write_text("damaged\n")
    settle = BrazeSyncSettleOperator(task_id="settle", sync_key="app_events", delivered=False)
    with pytest.raises(AirflowFailException, match=f"'app_events' was not settled: unrecorded spool {spooled}"):
        settle.execute({})
