"""The sync log: each row's outcome written to a table in the user's warehouse through an Airflow SQL connection."""

from __future__ import annotations

import json
import os
import uuid

import pytest
import sqlalchemy as sa

from airflow_provider_braze.operators import BrazeExportMisconfigured, BrazeTrackUsersOperator
from tests.helpers.postgres import postgres_connection
from tests.helpers.secrets import POSTGRES_ENV, TEST_API_KEY

PURCHASES = [
    {"external_id": f"u{i}", "product_id": f"sku-{i}", "currency": "USD", "price": 1, "time": "2026-11-01T00:00:00Z"}
    for i in range(4)
] + [{"external_id": "u9", "product_id": "sku-9", "currency": "EUROS", "price": 1, "time": "2026-11-01T00:00:00Z"}]

CENSUS_COLUMNS = {
    "sync_run_id",
    "record_identifier",
    "record_payload",
    "batch_started_at",
    "batch_completed_at",
    "operation",
    "status",
    "status_message",
}


def export(run_id: str = "run-1", **kwargs) -> dict:
    kwargs.setdefault("task_id", "purchases_to_braze")
    kwargs.setdefault("record_type", "purchases")
    kwargs.setdefault("skip_on_invalid_records", True)
    return BrazeTrackUsersOperator(records=PURCHASES, **kwargs).execute(context={"run_id": run_id})


def logged(engine: sa.Engine, table: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY row_number")).mappings().all()
    return [dict(r) for r in rows]


@pytest.fixture
def sqlite_warehouse(warehouse, tmp_path):
    return sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")


def test_refused_rows_are_logged_with_census_columns_and_the_table_is_created(
    sandbox, braze_conn, sqlite_warehouse, monkeypatch
):
    monkeypatch.setattr(sandbox.settings, "max_product_ids", 2)  # Braze refuses the third and fourth product

    summary = export(sync_log_conn_id="warehouse", sync_log_table="braze_sync_log")

    assert (summary["accepted"], summary["rejected"], summary["skipped"]) == (2, 2, 1)
    assert summary["sync_log_rows"] == 3
    rows = logged(sqlite_warehouse, "braze_sync_log")
    assert set(rows[0]) >= CENSUS_COLUMNS
    assert [(r["row_number"], r["record_identifier"], r["operation"], r["status"]) for r in rows] == [
        (3, "u2", "purchases", "rejected"),
        (4, "u3", "purchases", "rejected"),
        (5, "u9", "users/track", "invalid"),
    ]
    invalid = rows[-1]
    assert invalid["column_name"] == "currency" and "ISO 4217" in invalid["status_message"]
    assert json.loads(invalid["record_payload"])["currency"] == "EUROS"
    assert {r["sync_run_id"] for r in rows} == {"run-1"}
    assert {r["sync_key"] for r in rows} == {"adhoc_airflow.purchases_to_braze"}
    assert rows[0]["batch_started_at"] is not None and rows[0]["batch_completed_at"] >= rows[0]["batch_started_at"]
    assert all(TEST_API_KEY not in json.dumps(r, default=str) for r in rows)


def test_all_outcomes_are_logged_and_runs_append(sandbox, braze_conn, sqlite_warehouse):
    export(sync_log_conn_id="warehouse", sync_log_outcomes="all")
    export("run-2", sync_log_conn_id="warehouse", sync_log_outcomes="all")

    rows = logged(sqlite_warehouse, "braze_sync_log")
    by_run = {run: sorted(r["status"] for r in rows if r["sync_run_id"] == run) for run in ("run-1", "run-2")}
    assert by_run["run-1"] == ["accepted"] * 4 + ["invalid"]
    # The ledger knows the second run's purchases were sent: nothing new is sent or logged as sent.
    assert by_run["run-2"] == ["invalid"]


def test_a_dry_run_writes_no_sync_log(sandbox, braze_conn, sqlite_warehouse):
    export(sync_log_conn_id="warehouse", dry_run=True)
    assert not sa.inspect(sqlite_warehouse).has_table("braze_sync_log")


def test_a_wrong_outcomes_value_is_refused_when_the_dag_is_parsed():
    with pytest.raises(BrazeExportMisconfigured, match="sync_log_outcomes must be one of all, refused"):
        BrazeTrackUsersOperator(task_id="t", records=[], sync_log_conn_id="warehouse", sync_log_outcomes="some")


def test_the_sync_log_goes_to_postgresql_in_a_schema(sandbox, braze_conn, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_PG_WAREHOUSE", json.dumps(postgres_connection()))
    url = os.environ[POSTGRES_ENV]
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    schema = f"braze_log_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        export(sync_log_conn_id="pg_warehouse", sync_log_table=f"{schema}.sync_log", sync_log_outcomes="all")
        rows = logged(engine, f"{schema}.sync_log")
        assert [r["status"] for r in rows] == ["accepted"] * 4 + ["invalid"]
        assert rows[0]["batch_completed_at"].tzinfo is not None
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
