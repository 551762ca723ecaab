"""Airflow operators of the Braze provider."""

from airflow_provider_braze.operators.cdi import BrazeCDISyncOperator
from airflow_provider_braze.operators.export_base import (
    BrazeExportBaseOperator,
    BrazeExportFailed,
    BrazeExportMisconfigured,
)
from airflow_provider_braze.operators.export_outcome import BrazeExportUnrecorded
from airflow_provider_braze.operators.rights import BrazeRightsRequestsOperator
from airflow_provider_braze.operators.subscriptions import BrazeSubscriptionSyncOperator
from airflow_provider_braze.operators.sync_ledger import BrazeSyncResetOperator, BrazeSyncSettleOperator
from airflow_provider_braze.operators.treasure_data import BrazeExportOperator
from airflow_provider_braze.operators.users import (
    BrazeDeleteUsersOperator,
    BrazeIdentifyUsersOperator,
    BrazeNewAliasOperator,
    BrazeTrackUsersOperator,
)

__all__ = [
    "BrazeCDISyncOperator",
    "BrazeDeleteUsersOperator",
    "BrazeExportBaseOperator",
    "BrazeExportFailed",
    "BrazeExportMisconfigured",
    "BrazeExportOperator",
    "BrazeExportUnrecorded",
    "BrazeIdentifyUsersOperator",
    "BrazeNewAliasOperator",
    "BrazeRightsRequestsOperator",
    "BrazeSubscriptionSyncOperator",
    "BrazeSyncResetOperator",
    "BrazeSyncSettleOperator",
    "BrazeTrackUsersOperator",
]
