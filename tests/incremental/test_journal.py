"""The journal: what the sender's threads write to the sync ledger around each batch."""

from __future__ import annotations

import hashlib

from airflow_provider_braze.braze.batching import Batcher
from airflow_provider_braze.braze.endpoints import get_endpoint
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.incremental.decisions import Entry
from airflow_provider_braze.incremental.journal import LedgerJournal
from airflow_provider_braze.incremental.overlay import Overlay
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.state.sync_ledger import BatchRecord, SyncLedgerStore


def key(n: int) -> bytes:
    return hashlib.blake2b(n.to_bytes(8, "big"), digest_size=16).digest()


def event(n: int) -> Item:
    value = {"external_id": f"u{n}", "name": "viewed", "time": "2024-01-01T00:00:00Z"}
    return Item("events", value, n, Entry(key(n), None, key(n)))


def test_objects_whose_keys_another_run_claimed_first_are_taken_out_of_the_batch(state_url):
    store = SyncLedgerStore(state_url)
    open_run = lambda run_id: store.open_run("shared", endpoint="users/track", mode="events", run_id=run_id)  # noqa: E731
    other, this = open_run("other"), open_run("this")
    # The other run claimed event 2 and had it accepted, and claimed event 3 (still in flight),
    # after this run had planned them.
    store.write_intents(other, [(key(2), "2"), (key(3), "3")])
    store.record(other, BatchRecord(accepted_keys=[key(2)]))
    report = ExportLedger("users/track")
    overlay = Overlay()
    items = [event(n) for n in range(1, 5)]
    for item in items:
        overlay.hold(None, None, item.sync.guard, item.sync)
        report.sent(item)
    journal = LedgerJournal(store, this, overlay, report)
    (batch,) = Batcher(get_endpoint("users/track")).batches(items)

    journal.before_send(batch)
    journal.fold_withheld()

    assert [i.ref for i in batch.all_items()] == [1, 4]
    assert [o["external_id"] for o in batch.payload()["events"]] == ["u1", "u4"]
    assert (report.rows_sent, report.already_sent, report.unsettled) == (2, 1, 1)
    assert overlay.snapshot([], [key(2), key(3)]) == ({}, {})  # let go: this run will record nothing of them
    assert store.keys(this.sync_id, [key(1), key(3)]) == {key(1): ("sending", this.run), key(3): ("sending", other.run)}
    store.dispose()
