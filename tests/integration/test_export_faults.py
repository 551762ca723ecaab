"""Events through a Braze that applies requests and then loses the answer: none stored twice, none lost unreported."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from airflow_provider_braze.operators import BrazeExportFailed, BrazeTrackUsersOperator

ROWS = 5_000
EVENTS = [
    {
        "external_id": f"u{i % 250}",
        "name": "played",
        "time": f"2026-11-30T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "row": i,
    }
    for i in range(ROWS)
]
AMBIGUOUS_FAULTS = [
    pytest.param({"processed_then_drop_rate": 0.1}, id="applied-then-connection-closed"),
    pytest.param({"processed_then_timeout_rate": 0.1, "timeout_seconds": 0.0}, id="applied-then-504"),
]


def attempt(tmp_path, number: int, **kwargs) -> tuple[dict | None, set[int]]:
    """One attempt of task ``t`` in one DAG run; returns its summary (``None`` if it failed) and the
    rows it reported as of unknown outcome."""
    rejected = tmp_path / f"rejected-{number}.jsonl"
    operator = BrazeTrackUsersOperator(
        task_id="t", record_type="events", records=EVENTS, concurrency=8, rejected_records_path=str(rejected), **kwargs
    )
    try:
        summary = operator.execute(context={"run_id": "scheduled__2026-11-30"})
    except BrazeExportFailed as exc:
        # Either outcome is right under injected faults; a failure must be the ambiguous-outcome one.
        assert "may or may not have applied" in str(exc)  # noqa: PT017
        summary = None
    unknown = set()
    if rejected.exists():
        unknown = {
            EVENTS[r["row"] - 1]["row"]
            for r in map(json.loads, rejected.read_text().splitlines())
            if r["stage"] == "unknown"
        }
    return summary, unknown


@pytest.mark.parametrize("faults", AMBIGUOUS_FAULTS)
def test_no_event_is_stored_twice_and_none_is_lost_unreported_even_with_two_task_retries(
    sandbox, braze_conn, tmp_path, faults
):
    sandbox.faults.update(**faults)
    first, unknown = attempt(tmp_path, 1)
    second, more_unknown = attempt(tmp_path, 2)  # what Airflow's retries=2 would run
    third, _ = attempt(tmp_path, 3)

    stored = Counter(e["properties"]["row"] for e in sandbox.store.events())
    assert max(stored.values()) == 1, "an event was stored twice"
    assert first is None and unknown, "the faults should have left some requests without an answer"
    assert set(range(ROWS)) - set(stored) <= unknown
    # The retries hold back what the first attempt could not settle, and send nothing twice.
    assert not more_unknown
    assert second["unsettled"] == third["unsettled"] == len(unknown)
    assert second["already_sent"] == ROWS - len(unknown) and second["rows_sent"] == 0
    lost_answers = [r for r in sandbox.requests.records(endpoint="users/track") if r.faults]
    assert lost_answers and all(r.objects for r in lost_answers)


@pytest.mark.parametrize("faults", AMBIGUOUS_FAULTS)
def test_retry_ambiguous_delivers_every_event_and_reports_each_possible_duplicate(
    sandbox, braze_conn, tmp_path, faults
):
    sandbox.faults.update(**faults)
    summary, unknown = attempt(tmp_path, 1, retry_ambiguous=True)

    stored = Counter(e["properties"]["row"] for e in sandbox.store.events())
    assert set(stored) == set(range(ROWS)) and not unknown
    duplicates = sum(stored.values()) - ROWS
    assert duplicates > 0 and summary["possible_duplicates"] >= duplicates


def test_a_connection_dropped_before_braze_applied_anything_is_held_back_too(sandbox, braze_conn, tmp_path):
    # From the client's side a dropped answer looks the same whether or not Braze applied the request.
    sandbox.faults.update(drop_rate=0.1)
    first, unknown = attempt(tmp_path, 1)
    stored = Counter(e["properties"]["row"] for e in sandbox.store.events())
    assert first is None and max(stored.values()) == 1
    assert set(range(ROWS)) - set(stored) == unknown


def test_retry_ambiguous_on_the_connection_also_resends_what_an_earlier_attempt_left_unsettled(
    sandbox, braze_conn, tmp_path
):
    sandbox.faults.update(processed_then_drop_rate=0.1)
    first, unknown = attempt(tmp_path, 1)
    sandbox.faults.update(processed_then_drop_rate=0.0)
    braze_conn(retry_ambiguous=True)  # the extra, not the operator argument
    second, _ = attempt(tmp_path, 2)

    assert first is None and unknown
    assert second["unsettled"] == 0 and second["rows_sent"] == len(unknown)
    assert second["possible_duplicates"] == len(unknown)
    assert set(Counter(e["properties"]["row"] for e in sandbox.store.events())) == set(range(ROWS))
