"""A state store made by an earlier release gains this release's columns, its rows kept."""

from __future__ import annotations

from sqlalchemy import Column, Double, MetaData, String, Table, inspect, text

from airflow_provider_braze.state.engine import create_state_engine, write_transaction
from airflow_provider_braze.state.sync_ledger import Owner, SyncLedgerStore


def test_an_older_ledger_gains_the_owner_and_date_columns_and_keeps_its_syncs(state_url):
    engine = create_state_engine(state_url)
    old = MetaData()
    Table(
        "braze_syncs",
        old,
        Column("id", Double(), primary_key=True),
        Column("sync_key", String(250)),
        Column("endpoint", String(64)),
        Column("mode", String(64)),
        Column("created_at", Double()),
    )
    with write_transaction(engine) as conn:
        old.create_all(conn)
        conn.execute(text("INSERT INTO braze_syncs VALUES (1, 'dag.task', 'users/track', 'events', 0)"))
    engine.dispose()

    store = SyncLedgerStore(state_url)
    run = store.open_run("dag.task", endpoint="users/track", mode="events", run_id="r1", owner=Owner("dag", "task"))

    columns = {c["name"] for c in inspect(store.engine).get_columns("braze_syncs")}
    assert {"owner_dag_id", "owner_task_id"} <= columns
    assert run.sync_id == 1 and run.created is False  # the old sync, now owned
    assert store.state("dag.task").owner == "dag.task"
    store.dispose()
