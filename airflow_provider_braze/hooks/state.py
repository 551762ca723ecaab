"""Reaching the provider's SQL state store from Airflow: an Airflow connection, or the embedded default.

Both halves of the provider keep their state in one store: the Ketch hook (``state_conn_id`` or
``state_url`` extras of the Ketch connection) and the export operators' sync ledger
(``state_conn_id`` argument). Without a connection it is the SQLite file under ``AIRFLOW_HOME``,
which serves one machine; many workers need a shared database such as PostgreSQL.
"""

from __future__ import annotations

import contextlib
from typing import Any

from airflow.sdk import BaseHook
from sqlalchemy import URL

from airflow_provider_braze.hooks.ketch_settings import default_state_url
from airflow_provider_braze.state.sync_ledger import SyncLedgerStore


def sqlalchemy_url_of(conn: Any) -> str | URL:
    """The SQLAlchemy URL of an Airflow database connection (``postgres``, ``sqlite``...).

    The connection's own hook knows its dialect and driver best (``sqlalchemy_url``, else ``get_uri``);
    without a hook the connection URI is used, with Airflow's ``postgres://`` spelled as SQLAlchemy's.
    """
    try:
        hook = conn.get_hook()
    except Exception:  # noqa: BLE001 - no provider for this type: fall back to the URI below
        hook = None
    if hook is not None:
        # Not every database hook can build a SQLAlchemy URL; get_uri is the fallback.
        with contextlib.suppress(AttributeError, NotImplementedError):
            return hook.sqlalchemy_url
        if callable(getattr(hook, "get_uri", None)):
            return hook.get_uri()
    uri = conn.get_uri()
    return "postgresql" + uri[len("postgres") :] if uri.startswith("postgres://") else uri


def state_store_url(state_conn_id: str | None) -> str | URL:
    """The state store's SQLAlchemy URL: the connection ``state_conn_id``, else the embedded SQLite file."""
    if not state_conn_id:
        return default_state_url()
    return sqlalchemy_url_of(BaseHook.get_connection(state_conn_id))


def sync_ledger_store(state_conn_id: str | None) -> SyncLedgerStore:
    """The sync ledger in the state store named by ``state_conn_id`` (tables are created on first use)."""
    return SyncLedgerStore(state_store_url(state_conn_id))
