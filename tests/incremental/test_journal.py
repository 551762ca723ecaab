"""The journal: what the sender's threads write to the sync ledger around each batch, and what they keep
in the unrecorded spool when the state store fails."""

from __future__ import annotations

import hashlib
import os

import pytest

from airflow_provider_braze.braze.batching import Batch, Batcher
from airflow_provider_braze.braze.endpoints import get_endpoint
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.braze.sender import BatchResult, ItemOutcome
from airflow_provider_braze.incremental.decisions import Entry
from airflow_provider_braze.incremental.journal import LedgerJournal
from airflow_provider_braze.incremental.overlay import Overlay
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.state import StateStoreError
from airflow_provider_braze.state.sync_ledger import BatchRecord, SyncLedgerStore
from airflow_provider_braze.state.unrecorded_spool import SpoolHeader, SpoolWriter, read_spool
from tests.helpers.state_faults import DiskFills


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


@pytest.fixture
def store(tmp_path):
    s = SyncLedgerStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield s
    s.dispose()


@pytest.fixture
def journal(store, tmp_path):
    run = store.open_run("dag.events", endpoint="users/track", mode="events", run_id="r1")
    journal = LedgerJournal(store, run, Overlay(), ExportLedger("users/track"))
    journal.spool = SpoolWriter(SpoolHeader("dag.events", run.sync_id, run.run, 1, "state.db", "00"), [tmp_path])
    yield journal
    journal.close_spool()


def batch(first: int, guarded: bool = True) -> Batch:
    items = []
    for n in range(first, first + 3):
        key = os.urandom(16)
        entry = Entry(key, None, key) if guarded else None
        items.append(Item("events", {"external_id": f"u{n}", "name": "x"}, n, entry))
    return Batch(get_endpoint("users/track"), {"events": items})


def answered(sent: Batch, status: str = "accepted") -> BatchResult:
    return BatchResult("users/track", [ItemOutcome(item, status) for item in sent.all_items()])  # type: ignore[arg-type]


@pytest.fixture
def disk_full(tmp_path):
    """From now on every write of the store fails as on a full disk (SQLITE_FULL)."""

    def fill() -> None:
        disk.__enter__()

    disk = DiskFills(tmp_path / "state.db", after=0)
    yield fill
    disk.lift()


def test_outcomes_braze_answered_after_the_store_failed_go_to_the_spool(journal, disk_full):
    out = batch(1)
    journal.before_send(out)
    disk_full()

    with pytest.raises(StateStoreError, match="disk full"):
        journal.after_send(answered(out))

    spool = read_spool(journal.spool.path)
    assert [(o.outcome, o.row) for o in spool.outcomes] == [("accepted", "1"), ("accepted", "2"), ("accepted", "3")]
    assert journal.failure is not None and journal.failure.cause == "disk full"


def test_once_the_store_failed_no_batch_leaves_even_one_without_keys(journal, disk_full):
    disk_full()
    with pytest.raises(StateStoreError):
        journal.before_send(batch(1))
    with pytest.raises(StateStoreError):
        journal.before_send(batch(4, guarded=False))


def test_a_batch_stopped_before_it_left_adds_nothing_to_the_spool(journal, disk_full):
    disk_full()
    stopped = batch(1)
    with pytest.raises(StateStoreError):
        journal.before_send(stopped)
    with pytest.raises(StateStoreError):
        journal.after_send(answered(stopped, "failed"))
    assert journal.spool.path is None  # its keys were never written: there is nothing to undo
