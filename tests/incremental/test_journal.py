"""The journal when the state store fails: nothing more leaves, and what Braze answered goes to the spool."""

from __future__ import annotations

import os

import pytest

from airflow_provider_braze.braze.batching import Batch
from airflow_provider_braze.braze.endpoints import get_endpoint
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.braze.sender import BatchResult, ItemOutcome
from airflow_provider_braze.incremental.decisions import Entry
from airflow_provider_braze.incremental.journal import LedgerJournal
from airflow_provider_braze.incremental.overlay import Overlay
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.state import StateStoreError
from airflow_provider_braze.state.sync_ledger import SyncLedgerStore
from airflow_provider_braze.state.unrecorded_spool import SpoolHeader, SpoolWriter, read_spool
from tests.helpers.state_faults import DiskFills


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
