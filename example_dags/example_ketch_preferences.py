"""Ketch preference changes to Braze subscription groups: wait for changes, then sync them.

The Ketch webhook receiver (in the Airflow API server, or ``ketch-receiver``) stores every change
Ketch sends. The sensor defers until there are unsynced changes and passes their id range on; the
sync collapses them to each user's latest choice and sets Braze's subscription groups.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_braze.operators import BrazeSubscriptionSyncOperator
from airflow_provider_braze.sensors import KetchPreferenceChangeSensor

try:
    from ketch_settings import IDENTITY_SPACES, SUBSCRIPTION_GROUPS
except ImportError:  # imported as a package (tests)
    from example_dags.ketch_settings import IDENTITY_SPACES, SUBSCRIPTION_GROUPS

with DAG(
    dag_id="example_ketch_preferences",
    schedule=timedelta(minutes=15),
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    tags=["braze", "ketch", "example"],
) as dag:
    changes = KetchPreferenceChangeSensor(
        task_id="wait_for_preference_changes",
        deferrable=True,
        poke_interval=5,
        timeout=600,
    )
    sync = BrazeSubscriptionSyncOperator(
        task_id="sync_to_braze",
        event_range="{{ ti.xcom_pull(task_ids='wait_for_preference_changes') }}",
        subscription_groups=SUBSCRIPTION_GROUPS,
        identity_spaces=IDENTITY_SPACES,
    )
    changes >> sync
