"""Ketch data subject rights requests carried out in Braze, hourly.

Delete requests delete the matching Braze profiles; access requests return the exported profile to
Ketch; each request's status goes back to Ketch's callback URLs until ``completed``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_braze.operators import BrazeRightsRequestsOperator

try:
    from ketch_settings import IDENTITY_SPACES
except ImportError:  # imported as a package (tests)
    from example_dags.ketch_settings import IDENTITY_SPACES

with DAG(
    dag_id="example_ketch_rights_requests",
    schedule=timedelta(hours=1),
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    tags=["braze", "ketch", "example"],
) as dag:
    BrazeRightsRequestsOperator(task_id="carry_out_rights_requests", identity_spaces=IDENTITY_SPACES)
