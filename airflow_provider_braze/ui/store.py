"""Which state store the sync history page reads: ``[braze] state_conn_id``, else the SQLite file under
``AIRFLOW_HOME``.

Read at each request, not when the plugin loads (loading plugins must need no connection and no
database), so setting the option or creating the connection later needs no restart. Engines are
kept per store, one pool for the API server's lifetime.
"""

from __future__ import annotations

import threading

from sqlalchemy import make_url

from airflow_provider_braze.state.sync_history import SyncHistory

_lock = threading.Lock()
_histories: dict[str, SyncHistory] = {}


def configured_conn_id() -> str | None:
    """The Airflow connection of the state store: ``[braze] state_conn_id`` (e.g.
    ``AIRFLOW__BRAZE__STATE_CONN_ID``), or ``None`` for the embedded SQLite file."""
    from airflow.configuration import conf

    return conf.get("braze", "state_conn_id", fallback=None) or None


def history(conn_id: str | None = None) -> SyncHistory:
    """The ledger's reader for the configured store (the same one for as long as the store is the same).

    :param conn_id: the state store's connection; ``None`` reads the configuration.
    """
    from airflow_provider_braze.hooks.state import state_store_url

    conn_id = conn_id or configured_conn_id()
    url = make_url(state_store_url(conn_id))
    # The key holds the password only in this process's memory; it is never shown or logged.
    key = url.render_as_string(hide_password=False)
    with _lock:
        found = _histories.get(key)
        if found is None:
            found = _histories[key] = SyncHistory(url)
        return found


def describe(conn_id: str | None = None) -> str:
    """Which store, in words for the page: the connection's id, or the embedded file. Never a URL."""
    conn_id = conn_id or configured_conn_id()
    return f"connection {conn_id!r}" if conn_id else "the embedded SQLite file under AIRFLOW_HOME"
