"""A sync belongs to the task that made it; renaming carries its ledger over."""

from __future__ import annotations

import pytest

from airflow_provider_braze.state.sync_ledger import BatchRecord, Owner, SyncLedgerStore, SyncOwnedError


@pytest.fixture
def ledger(state_url):
    store = SyncLedgerStore(state_url)
    yield store
    store.dispose()


def open_run(ledger, owner, sync_key="shared.events", run_id="r1", mode="events"):
    return ledger.open_run(sync_key, endpoint="users/track", mode=mode, run_id=run_id, owner=owner)


def test_another_task_on_the_same_sync_key_is_refused_naming_the_owner(ledger):
    open_run(ledger, Owner("orders_dag", "export"))
    with pytest.raises(SyncOwnedError) as refused:
        open_run(ledger, Owner("returns_dag", "export"), run_id="r2")
    message = str(refused.value)
    assert "belongs to task 'export' of DAG 'orders_dag', not to returns_dag.export" in message
    assert "share_sync=True" in message and "braze-sync-ledger release shared.events" in message
    assert ledger.state("shared.events").runs == 1  # the refused run left nothing behind


def test_a_task_that_shares_the_sync_on_purpose_is_let_in(ledger):
    open_run(ledger, Owner("orders_dag", "export"))
    run = open_run(ledger, Owner("returns_dag", "export", share=True), run_id="r2")
    assert ledger.state("shared.events").owner == "orders_dag.export" and run.created is False


def test_a_sync_without_owner_is_adopted_by_the_next_task(ledger):
    open_run(ledger, None)  # made before owners were kept
    open_run(ledger, Owner("orders_dag", "export"), run_id="r2")
    assert ledger.state("shared.events").owner == "orders_dag.export"


def test_rename_moves_the_ledger_and_the_renamed_task_owns_it(ledger):
    run = open_run(ledger, Owner("orders_dag", "export"), sync_key="orders_dag.export")
    ledger.write_intents(run, [(b"k" * 16, "1")])
    ledger.record(run, BatchRecord(accepted_keys=[b"k" * 16]))

    assert ledger.rename("orders_dag.export", "orders_dag.export_events")
    moved = open_run(ledger, Owner("orders_dag", "export_events"), sync_key="orders_dag.export_events", run_id="r2")

    assert moved.sync_id == run.sync_id and moved.created is False
    assert ledger.keys(moved.sync_id, [b"k" * 16]) == {b"k" * 16: ("accepted", run.run)}
    assert ledger.state("orders_dag.export_events").owner == "orders_dag.export_events"
    assert ledger.find_sync("orders_dag.export") is None


def test_rename_onto_an_existing_sync_is_refused(ledger):
    open_run(ledger, Owner("d", "a"), sync_key="d.a")
    open_run(ledger, Owner("d", "b"), sync_key="d.b")
    with pytest.raises(ValueError, match=r"sync 'd\.b' exists already"):
        ledger.rename("d.a", "d.b")


def test_a_new_sync_names_the_syncs_its_dag_or_task_id_has_history_under(ledger):
    open_run(ledger, Owner("orders_dag", "export"), sync_key="orders_dag.export")
    open_run(ledger, Owner("orders_dag", "profiles"), sync_key="orders_dag.profiles", mode="attributes")
    open_run(ledger, Owner("old_dag", "export_events"), sync_key="old_dag.export_events")

    fresh = open_run(ledger, Owner("orders_dag", "export_events"), sync_key="orders_dag.export_events")

    # Same kind only (events to users/track): the attribute sync of the DAG is no rename candidate.
    assert fresh.created and fresh.elsewhere == ("old_dag.export_events", "orders_dag.export")
    assert open_run(ledger, Owner("orders_dag", "export_events"), "orders_dag.export_events", "r2").elsewhere == ()
