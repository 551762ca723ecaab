"""The partitioned incremental example DAG through `airflow dags test`: four mapped tasks, one ledger."""

from __future__ import annotations

import json
import sqlite3

import pytest

from airflow_provider_braze.state.sync_ledger import SyncLedgerStore
from demo import warehouse

COLUMNS = ("email", "first_name", "last_name", "plan", "lifetime_value", "country")


@pytest.fixture
def sample_db(tmp_path):
    return warehouse.seed(tmp_path / "warehouse.db")


def customers(db_path) -> dict[str, dict]:
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    try:
        query = (
            f"select external_id, {', '.join(COLUMNS)} from customers"
            " where external_id not in (select external_id from deletions)"
        )
        return {r["external_id"]: dict(r) for r in db.execute(query)}
    finally:
        db.close()


def test_four_partitions_export_every_customer_once_then_only_what_changed(
    run_dag, dag_sandbox, sample_db, airflow_home
):
    env = {"AIRFLOW_CONN_BRAZE_DEMO_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(sample_db)})}
    run_dag("example_braze_incremental_sync", "2026-11-20", **env)
    first_points = dag_sandbox.store.data_points
    db = sqlite3.connect(sample_db)
    changed = db.execute(
        "update customers set plan = 'changed' where rowid % 50 = 0"
        " and external_id not in (select external_id from deletions)"
    ).rowcount
    db.commit()
    db.close()
    run_dag("example_braze_incremental_sync", "2026-11-21", **env)

    want = customers(sample_db)
    held = {u.external_id: u for u in dag_sandbox.store.users()}
    assert set(held) == set(want)
    for external_id, row in want.items():
        assert held[external_id].custom_attributes["plan"] == row["plan"]
        assert held[external_id].attributes["first_name"] == row["first_name"]
    # The second run wrote the changed plans and nothing else.
    assert changed > 0 and dag_sandbox.store.data_points - first_points == changed

    runs = SyncLedgerStore(f"sqlite:///{airflow_home / 'braze_provider_state.db'}").runs("warehouse.customer_profiles")
    by_run: dict[str, list[dict]] = {}
    for run in sorted(runs, key=lambda r: r["started_at"]):
        by_run.setdefault(run["run_id"], []).append(run)
    first, second = by_run.values()
    assert all(r["status"] == "success" for r in runs)
    assert sorted(r["partition"] for r in first) == ["0/4", "1/4", "2/4", "3/4"]
    # Every customer was read by exactly one partition.
    assert sum(r["summary"]["rows_read"] for r in first) == len(want) == sum(r["summary"]["rows_read"] for r in second)
    assert sum(r["summary"]["unchanged"] for r in second) == len(want) - changed
