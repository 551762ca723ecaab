"""An export's sync kept in its source warehouse (``warehouse_state=True``): opening and closing it.

The state lives in a schema of the query's own connection (``warehouse_schema``, created when
missing; the connection needs write access to that schema only). See :mod:`airflow_provider_braze.warehouse`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.hooks.state import sqlalchemy_url_of
from airflow_provider_braze.operators.export_sync import abandon_run, open_ledger_run, take_sync_lease
from airflow_provider_braze.sources.columns import ColumnFilter
from airflow_provider_braze.sources.sql import strip_sql
from airflow_provider_braze.state.engine import create_state_engine
from airflow_provider_braze.warehouse.store import WarehouseLedger
from airflow_provider_braze.warehouse.sync import WarehouseSync

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_braze.braze.cancel import CancelToken
    from airflow_provider_braze.incremental.partitions import Partition
    from airflow_provider_braze.ledger import ExportLedger
    from airflow_provider_braze.operators.export_base import BrazeExportBaseOperator
    from airflow_provider_braze.records import RecordBuilder


def check_warehouse_options(operator: BrazeExportBaseOperator, record_type: str | None) -> None:
    """Refuse warehouse mode where it cannot run, naming what to change.

    :raises AirflowFailException: a source other than ``sql``, a mode other than attributes, a dry run.
    """
    if not operator.sql or not operator.sql_conn_id:
        raise AirflowFailException(
            "warehouse_state=True keeps the sync's state in the source's warehouse: it needs sql with sql_conn_id "
            "(files and records keep it in the state store)."
        )
    if record_type != "attributes":
        raise AirflowFailException(
            "warehouse_state=True runs attribute exports; events and purchases keep their keys in the state store "
            "(state_conn_id) for now."
        )
    if not operator.sync_ledger:
        raise AirflowFailException(
            "warehouse_state=True keeps the sync ledger in the warehouse: drop sync_ledger=False."
        )
    if operator.dry_run:
        raise AirflowFailException("warehouse_state=True does not dry-run yet: run the export, or dry-run it without.")


def open_warehouse_sync(
    operator: BrazeExportBaseOperator,
    context: Context,
    *,
    sync_key: str,
    endpoint: str,
    record_type: str | None,
    ledger: ExportLedger,
    partition: Partition | None,
    builder: RecordBuilder,
    cancel: CancelToken | None = None,
) -> WarehouseSync:
    """Open the run in the warehouse, take the sync's lease, and compute the plan there.

    :param operator: the export (its ``sql``, ``sql_conn_id``, ``warehouse_schema`` ...).
    :param sync_key: the sync's stable name.
    :param endpoint: the catalogue name of the endpoint the rows go to.
    :param record_type: what the export sends (checked by :func:`check_warehouse_options` first).
    :param ledger: the run's counts.
    :param partition: the partition this task exports, if any.
    :param builder: the record builder (its settings key the layout).
    :param cancel: the task's cancel token (a lease wait stops on it).
    """
    url = sqlalchemy_url_of(BaseHook.get_connection(str(operator.sql_conn_id)))
    store = WarehouseLedger(create_state_engine(url), operator.warehouse_schema)
    store.ensure_schema()
    run = open_ledger_run(operator, store, context, sync_key, endpoint, "attributes", partition)
    lease = None
    try:
        lease = take_sync_lease(operator, store, context, sync_key, run, partition, cancel)
        send = "resync" if operator.full_resync else "changed" if operator.only_changed else "all"
        settings = getattr(builder, "settings", None)
        sync = WarehouseSync(
            store,
            run,
            query=strip_sql(str(operator.sql)),
            parameters=operator.parameters,
            report=ledger,
            builder_settings=(settings() if callable(settings) else None) or "",
            send=send,
            partition=(partition.index, partition.count) if partition else None,
            lease=lease,
            keep=ColumnFilter(operator.columns, operator.exclude_columns).kept,
        )
        sync.make_plan()
    except BaseException as exc:
        abandon_run(store, run, lease, f"planning in the warehouse: {exc}")
        raise
    return sync
