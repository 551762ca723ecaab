"""The provider's SQL state store: state that must outlive a task attempt, reached through SQLAlchemy Core.

The embedded default is a SQLite file; PostgreSQL serves many workers. No Airflow imports here: the
hook that turns an Airflow connection into a URL lives with the hooks.

- :mod:`.engine`: engines tuned per dialect, read and write transactions.
- :mod:`.errors`: :class:`StateStoreError`, a failure of the store, named (which store, what cause).
- :mod:`.schema`: the tables, created on first use.
- :mod:`.base`: :class:`StateStore`, what every repository shares.
- :mod:`.ketch_events`: :class:`KetchEventStore`, Ketch webhook events and their sync state (the
  settle API).
- :mod:`.ketch_sync_targets`: what a sync last applied per Braze target (read and written by the settle API).
- :mod:`.ketch_rights`: rights-request state (:attr:`KetchEventStore.rights`).
- :mod:`.sync_ledger`: :class:`~.sync_ledger.SyncLedgerStore`, what each export sync had accepted by Braze
  (:mod:`.sync_ledger_lookups`, :mod:`.sync_ledger_sql`, :mod:`.sync_ledger_admin`); :mod:`.sync_history`
  reads it for people.
"""

from airflow_provider_braze.state.base import StateStore
from airflow_provider_braze.state.engine import create_state_engine, read_transaction, write_transaction
from airflow_provider_braze.state.errors import StateStoreError
from airflow_provider_braze.state.ketch_events import EventRange, KetchEventStore
from airflow_provider_braze.state.ketch_rights import (
    RightsRequest,
    RightsRequestClosed,
    RightsRequestNotFound,
)

__all__ = [
    "EventRange",
    "KetchEventStore",
    "RightsRequest",
    "RightsRequestClosed",
    "RightsRequestNotFound",
    "StateStore",
    "StateStoreError",
    "create_state_engine",
    "read_transaction",
    "write_transaction",
]
