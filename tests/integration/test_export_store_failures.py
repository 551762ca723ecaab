"""The state store fails in the middle of an export: what Braze answered is kept apart, and the retry records it.

Disk full is SQLite's own ``SQLITE_FULL`` (:class:`~tests.helpers.state_faults.DiskFills`). The first attempt
fails naming the store, the cause and the spool; the retry (the same DAG run: a retried attempt) replays the
spool before planning, so every event reaches Braze exactly once, and none is reported unsettled.
"""

from __future__ import annotations

import json
import pickle
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from airflow_provider_braze.hooks.state import sync_ledger_store
from airflow_provider_braze.operators import BrazeExportUnrecorded, BrazeTrackUsersOperator
from airflow_provider_braze.state.sync_ledger_cli import main as ledger_cli
from tests.helpers.state_faults import DiskFills

ROWS = 3_000
RUN_ID = "scheduled__2026-11-30"
SYNC_KEY = "adhoc_airflow.t"
EVENTS = [
    {
        "external_id": f"u{i % 250}",
        "name": "played",
        "time": f"2026-11-30T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "event_id": i,
    }
    for i in range(ROWS)
]
USERS = [{"external_id": f"u{i}", "plan": f"plan-{i % 5}", "score": i} for i in range(ROWS)]


def attempt(tmp_path: Path, number: int, records: list[dict], **kwargs):
    """One attempt of task ``t`` in DAG run ``RUN_ID``: its operator and rejected-records file."""
    rejected = tmp_path / f"rejected-{number}.jsonl"
    operator = BrazeTrackUsersOperator(
        task_id="t", records=records, concurrency=4, rejected_records_path=str(rejected), **kwargs
    )
    return operator, rejected


def listed(rejected: Path, stage: str) -> set[int]:
    """Row numbers the rejected-records file lists with ``stage``."""
    lines = map(json.loads, rejected.read_text().splitlines()) if rejected.exists() else []
    return {line["row"] for line in lines if line["stage"] == stage}


def logged_summary(capfd) -> dict:
    """The summary the last export logged (the task failed: it was not returned)."""
    out, err = capfd.readouterr()
    line = [text for text in (out + err).splitlines() if "Summary: {" in text][-1]
    return eval(line[line.index("{") : line.rindex("}") + 1])  # noqa: S307 - a dict's repr, logged by the test's own export


@pytest.fixture
def slow_sandbox(sandbox, braze_conn):
    sandbox.latency = 0.02  # batches are in flight when the disk fills
    return sandbox


@pytest.fixture
def state_file(own_state_store) -> Path:
    return own_state_store / "braze_provider_state.db"


def test_disk_full_mid_export_then_retry_sends_every_event_once_and_names_the_unrecorded(
    slow_sandbox, state_file, tmp_path, capfd
):
    first, rejected = attempt(tmp_path, 1, EVENTS, record_type="events", event_key_column="event_id")
    with DiskFills(state_file, after=12), pytest.raises(BrazeExportUnrecorded) as raised:
        first.execute(context={"run_id": RUN_ID})
    summary = logged_summary(capfd)

    # The error names the store, the cause, the count and the spool.
    error = raised.value
    spool = Path(error.spool)
    assert (error.store, error.cause) == (str(state_file), "disk full")
    assert f"state store {state_file}: disk full (database or disk is full)" in str(error)
    assert f"{error.kept:,} outcomes are kept in the unrecorded spool {spool}" in str(error)
    assert spool.is_file() and spool.parent.parent.name == "braze_sync_unrecorded"
    text = spool.read_text()  # digests and row numbers only
    assert "played" not in text and "external_id" not in text and '"u1' not in text
    assert pickle.loads(pickle.dumps(error)).spool == error.spool  # noqa: S301 - our own error
    # The summary and the rejected-records file name the delivered ones apart from the unknown.
    delivered = listed(rejected, "delivered_unrecorded")
    assert delivered and summary["unrecorded"] == len(delivered) == error.accepted
    assert summary["unknown"] == 0 and not listed(rejected, "unknown")
    assert summary["unrecorded_spool"] == str(spool)
    stored = Counter(e["properties"]["event_id"] for e in slow_sandbox.store.events())
    assert max(stored.values()) == 1 and {row - 1 for row in delivered} <= set(stored)
    # Batches stopped before they left are failed, not unknown, and not in Braze.
    failed = {row - 1 for row in listed(rejected, "failed")}
    assert summary["failed"] == len(failed) > 0 and not failed & set(stored)
    assert len(stored) == summary["accepted"]
    # A listing of the sync's spools names them too, by row.
    assert ledger_cli(["unrecorded", SYNC_KEY, "--rows"]) == 0
    rows = [json.loads(line) for line in capfd.readouterr().out.splitlines()]
    assert {int(r["row"]) for r in rows if r["outcome"] == "accepted"} == delivered

    retry, _ = attempt(tmp_path, 2, EVENTS, record_type="events", event_key_column="event_id")
    second = retry.execute(context={"run_id": RUN_ID})

    stored = Counter(e["properties"]["event_id"] for e in slow_sandbox.store.events())
    assert stored == Counter(range(ROWS)), "every event once"
    assert second["unsettled"] == 0 and second["unknown"] == second["unrecorded"] == 0
    assert second["already_sent"] == summary["accepted"] and second["accepted"] == ROWS - summary["accepted"]
    assert not spool.exists()


def test_attributes_accepted_while_the_disk_was_full_are_not_sent_again(slow_sandbox, state_file, tmp_path, capfd):
    first, rejected = attempt(tmp_path, 1, USERS, only_changed=True)
    with DiskFills(state_file, after=10), pytest.raises(BrazeExportUnrecorded):
        first.execute(context={"run_id": RUN_ID})
    summary = logged_summary(capfd)
    points = slow_sandbox.store.data_points

    retry, _ = attempt(tmp_path, 2, USERS, only_changed=True)
    second = retry.execute(context={"run_id": RUN_ID})

    assert summary["unrecorded"] == len(listed(rejected, "delivered_unrecorded")) > 0
    assert second["unchanged"] == summary["accepted"] and second["accepted"] == ROWS - summary["accepted"]
    # Only the rows not accepted before were written: 2 data points each (plan, score).
    assert slow_sandbox.store.data_points - points == 2 * second["accepted"]
    held = {u.external_id: u.custom_attributes["score"] for u in slow_sandbox.store.users()}
    assert held == {f"u{i}": i for i in range(ROWS)}


def test_a_store_failure_before_anything_was_sent_fails_naming_the_store(slow_sandbox, state_file, tmp_path):
    first, _ = attempt(tmp_path, 1, EVENTS, record_type="events")
    with DiskFills(state_file, after=0), pytest.raises(Exception, match="disk full") as raised:
        first.execute(context={"run_id": RUN_ID})

    assert f"state store {state_file}" in str(raised.value)
    assert not isinstance(raised.value, BrazeExportUnrecorded)
    assert slow_sandbox.store.events() == []


def test_settling_not_delivered_replays_the_spool_first(slow_sandbox, state_file, tmp_path, capfd):
    first, rejected = attempt(tmp_path, 1, EVENTS, record_type="events", event_key_column="event_id")
    with DiskFills(state_file, after=12), pytest.raises(BrazeExportUnrecorded):
        first.execute(context={"run_id": RUN_ID})
    delivered = listed(rejected, "delivered_unrecorded")

    assert ledger_cli(["settle", SYNC_KEY, "--not-delivered"]) == 0
    store = sync_ledger_store(None)
    keys = store.state(SYNC_KEY).keys
    store.dispose()
    assert keys == {"accepted": logged_summary(capfd)["accepted"]} and len(delivered) > 0

    retry, _ = attempt(tmp_path, 2, EVENTS, record_type="events", event_key_column="event_id")
    retry.execute(context={"run_id": RUN_ID})
    assert Counter(e["properties"]["event_id"] for e in slow_sandbox.store.events()) == Counter(range(ROWS))


def test_outcomes_that_fit_in_no_spool_are_held_back_never_resent(
    slow_sandbox, state_file, own_state_store, tmp_path, monkeypatch
):
    # Both spool folders are unwritable: a file stands where each should be.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    for folder in (own_state_store, tmp_path / "tmp"):
        (folder / "braze_sync_unrecorded").write_text("")
    first, rejected = attempt(tmp_path, 1, EVENTS, record_type="events", event_key_column="event_id")
    with DiskFills(state_file, after=12), pytest.raises(BrazeExportUnrecorded) as raised:
        first.execute(context={"run_id": RUN_ID})
    delivered = listed(rejected, "delivered_unrecorded")

    assert raised.value.spool is None and raised.value.lost == raised.value.accepted == len(delivered) > 0
    assert "could be kept nowhere" in str(raised.value)

    retry, _ = attempt(tmp_path, 2, EVENTS, record_type="events", event_key_column="event_id")
    second = retry.execute(context={"run_id": RUN_ID})
    assert second["unsettled"] == len(delivered)  # held back: the ledger still has them as sent, unanswered
    assert max(Counter(e["properties"]["event_id"] for e in slow_sandbox.store.events()).values()) == 1
