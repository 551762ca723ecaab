"""Four partitions exporting at once leave Braze exactly as one task does; each user is in one partition."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from airflow_provider_braze.operators import BrazeTrackUsersOperator
from tests.helpers.concurrency import run_at_once

USERS = [
    {"external_id": f"u{i}", "email": f"user{i}@example.com", "plan": ("free", "pro")[i % 2], "score": i}
    for i in range(2_000)
]
EVENTS = [
    {"external_id": f"u{i % 500}", "name": "opened", "time": f"2026-11-30T10:{i // 60 % 60:02d}:{i % 60:02d}Z", "n": i}
    for i in range(2_000)
]


def export(partition=None, map_index: int = -1, **kwargs):
    operator = BrazeTrackUsersOperator(task_id="t", partition=partition, concurrency=4, **kwargs)
    return operator.execute(context={"run_id": "r1", "ti": SimpleNamespace(map_index=map_index)})


def held(sandbox) -> tuple:
    users = sorted((u.external_id, u.email, tuple(sorted(u.custom_attributes.items()))) for u in sandbox.store.users())
    events = sorted((e["external_id"], e["time"], e["properties"]["n"]) for e in sandbox.store.events())
    return users, events


def four_partitions_at_once(**kwargs) -> list[dict]:
    return run_at_once(lambda index: export((index, 4), index, **kwargs), 4)


def test_four_partitions_leave_braze_as_one_task_does(sandbox, braze_conn):
    export(records=USERS)
    export(record_type="events", records=EVENTS, sync_key="events")
    one_task = held(sandbox)
    sandbox.reset()

    users = four_partitions_at_once(records=USERS, sync_key="partitioned")
    events = four_partitions_at_once(record_type="events", records=EVENTS, sync_key="partitioned-events")

    assert held(sandbox) == one_task
    # Every row read by exactly one partition, and each got a fair share.
    assert sum(s["rows_read"] for s in users) == len(USERS) and min(s["rows_read"] for s in users) > 400
    assert sum(s["rows_read"] for s in events) == len(EVENTS)
    assert sorted(s["partition"] for s in users) == ["0/4", "1/4", "2/4", "3/4"]


def test_partitions_of_one_user_agree_across_runs(sandbox, braze_conn):
    first = four_partitions_at_once(records=USERS, only_changed=True)
    again = four_partitions_at_once(records=USERS, only_changed=True)
    # The same users fall in the same partitions: each finds all its users unchanged.
    assert [s["rows_read"] for s in first] == [s["unchanged"] for s in again]
    assert sum(s["rows_read"] for s in again) == len(USERS)


def test_a_new_split_sends_nothing_unchanged(sandbox, braze_conn):
    four_partitions_at_once(records=USERS, only_changed=True)
    two = run_at_once(lambda index: export((index, 2), index, records=USERS, only_changed=True), 2)
    # Rows are settled by digest only under the split that wrote them; under another they are
    # built and compared, and nothing has changed.
    assert sum(s["unchanged"] for s in two) == len(USERS) and sum(s["rows_sent"] for s in two) == 0


@pytest.mark.parametrize("partition", [(4, 4), (0, 0), (-1, 4), ("a", 4), (1, 2, 3)])
def test_a_partition_out_of_range_is_refused_when_the_dag_is_parsed(partition):
    with pytest.raises(ValueError, match="partition must be"):
        BrazeTrackUsersOperator(task_id="t", records=USERS, partition=partition)
