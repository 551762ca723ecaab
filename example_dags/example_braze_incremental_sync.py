"""Incremental sync of the whole customers table: only what changed reaches Braze, split over four workers.

Each run reads every customer, yet sends only the attribute values that differ from the last write
Braze accepted for this sync (``only_changed=True``), so a run with nothing changed sends nothing and
spends no data points. The table is split by a stable hash of ``external_id`` into four mapped tasks
that run at once and share one sync ledger (``sync_key``) and the workspace's rate limit; a customer
always lands in the same partition. A retried task resumes where its previous attempt stopped.

Connections: ``braze_default`` and ``braze_demo_warehouse`` (any SQL connection). The sync ledger
lives in the state store (``state_conn_id``; here the SQLite file under ``AIRFLOW_HOME``; PostgreSQL
when tasks run on several machines).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_braze.operators import BrazeTrackUsersOperator

WAREHOUSE = "braze_demo_warehouse"
PARTITIONS = 4

with DAG(
    dag_id="example_braze_incremental_sync",
    schedule="@daily",
    start_date=datetime(2026, 11, 1),
    catchup=False,
    tags=["braze", "example"],
) as dag:
    BrazeTrackUsersOperator.partial(
        task_id="customer_profiles",
        record_type="attributes",
        # Customers who asked to be erased are left out: an attribute write would re-create them.
        sql=(
            "select external_id, email, first_name, last_name, plan, lifetime_value, country from customers "
            "where external_id not in (select external_id from deletions)"
        ),
        sql_conn_id=WAREHOUSE,
        only_changed=True,
        # One ledger for the four partitions; the default would be "<dag_id>.<task_id>" anyway.
        sync_key="warehouse.customer_profiles",
        skip_on_invalid_records=True,
        retries=2,
    ).expand(partition=[(index, PARTITIONS) for index in range(PARTITIONS)])
