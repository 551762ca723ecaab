"""Reaching the provider's SQL state store from Airflow: an Airflow connection, or the embedded default.

Both halves of the provider keep their state in one store: the Ketch hook (``state_conn_id`` or
``state_url`` extras of the Ketch connection) and the export operators' sync ledger
(``state_conn_id`` argument). Without a connection it is the SQLite file under ``AIRFLOW_HOME``,
which serves one machine; many workers need a shared database such as PostgreSQL.
:func:`worker_local_state_risks` says when this worker is not that one machine.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from airflow.sdk import BaseHook
from sqlalchemy import URL

from airflow_provider_braze.hooks.ketch_settings import default_state_path, default_state_url
from airflow_provider_braze.state.placement import container_evidence, executor_placement
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


def worker_local_state_risks(task_executor: str | None) -> list[str]:
    """Why the embedded state file would not outlive this task's attempts on this worker; empty when it would.

    Reads ``[core] executor`` from Airflow's configuration (its name only: the executor's class is never
    imported, so a worker without the Celery or Kubernetes provider installed still answers), and looks at
    where the file's folder is mounted (see :mod:`airflow_provider_braze.state.placement`).

    :param task_executor: the task's own ``executor`` argument, which wins over the configured default.
    """
    risks = []
    placement = executor_placement(task_executor, _conf().get("core", "executor", fallback="") or "")
    if placement.elsewhere:
        risks.append(placement.describe())
    container = container_evidence(os.path.dirname(default_state_path()))
    if container is not None:
        risks.append(container)
    return risks


def local_state_allowed_by_config() -> bool:
    """``[braze] allow_local_state`` (``AIRFLOW__BRAZE__ALLOW_LOCAL_STATE``): the whole deployment keeps
    its sync ledgers in the embedded file on purpose (its workers share ``AIRFLOW_HOME``)."""
    return _conf().getboolean("braze", "allow_local_state", fallback=False)


def _conf() -> Any:
    try:  # the Task SDK's configuration on a worker; the core's where the SDK's is absent
        from airflow.sdk.configuration import conf
    except ImportError:  # pragma: no cover - Airflow 3.0
        from airflow.configuration import conf
    return conf
