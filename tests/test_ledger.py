"""The export ledger: counts, rejected-records lines and progress lines."""

from __future__ import annotations

import io
import json
import logging

from airflow_provider_braze.braze.items import InvalidRecord, Item
from airflow_provider_braze.braze.sender import BatchResult, ItemOutcome
from airflow_provider_braze.ledger import ExportLedger


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_every_row_ends_in_exactly_one_count():
    ledger = ExportLedger("users/track")
    items = [Item("attributes", {"external_id": f"u{i}", "plan": "pro"}, ref=i) for i in range(4)]
    for _ in range(5):
        ledger.read()
    ledger.skip(InvalidRecord(5, "plan", "bad plan", {"plan": None}))
    for item in items:
        ledger.sent(item)
    ledger.record(
        BatchResult(
            "users/track",
            [
                ItemOutcome(items[0], "accepted"),
                ItemOutcome(items[1], "rejected", "bad"),
                ItemOutcome(items[2], "failed", "503"),
                ItemOutcome(items[3], "unknown", "timeout"),
            ],
            requests=1,
        )
    )
    summary = ledger.summary()
    assert (
        summary["rows_read"],
        summary["skipped"],
        summary["accepted"],
        summary["rejected"],
        summary["failed"],
        summary["unknown"],
    ) == (5, 1, 1, 1, 1, 1)
    assert summary["data_points"] == 1  # only the accepted object's "plan"


def test_rows_at_fault_are_written_with_row_column_and_reason():
    out = io.StringIO()
    ledger = ExportLedger("users/track", rejected_file=out)
    ledger.skip(InvalidRecord(7, "currency", "'ZZZ' is not an ISO 4217 currency code", {"currency": "ZZZ"}))
    ledger.record(
        BatchResult("users/track", [ItemOutcome(Item("purchases", {"product_id": "p"}, ref=9), "rejected", "no")])
    )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines == [
        {
            "row": 7,
            "column": "currency",
            "reason": "'ZZZ' is not an ISO 4217 currency code",
            "stage": "validation",
            "data": {"currency": "ZZZ"},
        },
        {"row": 9, "column": None, "reason": "no", "stage": "rejected", "object": {"product_id": "p"}},
    ]
    assert str(ledger.first_problem) == "row 7, column 'currency': 'ZZZ' is not an ISO 4217 currency code (invalid)"


def test_progress_is_logged_every_interval_with_an_eta(caplog):
    clock = Clock()
    ledger = ExportLedger("users/track", total=4096, clock=clock)
    with caplog.at_level(logging.INFO, logger="airflow_provider_braze.ledger"):
        for _ in range(2048):
            ledger.read()
        clock.now = 10.5
        ledger.maybe_log_progress()
        ledger.maybe_log_progress()  # not again before another interval
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "2,048 rows read" in lines[0] and "50% of 4,096" in lines[0] and "ETA 10 s" in lines[0]


def test_accepted_rows_the_sync_ledger_could_not_record_are_counted_and_listed_apart():
    out = io.StringIO()
    ledger = ExportLedger("users/track", rejected_file=out)
    kept, recorded = Item("events", {"name": "a"}, ref=4), Item("events", {"name": "b"}, ref=5)
    ledger.unrecorded_items([kept], "kept in the unrecorded spool /spool/1-1.jsonl")  # from the sender thread
    ledger.record(BatchResult("users/track", [ItemOutcome(kept, "accepted"), ItemOutcome(recorded, "accepted")]))

    summary = ledger.summary()
    assert (summary["accepted"], summary["unrecorded"], summary["unknown"]) == (2, 1, 0)
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [
        {
            "row": 4,
            "column": None,
            "reason": "kept in the unrecorded spool /spool/1-1.jsonl",
            "stage": "delivered_unrecorded",
            "object": {"name": "a"},
        }
    ]
