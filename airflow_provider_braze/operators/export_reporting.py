"""What an export run reports beyond its return value: the sync log in the user's warehouse.

The sync log is written through any Airflow SQL connection whose hook offers a SQLAlchemy engine
(SQLite, PostgreSQL, MySQL, Snowflake, BigQuery ...); see :mod:`airflow_provider_braze.sync_log`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowException

from airflow_provider_braze.sync_log import SyncLogWriter

if TYPE_CHECKING:
    from airflow.sdk import Context

log = logging.getLogger(__name__)


def sync_run_id(context: Context) -> str:
    """The run the sync log's rows belong to: Airflow's ``run_id``, with the map index of a mapped task."""
    run_id = str(context.get("run_id") or "manual")
    ti = context.get("ti")
    map_index = getattr(ti, "map_index", -1) if ti is not None else -1
    return run_id if map_index in (None, -1) else f"{run_id}[{map_index}]"


def open_sync_log(conn_id: str, table: str, outcomes: str, *, sync_key: str, context: Context) -> SyncLogWriter:
    """A writer into ``table`` of the warehouse behind ``conn_id``, the table created when missing.

    :raises AirflowException: the connection's hook cannot give a SQLAlchemy engine.
    """
    hook: Any = BaseHook.get_connection(conn_id).get_hook()
    if not hasattr(hook, "get_sqlalchemy_engine"):
        raise AirflowException(
            f"sync_log_conn_id {conn_id!r} is not a SQL connection with a SQLAlchemy engine "
            f"({type(hook).__name__}); use a database connection such as postgres, snowflake or sqlite."
        )
    writer = SyncLogWriter(
        hook.get_sqlalchemy_engine(), table, sync_key=sync_key, sync_run_id=sync_run_id(context), outcomes=outcomes
    )
    log.info("Row outcomes (%s) go to the sync log %s of connection %r.", outcomes, table, conn_id)
    return writer


def close_sync_log(writer: SyncLogWriter, *, succeeded: bool) -> None:
    """Insert what is still buffered. After a failed run, a failure here is logged, not raised, so
    that the run's own error is the one reported."""
    try:
        writer.flush()
    except Exception:
        if succeeded:
            raise
        log.exception("The sync log's last rows could not be written after the export failed.")
    log.info("Sync log: %s rows written.", f"{writer.written:,}")
