"""Event-driven Ketch sync: the DAG runs when the Ketch preferences asset changes.

An asset watcher (``KetchPreferenceChangeTrigger`` in the triggerer) watches the state store the
webhook receiver fills; each batch of new changes records an asset event, which starts a run that
syncs everything pending. No schedule, no polling task.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Asset, AssetWatcher

from airflow_provider_braze.operators import BrazeSubscriptionSyncOperator
from airflow_provider_braze.triggers import KetchPreferenceChangeTrigger

try:
    from ketch_settings import IDENTITY_SPACES, SUBSCRIPTION_GROUPS
except ImportError:  # imported as a package (tests)
    from example_dags.ketch_settings import IDENTITY_SPACES, SUBSCRIPTION_GROUPS

ketch_preferences = Asset(
    "ketch://sandbox/preferences",
    watchers=[
        AssetWatcher(
            name="ketch_preference_changes",
            trigger=KetchPreferenceChangeTrigger(ketch_conn_id="ketch_default", poll_interval=30),
        )
    ],
)

with DAG(
    dag_id="example_ketch_event_driven",
    schedule=[ketch_preferences],
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_runs=1,
    tags=["braze", "ketch", "example"],
) as dag:
    BrazeSubscriptionSyncOperator(
        task_id="sync_everything_pending",
        subscription_groups=SUBSCRIPTION_GROUPS,
        identity_spaces=IDENTITY_SPACES,
        blocklist_on_unsubscribe_all=False,
    )
