"""The behaviour every warehouse-to-Braze export operator shares.

An export streams: source rows -> record builder -> [partition] -> [sync ledger] -> batcher -> sender
-> outcome ledger -> summary. Subclasses only say which record builder to use (and so which
endpoint); everything else is here. Attribute, event and purchase exports consult the durable sync
ledger (:mod:`airflow_provider_braze.incremental`) to send only what is not done yet.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_braze.braze.batching import Batcher
from airflow_provider_braze.braze.cancel import CancelToken
from airflow_provider_braze.braze.items import Item
from airflow_provider_braze.braze.sender import CANCEL_GRACE
from airflow_provider_braze.gc_pacing import fewer_collections
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.incremental.partitions import Partition
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.metrics import emit_export_summary
from airflow_provider_braze.operators.export_outcome import (
    BrazeExportFailed,
    fail_if_incomplete,
    fail_if_store_failed,
    run_complete,
    warn_unsettled,
)
from airflow_provider_braze.operators.export_reporting import close_sync_log, open_sync_log
from airflow_provider_braze.operators.export_rows import planned_items, row_builder
from airflow_provider_braze.operators.export_sync import DEFAULT_LEASE_TIMEOUT, close_sync, open_sync
from airflow_provider_braze.operators.export_warehouse import check_warehouse_options, open_warehouse_sync
from airflow_provider_braze.operators.rejected_file import LazyRejectedFile
from airflow_provider_braze.operators.row_source import BrazeExportMisconfigured, RowSourceOperator
from airflow_provider_braze.state.errors import StateStoreError
from airflow_provider_braze.sync_log import SYNC_LOG_OUTCOMES
from airflow_provider_braze.ui.links import BrazeSyncRunLink
from airflow_provider_braze.warehouse.sync import WarehouseSync

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_braze.braze.endpoints import Endpoint
    from airflow_provider_braze.incremental import IncrementalSync
    from airflow_provider_braze.records import RecordBuilder
    from airflow_provider_braze.state.unrecorded_spool import SpoolWriter

# Raised by the export operators; importable from here, where DAG code has always found them.
__all__ = ["BrazeExportBaseOperator", "BrazeExportFailed", "BrazeExportMisconfigured", "is_template"]


def is_template(value: Any) -> bool:
    """Whether an argument is Jinja still to be rendered (its value is known only when the task runs)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class BrazeExportBaseOperator(RowSourceOperator):
    """Export rows from a SQL query, a file or a list to a Braze endpoint.

    Give exactly one source: ``sql`` with ``sql_conn_id``, ``records``, or ``path``; the source's
    arguments (``sql``, ``records``, ``path``, ``columns`` ...) are :class:`RowSourceOperator`'s.

    :param pre_formatted_fields: columns holding JSON text to send as arrays or objects.
    :param skip_on_invalid_records: ``True``: report and skip invalid rows and rows Braze refuses,
        and succeed; ``False``: stop at the first invalid row and fail (rows read before it are
        still sent), or fail at the end when Braze refused rows.
    :param braze_conn_id: the Braze connection.
    :param dry_run: build and validate everything, count requests and data points, send nothing.
    :param rejected_records_path: where to write every skipped or refused row with its reason, as
        JSON Lines (local or object storage); created only when a row is at fault.
    :param concurrency: requests in flight (default: the connection's ``concurrency`` extra).
    :param sync_key: the sync's stable name in the sync ledger (default ``dag_id.task_id``); runs
        with the same key share what Braze has accepted. Attribute, event and purchase exports only.
        A sync belongs to the task that made it: another task using its key fails before sending.
    :param share_sync: this task writes into a sync another task owns, on purpose (both export
        rows of one stream under one ``sync_key``).
    :param sync_lease_timeout: seconds a run waits while another run of the same sync (a backfill's
        other date, an overlapping scheduled run) is writing it, before it fails naming that run.
    :param state_conn_id: an Airflow connection to the state store holding the sync ledger (e.g.
        PostgreSQL, for many workers); default: the SQLite file under ``AIRFLOW_HOME``. That default is
        refused (the task fails before sending) under an executor that runs tasks on other machines
        (Celery, Kubernetes, Edge ...) or in a container whose own filesystem holds ``AIRFLOW_HOME``.
    :param allow_local_state: keep the sync ledger in the SQLite file under ``AIRFLOW_HOME`` even where that
        looks worker-local, because every attempt of the task does share it (a single Celery worker, a
        shared volume). ``[braze] allow_local_state`` says the same for the whole deployment.
    :param warehouse_state: attributes from ``sql``: keep the sync's state in a schema of the query's own
        connection and compute the diff there, in SQL; only new or changed rows leave the warehouse
        (see README "Incremental syncs"). The connection needs write access to that schema only.
    :param warehouse_schema: the schema warehouse mode keeps its tables in (created when missing).
    :param sync_ledger: ``False`` makes a one-shot export that neither reads nor writes the ledger
        (no resume, no protection against sending an event twice).
    :param only_changed: attributes: send only values that differ from the last write Braze
        accepted for the user in this sync; rows with nothing changed are not sent.
    :param full_resync: attributes: ignore the ledger's fingerprints for this run, send every
        value, and rewrite them (after someone changed Braze by hand, say).
    :param event_key_column: events and purchases: a column holding a unique key of the row (sent
        as a property too). Without it, an event is known by its content (user, name, time, properties).
    :param retry_ambiguous: resend events, purchases and increments whose request may have been
        applied (at-least-once delivery; such rows are counted as ``possible_duplicates``);
        default: the connection's ``retry_ambiguous`` extra.
    :param partition: ``(index, count)``: export only the users whose stable hash falls in this
        partition, e.g. ``.expand(partition=[(0, 4), (1, 4), (2, 4), (3, 4)])``.
    :param sync_log_conn_id: an Airflow SQL connection (your warehouse) to write each row's outcome to,
        with Census's sync-log columns; see :mod:`airflow_provider_braze.sync_log`.
    :param sync_log_table: the sync log's table (``schema.table`` allowed), created when missing.
    :param sync_log_outcomes: ``refused`` (default: the rows that did not end accepted) or ``all``.
    """

    template_fields: Sequence[str] = (
        *RowSourceOperator.template_fields,
        "pre_formatted_fields",
        "braze_conn_id",
        "rejected_records_path",
        "sync_key",
        "sync_log_conn_id",
        "sync_log_table",
        "warehouse_schema",
    )
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "records": "json", "parameters": "json"}
    ui_color = "#f7e5ff"
    operator_extra_links = (BrazeSyncRunLink(),)
    # The public dry_run argument is kept as a bool attribute, shadowing BaseOperator.dry_run(), a method
    # that only renders templates and that Airflow 3 itself never calls; mypy sees the clash of kinds.
    dry_run: bool  # type: ignore[assignment]
    #: The running export's token, which on_kill cancels (a copy of the operator gets a fresh one).
    _cancel_token: CancelToken | None = None

    def __init__(
        self,
        *,
        pre_formatted_fields: Sequence[str] | str | None = None,
        skip_on_invalid_records: bool = False,
        braze_conn_id: str = BrazeHook.default_conn_name,
        dry_run: bool = False,
        rejected_records_path: str | None = None,
        concurrency: int | None = None,
        sync_key: str | None = None,
        share_sync: bool = False,
        sync_lease_timeout: float = DEFAULT_LEASE_TIMEOUT,
        state_conn_id: str | None = None,
        allow_local_state: bool = False,
        sync_ledger: bool = True,
        warehouse_state: bool = False,
        warehouse_schema: str = "braze_sync",
        only_changed: bool = False,
        full_resync: bool = False,
        event_key_column: str | None = None,
        retry_ambiguous: bool | None = None,
        partition: Sequence[int] | str | None = None,
        sync_log_conn_id: str | None = None,
        sync_log_table: str = "braze_sync_log",
        sync_log_outcomes: str = "refused",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pre_formatted_fields = pre_formatted_fields
        self.skip_on_invalid_records = skip_on_invalid_records
        self.braze_conn_id = braze_conn_id
        self.dry_run = dry_run
        self.rejected_records_path = rejected_records_path
        self.concurrency = concurrency
        self.sync_key = sync_key
        self.share_sync = share_sync
        self.sync_lease_timeout = sync_lease_timeout
        self.state_conn_id = state_conn_id
        self.allow_local_state = allow_local_state
        self.sync_ledger = sync_ledger
        self.warehouse_state = warehouse_state
        self.warehouse_schema = warehouse_schema
        self.only_changed = only_changed
        self.full_resync = full_resync
        self.event_key_column = event_key_column
        self.retry_ambiguous = retry_ambiguous
        self.sync_log_conn_id = sync_log_conn_id
        self.sync_log_table = sync_log_table
        self.sync_log_outcomes = sync_log_outcomes
        # Checked here so that a wrong value fails at DAG parse time, not at run time.
        if sync_log_outcomes not in SYNC_LOG_OUTCOMES:
            raise BrazeExportMisconfigured(
                f"sync_log_outcomes must be one of {', '.join(SYNC_LOG_OUTCOMES)}, not {sync_log_outcomes!r}"
            )
        self.partition = partition if partition is None or isinstance(partition, str) else Partition.parse(partition)
        if not isinstance(sync_lease_timeout, (int, float)) or sync_lease_timeout < 0:
            raise BrazeExportMisconfigured(f"sync_lease_timeout must be seconds, 0 or more, not {sync_lease_timeout!r}")
        if (only_changed or full_resync) and not sync_ledger:
            raise BrazeExportMisconfigured(
                "only_changed and full_resync need the sync ledger; do not set sync_ledger=False with them."
            )

    def check_builder(self, *templated: str) -> None:
        """Make the record builder once, so that a wrong mode or option fails when the DAG is parsed.

        Subclasses call it at the end of ``__init__``.

        :param templated: attributes the builder reads that may be templates; while one is, the
            check waits for the run.
        """
        if any(is_template(getattr(self, name)) for name in (*templated, "pre_formatted_fields")):
            return
        try:
            self.record_builder()
        except ValueError as exc:
            raise BrazeExportMisconfigured(str(exc)) from None

    # --- what subclasses provide -----------------------------------------------------------------

    @abc.abstractmethod
    def record_builder(self) -> RecordBuilder:
        """The builder turning one row into one Braze object (decides the endpoint)."""

    def static_body(self) -> Mapping[str, Any] | None:
        """Fields sent with every request (none for the export modes)."""
        return None

    # --- the run ---------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        try:
            builder = self.record_builder()
        except ValueError as exc:  # rendered templates may still name no mode Braze has
            raise BrazeExportMisconfigured(str(exc)) from None
        partition = Partition.parse(self.partition) if self.partition is not None else None
        self._cancel_token = CancelToken()
        hook = BrazeHook(
            braze_conn_id=self.braze_conn_id,
            concurrency=self.concurrency,
            retry_ambiguous=self.retry_ambiguous,
            cancel_token=self._cancel_token,
        )
        endpoint = hook.endpoint(builder.endpoint)
        key = self.sync_key or f"{self.dag_id}.{self.task_id}"
        if self.warehouse_state:
            check_warehouse_options(self, _record_type(builder))
        source = None if self.warehouse_state else self.open_rows()  # warehouse mode reads its plan instead
        action = "Dry run" if self.dry_run else "Exporting"
        where = f", partition {partition}" if partition else ""
        what = source.description if source is not None else f"{self.sql_conn_id} (state in the warehouse)"
        self.log.info("%s %s to Braze %s (%s)%s", action, what, endpoint.path, hook.base_url, where)
        rejected = LazyRejectedFile(self.rejected_records_path)
        store_failure: StateStoreError | None = None
        with contextlib.closing(source) if source is not None else contextlib.nullcontext(), rejected:
            total = None if partition or source is None else source.total
            ledger = ExportLedger(endpoint.name, total=total, rejected_file=rejected, dry_run=self.dry_run)
            opening: dict[str, Any] = {
                "sync_key": key,
                "endpoint": endpoint.name,
                "record_type": _record_type(builder),
                "ledger": ledger,
                "partition": partition,
                "builder": builder,
                "cancel": self._cancel_token,
            }
            sync: Any
            if self.warehouse_state:
                sync = open_warehouse_sync(self, context, **opening)
            else:
                # The connection's retry_ambiguous extra counts as much as the argument.
                sync = open_sync(self, context, retry_ambiguous=hook.retry_policy.retry_ambiguous, **opening)
            if self.sync_log_conn_id and not self.dry_run:  # a dry run moves nothing worth logging
                ledger.sync_log = open_sync_log(
                    self.sync_log_conn_id, self.sync_log_table, self.sync_log_outcomes, sync_key=key, context=context
                )
            # A warehouse plan holds only this partition's users: its rows need no split here.
            split = None if self.warehouse_state else partition
            build = row_builder(builder, ledger, split, sync, skip_on_invalid_records=self.skip_on_invalid_records)
            items = planned_items(source if source is not None else sync, build, sync, ledger)
            try:
                self._run(items, endpoint, hook, ledger, sync)
            except StateStoreError as exc:  # reported after the summary, with what was kept where
                store_failure = exc
            if sync is not None:
                store_failure = store_failure or sync.journal.failure
        return self._finish(
            ledger,
            rejected,
            key,
            in_ledger=sync is not None,
            partition=partition,
            users_left=sync.left if isinstance(sync, WarehouseSync) else None,
            store_failure=store_failure,
            spool=sync.journal.spool if sync is not None else None,
        )

    def on_kill(self) -> None:
        """Stop the export within seconds: Airflow calls this when it kills the task.

        Airflow 3's task runner calls it from its SIGTERM handler (a run marked failed or cancelled,
        ``airflow tasks`` kill, a worker shutting down) and raises nothing itself, so the export must
        end on its own, before the supervisor's SIGKILL 5 s later: no new request leaves, batches
        waiting (for a slot, the rate limiter, a retry) end ``failed`` (never sent: they are sent again
        next run), requests in flight get a few seconds, the sync ledger records every outcome, and
        ``execute`` raises :class:`~airflow_provider_braze.braze.errors.BrazeCancelledError`.
        """
        token = self._cancel_token
        if token is None or token.cancelled:
            return
        self.log.warning(
            "Cancelling the export: no new request leaves; requests in flight get %.0f s, then the task fails "
            "with every settled outcome recorded",
            CANCEL_GRACE,
        )
        token.cancel("export cancelled (SIGTERM)")

    def _run(
        self,
        items: Iterator[Item],
        endpoint: Endpoint,
        hook: BrazeHook,
        ledger: ExportLedger,
        sync: IncrementalSync | WarehouseSync | None,
    ) -> None:
        """Send the objects, then close the sync ledger's run and the sync log as the task will end."""
        status = "failed"
        try:
            with fewer_collections():
                if self.dry_run and not isinstance(sync, WarehouseSync):  # warehouse mode refuses dry runs
                    self._count(items, endpoint, ledger, sync)
                else:
                    self._send(items, endpoint, hook, ledger, sync)
            # The ledger's run says how the task ends: failed when fail_if_incomplete will raise.
            status = (
                "success" if run_complete(ledger, skip_on_invalid_records=self.skip_on_invalid_records) else "failed"
            )
        finally:
            ledger.maybe_log_progress(force=True)
            hook.close()
            if isinstance(sync, WarehouseSync):
                sync.close_rows()
                sync.close(status)
            elif sync is not None:
                close_sync(sync, ledger, status)
            if ledger.sync_log is not None:
                close_sync_log(ledger.sync_log, succeeded=status == "success")

    def _finish(
        self,
        ledger: ExportLedger,
        rejected: LazyRejectedFile,
        key: str,
        *,
        in_ledger: bool,
        partition: Partition | None,
        store_failure: StateStoreError | None = None,
        spool: SpoolWriter | None = None,
        users_left: int | None = None,
    ) -> dict[str, Any]:
        """The run's summary, logged and counted; the task fails here when rows did not end well.

        :param key: the sync's key (``dag_id.task_id`` unless ``sync_key`` says otherwise).
        :param in_ledger: whether the run kept its rows in the sync ledger under ``key``.
        :param store_failure: the state store's failure, if it failed during the run.
        :param spool: the attempt's unrecorded spool (what the store could not record).
        :param users_left: warehouse mode: users the sync holds that the query no longer returns.
        """
        sync_key = key if in_ledger else None
        summary = ledger.summary(
            dry_run=self.dry_run,
            rejected_records_path=rejected.path if rejected.written else None,
            **({"sync_key": sync_key} if sync_key is not None else {}),
            **({"partition": str(partition)} if partition is not None else {}),
            **({"sync_log_rows": ledger.sync_log.written} if ledger.sync_log is not None else {}),
            **({"unrecorded_spool": str(spool.path)} if spool is not None and spool.path is not None else {}),
            **({"users_left": users_left} if users_left is not None else {}),
        )
        self.log.info("Summary: %s", summary)
        emit_export_summary(summary, key)
        fail_if_store_failed(store_failure, spool, key)
        warn_unsettled(ledger, sync_key)
        fail_if_incomplete(ledger, sync_key, skip_on_invalid_records=self.skip_on_invalid_records)
        return summary

    def _count(
        self, items: Iterator[Item], endpoint: Endpoint, ledger: ExportLedger, sync: IncrementalSync | None
    ) -> None:
        """A dry run: batch and count the objects, send nothing."""
        for batch in Batcher(endpoint, self.static_body()).batches(items):
            ledger.dry_run_batch(batch.all_items())
            if sync is not None:
                sync.release(batch.all_items())

    def _send(
        self, items: Iterator[Item], endpoint: Endpoint, hook: BrazeHook, ledger: ExportLedger, sync: Any
    ) -> None:
        """Send the objects, recording each request's outcome as it comes."""
        for result in hook.send(
            endpoint,
            items,
            static_body=self.static_body(),
            on_wait=ledger.maybe_log_progress,  # progress lines keep coming while Braze makes us wait (429s)
            journal=sync.journal if sync is not None else None,
        ):
            ledger.record(result)

    # --- lineage -----------------------------------------------------------------------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for OpenLineage: the source read and the Braze workspace written."""
        from airflow_provider_braze.operators.lineage import export_lineage

        return export_lineage(self)


def _record_type(builder: RecordBuilder) -> str | None:
    """``attributes``, ``events`` or ``purchases`` for /users/track builders; ``None`` otherwise."""
    return getattr(builder, "key", None) if builder.endpoint == "users/track" else None
