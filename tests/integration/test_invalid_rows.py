"""Twenty kinds of invalid rows mixed into 10,000 good ones (issue acceptance)."""

from __future__ import annotations

import json
import random

import pytest

from airflow_provider_braze.operators import BrazeExportFailed, BrazeTrackUsersOperator
from tests.helpers.airflow import run
from tests.helpers.invalid_rows import INVALID_ROWS

ATTRIBUTE_KINDS = [r for r in INVALID_ROWS if r.mode == "track" and r.record_type == "attributes"][:20]


def mixed_rows() -> tuple[list[dict], dict[int, object]]:
    """10,000 good attribute rows with the 20 invalid kinds at random positions; row numbers of the bad ones."""
    rows = [{"external_id": f"good-{i}", "plan": "pro", "score": i} for i in range(10_000)]
    positions = sorted(random.Random(5).sample(range(10_020), 20))
    bad_at = {}
    for kind, position in zip(ATTRIBUTE_KINDS, positions, strict=False):
        rows.insert(position, dict(kind.row))
        bad_at[position + 1] = kind
    return rows, bad_at


def test_there_are_twenty_distinct_kinds():
    assert len({k.kind for k in ATTRIBUTE_KINDS}) == 20


def test_with_skip_every_good_row_arrives_and_every_bad_row_is_reported(sandbox, braze_conn, tmp_path):
    rows, bad_at = mixed_rows()
    rejected = tmp_path / "rejected.jsonl"
    summary = run(
        BrazeTrackUsersOperator(
            task_id="t",
            records=rows,
            skip_on_invalid_records=True,
            rejected_records_path=str(rejected),
        )
    )

    held = {u.external_id: u.custom_attributes for u in sandbox.store.users()}
    assert held == {f"good-{i}": {"plan": "pro", "score": i} for i in range(10_000)}
    assert (summary["rows_read"], summary["accepted"], summary["skipped"], summary["rejected"]) == (
        10_020,
        10_000,
        20,
        0,
    )
    reported = {line["row"]: line for line in map(json.loads, rejected.read_text().splitlines())}
    assert set(reported) == set(bad_at)
    for row, kind in bad_at.items():
        assert reported[row]["column"] == kind.expected_column, kind.kind
        assert reported[row]["reason"] and reported[row]["stage"] == "validation"


def test_without_skip_the_task_fails_naming_the_first_bad_row(sandbox, braze_conn):
    rows, bad_at = mixed_rows()
    first = min(bad_at)
    with pytest.raises(BrazeExportFailed) as info:
        run(BrazeTrackUsersOperator(task_id="t", records=rows))
    message = str(info.value)
    assert message.startswith(f"Stopped at row {first}")
    if bad_at[first].expected_column:
        assert f"column {bad_at[first].expected_column!r}" in message
    # Everything before it was sent, nothing after it.
    assert len(sandbox.store.users()) == first - 1
