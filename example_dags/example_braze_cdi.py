"""Trigger a Braze Cloud Data Ingestion sync after the warehouse tables are refreshed, and wait for it.

The sync operator defers while Braze works (no worker slot is held) and fails when the job ends in
``error`` or ``config_error``. The sensor form waits for a sync someone else started, such as
Braze's own schedule. The integration id comes from the Airflow Variable ``braze_cdi_integration_id``.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_braze.operators import BrazeCDISyncOperator
from airflow_provider_braze.sensors import BrazeCDIJobSensor

with DAG(
    dag_id="example_braze_cdi",
    schedule=None,
    start_date=datetime(2026, 11, 1),
    catchup=False,
    tags=["braze", "example", "cdi"],
) as dag:
    sync = BrazeCDISyncOperator(
        task_id="sync_customers_table",
        integration_id="{{ var.value.braze_cdi_integration_id }}",
        deferrable=True,
        poll_interval=1,
        timeout=600,
    )
    # Waits on the job the operator started (its sync_start_time comes through XCom).
    confirm = BrazeCDIJobSensor(
        task_id="confirm_job_finished",
        integration_id="{{ var.value.braze_cdi_integration_id }}",
        sync_start_time="{{ ti.xcom_pull(task_ids='sync_customers_table', key='sync_start_time') }}",
        deferrable=True,
        poke_interval=1,
    )
    sync >> confirm
