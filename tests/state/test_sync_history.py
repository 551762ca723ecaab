"""Read-only views of the sync ledger: what the history page reads, and the hashed search by identifier."""

from __future__ import annotations

from airflow_provider_braze.state.sync_history import SyncHistory, identifier_digests
from airflow_provider_braze.state.sync_ledger import SyncLedgerStore


def test_a_store_nobody_wrote_reads_as_empty_and_is_not_created(tmp_path):
    path = tmp_path / "state.db"
    history = SyncHistory(f"sqlite:///{path}")

    assert history.syncs() == [] and history.sync("any") is None
    assert not path.exists()


def test_a_problem_is_found_by_the_identifier_it_was_filed_under_and_no_other(state_url):
    store = SyncLedgerStore(state_url)
    run = store.open_run("s", endpoint="users/track", mode="attributes", run_id="r1")
    filed = identifier_digests(run.salt, run.sync_id, "email:ana@example.com")[0]
    store.add_problems(run, [(filed, "7", "invalid", "dob", "not a date"), (None, "8", "invalid", "plan", "too long")])
    history = SyncHistory(store.engine)

    assert [p.row for p in history.problems(run.run, identifier="ana@example.com")] == ["7"]
    assert [p.row for p in history.problems(run.run, identifier=" email:ana@example.com ")] == ["7"]
    assert history.problems(run.run, identifier="external_id:ana@example.com") == []
    assert history.problems(run.run, identifier="bob@example.com") == []
    assert [p.row for p in history.problems(run.run)] == ["7", "8"]
    store.dispose()


def test_the_newest_run_of_each_sync_is_its_last(state_url):
    clock = iter(range(100, 200)).__next__
    store = SyncLedgerStore(state_url, clock=clock)
    for run_id in ("r1", "r2"):
        run = store.open_run("s", endpoint="users/track", mode="events", run_id=run_id)
        store.finish_run(run, "success", {"rows_read": 1})
    history = SyncHistory(store.engine)

    (sync,) = history.syncs()
    assert (sync.sync_key, sync.mode, sync.runs, sync.last.run_id) == ("s", "events", 2, "r2")
    assert [r.run_id for r in history.runs(sync.id)] == ["r2", "r1"]
    assert history.task_run(sync.id, "r1").summary == {"rows_read": 1}
    store.dispose()
