"""Warehouse to Braze, every export mode, one data interval per run.

Each task reads only the rows of its run's data interval (see ``sql/``), so a backfill of any day
re-sends exactly that day. The order follows Braze's dependencies: aliases exist before they are
identified; profiles get their attributes, events and purchases; erasure requests run last.

Connections: ``braze_default`` (Braze) and ``braze_demo_warehouse`` (any SQL connection; the demo
uses SQLite). Rows Braze or the validator refuse are skipped and written, with their reasons, to
``$AIRFLOW_HOME/braze_rejected/<date>/<task>.jsonl``.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, Asset
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_braze.operators import (
    BrazeDeleteUsersOperator,
    BrazeIdentifyUsersOperator,
    BrazeNewAliasOperator,
    BrazeTrackUsersOperator,
)

WAREHOUSE = "braze_demo_warehouse"
# /tmp only when AIRFLOW_HOME is unset (a bare checkout); rejected rows go under AIRFLOW_HOME otherwise.
HOME = os.environ.get("AIRFLOW_HOME", "/tmp")  # noqa: S108
REJECTED = os.path.join(HOME, "braze_rejected", "{{ ds }}", "{{ task.task_id }}.jsonl")

with DAG(
    dag_id="example_braze_warehouse_export",
    # Data intervals (not trigger times): each run covers [data_interval_start, data_interval_end).
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1),
    catchup=False,
    template_searchpath=[str(Path(__file__).parent / "sql")],
    default_args={"sql_conn_id": WAREHOUSE, "skip_on_invalid_records": True, "rejected_records_path": REJECTED},
    tags=["braze", "example"],
) as dag:
    new_aliases = BrazeNewAliasOperator(task_id="new_aliases", sql="crm_aliases.sql")
    identify = BrazeIdentifyUsersOperator(task_id="identify_signups", sql="identifications.sql")
    attributes = BrazeTrackUsersOperator(
        task_id="customer_attributes",
        record_type="attributes",
        sql="customers_changed.sql",
        pre_formatted_fields=["tags", "address"],
        # Downstream DAGs can be scheduled on fresh customer attributes in Braze.
        outlets=[Asset("braze://demo/users/attributes")],
    )
    events = BrazeTrackUsersOperator(
        task_id="app_events", record_type="events", sql="app_events.sql", pre_formatted_fields=["properties"]
    )
    purchases = BrazeTrackUsersOperator(task_id="purchases", record_type="purchases", sql="orders.sql")
    delete = BrazeDeleteUsersOperator(task_id="erasure_requests", sql="deletions.sql")

    new_aliases >> identify >> [attributes, events, purchases] >> delete
