"""Warehouse mode end to end: the diff runs in the source's warehouse, only what changed leaves it."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import uuid
from collections.abc import Iterator

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.operators import BrazeTrackUsersOperator
from tests.helpers.postgres import POSTGRES_ENV, postgres_connection

USERS = 300


class Warehouse:
    """A warehouse behind the Airflow connection ``wh``: a ``customers`` table and a state schema."""

    def __init__(self, kind: str, execute, schema: str, table: str = "customers") -> None:
        self.kind, self._execute, self.schema, self.table = kind, execute, schema, table

    def run(self, sql: str, rows=None) -> None:
        self._execute(sql, rows)

    def load(self, count: int = USERS) -> None:
        self.run(f"CREATE TABLE {self.table} (external_id TEXT, plan TEXT, score INTEGER, city TEXT)")
        self.run(
            f"INSERT INTO {self.table} VALUES " + ", ".join(f"('u{i}', 'basic', {i}, 'Paris')" for i in range(count))
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def wh(request, tmp_path, monkeypatch) -> Iterator[Warehouse]:
    if request.param == "sqlite":
        path = tmp_path / "warehouse.db"
        monkeypatch.setenv("AIRFLOW_CONN_WH", json.dumps({"conn_type": "sqlite", "host": str(path)}))

        def execute(sql, rows=None):
            with sqlite3.connect(path) as db:
                db.execute(sql)

        yield Warehouse("sqlite", execute, "braze_sync")
        return
    fields = postgres_connection()
    import psycopg

    url = os.environ[POSTGRES_ENV]
    suffix = uuid.uuid4().hex[:8]
    schema, data = f"braze_state_{suffix}", f"wh_{suffix}"
    monkeypatch.setenv("AIRFLOW_CONN_WH", json.dumps(fields))
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {data}")

    def execute(sql, rows=None):
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(sql)

    try:
        yield Warehouse("postgresql", execute, schema, f"{data}.customers")
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {data} CASCADE")
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def export(wh: Warehouse, run_id: str, where: str = "", **kwargs):
    sql = f"SELECT * FROM {wh.table} {where}"
    with DAG("crm", schedule=None):
        operator = BrazeTrackUsersOperator(
            task_id="profiles",
            record_type="attributes",
            sql=sql,
            sql_conn_id="wh",
            warehouse_state=True,
            warehouse_schema=wh.schema,
            only_changed=True,
            **kwargs,
        )
    return operator.execute(context={"run_id": run_id})


def test_a_first_sync_sends_every_row_and_a_second_run_sends_nothing(wh, sandbox, braze_conn):
    wh.load()
    first = export(wh, "r1")
    assert first["rows_sent"] == USERS and first["accepted"] == USERS
    assert sandbox.store.find_user(external_id="u7").custom_attributes["plan"] == "basic"

    before = len(sandbox.requests)
    second = export(wh, "r2")

    assert second["rows_sent"] == 0 and second["unchanged"] == USERS
    assert len(sandbox.requests) == before  # nothing left the warehouse to be sent


def test_only_the_changed_value_of_the_changed_users_is_sent(wh, sandbox, braze_conn):
    wh.load()
    export(wh, "r1")
    wh.run(f"UPDATE {wh.table} SET plan = 'gold' WHERE score < 30")
    billed = sandbox.store.data_points

    changed = export(wh, "r2")

    assert changed["rows_sent"] == 30 and changed["unchanged"] == USERS - 30
    assert changed["data_points"] == 30 and sandbox.store.data_points - billed == 30  # one value a user
    assert sandbox.store.find_user(external_id="u3").custom_attributes["plan"] == "gold"
    assert sandbox.store.find_user(external_id="u3").custom_attributes["city"] == "Paris"


def test_users_that_left_the_query_are_counted_and_kept(wh, sandbox, braze_conn, caplog):
    wh.load()
    export(wh, "r1")
    with caplog.at_level(logging.INFO):
        later = export(wh, "r2", where="WHERE score >= 10")
    assert later["rows_sent"] == 0 and later["unchanged"] == USERS - 10
    assert later["users_left"] == 10
    assert any("10 users the sync holds are no longer in the query" in r.getMessage() for r in caplog.records)
    # They come back unchanged: nothing is sent for them.
    back = export(wh, "r3")
    assert back["rows_sent"] == 0 and back["unchanged"] == USERS


def test_a_user_returned_twice_is_refused_naming_the_row_and_the_reason(wh, sandbox, braze_conn):
    wh.load(10)
    wh.run(f"INSERT INTO {wh.table} VALUES ('u3', 'gold', 3, 'Lyon')")

    summary = export(wh, "r1", skip_on_invalid_records=True)

    assert summary["rows_sent"] == 9 and summary["skipped"] == 2
    assert sandbox.store.find_user(external_id="u3") is None


def test_a_full_resync_sends_every_value_again(wh, sandbox, braze_conn):
    wh.load(50)
    export(wh, "r1")
    billed = sandbox.store.data_points
    again = export(wh, "r2", full_resync=True)
    assert again["rows_sent"] == 50 and sandbox.store.data_points - billed == 150  # every value again


def test_warehouse_mode_needs_a_sql_source(sandbox, braze_conn):
    with DAG("crm", schedule=None):
        operator = BrazeTrackUsersOperator(
            task_id="profiles", record_type="attributes", records=[{"external_id": "u1"}], warehouse_state=True
        )
    with pytest.raises(AirflowFailException, match="needs sql with sql_conn_id"):
        operator.execute(context={"run_id": "r1"})
    assert len(sandbox.requests) == 0
