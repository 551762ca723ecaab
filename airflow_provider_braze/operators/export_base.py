"""The behaviour every warehouse-to-Braze export operator shares.

An export streams: source rows -> record builder -> [partition] -> [sync ledger] -> batcher -> sender
-> outcome ledger -> summary. Subclasses only say which record builder to use (and so which
endpoint); everything else is here. Attribute, event and purchase exports consult the durable sync
ledger (:mod:`airflow_provider_braze.incremental`) to send only what is not done yet.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.braze.batching import Batcher
from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.braze.items import InvalidRecord, Item
from airflow_provider_braze.gc_pacing import fewer_collections
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.hooks.state import sync_ledger_store
from airflow_provider_braze.incremental import IncrementalSync
from airflow_provider_braze.incremental.partitions import Partition
from airflow_provider_braze.incremental.planner import Build, Stop
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.metrics import emit_export_summary
from airflow_provider_braze.operators.export_reporting import close_sync_log, open_sync_log
from airflow_provider_braze.operators.rejected_file import LazyRejectedFile
from airflow_provider_braze.sources import open_source
from airflow_provider_braze.sources.columns import ColumnFilter, filter_columns
from airflow_provider_braze.sync_log import SYNC_LOG_OUTCOMES
from airflow_provider_braze.ui.links import BrazeSyncRunLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_braze.braze.endpoints import Endpoint
    from airflow_provider_braze.records import RecordBuilder
    from airflow_provider_braze.sources.base import RowSource

log = logging.getLogger(__name__)


class BrazeExportMisconfigured(AirflowFailException, ValueError):
    """The operator's arguments cannot make an export (no source, two sources, an unknown mode ...).

    Raised when the DAG is parsed where the arguments are known then, else when the task runs; a
    failure, not an error to retry: a retry would fail the same way.
    """


def is_template(value: Any) -> bool:
    """Whether an argument is Jinja still to be rendered (its value is known only when the task runs)."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class BrazeExportFailed(AirflowFailException, BrazeError):
    """An export finished without every row accepted while ``skip_on_invalid_records`` was off.

    A failure, not an error to retry: the same rows would fail again, and a retry would resend
    the events and purchases that were accepted.
    """


class BrazeExportBaseOperator(BaseOperator):
    """Export rows from a SQL query, a file or a list to a Braze endpoint.

    Give exactly one source: ``sql`` with ``sql_conn_id``, ``records``, or ``path``.

    :param sql: a query (or a ``.sql`` file, templated) run on ``sql_conn_id``; rows are streamed.
    :param sql_conn_id: any Airflow SQL connection (SQLite, PostgreSQL, Snowflake, BigQuery ...).
    :param parameters: bind parameters for ``sql``.
    :param records: a list of dicts (or its JSON text), e.g. pulled from XCom.
    :param path: a CSV or JSON Lines file, local or on Airflow object storage (``s3://`` ...).
    :param file_format: ``csv`` or ``jsonl`` when the extension does not say.
    :param csv_options: for a CSV ``path``: ``delimiter``, ``quotechar``, ``escapechar``,
        ``fieldnames`` (a file without a header) and the other ``csv.reader`` options.
    :param encoding: the text encoding of ``path`` (``latin-1``, ``cp1252`` ...); default UTF-8.
        A byte that is not text in it refuses its row, naming line and byte.
    :param columns: read only these source columns (identifiers included), e.g. to export a
        ``SELECT *`` safely. A column whose name looks like a secret (``password_hash``,
        ``api_token`` ...) is left out with a warning unless named here.
    :param exclude_columns: never read these source columns.
    :param pre_formatted_fields: columns holding JSON text to send as arrays or objects.
    :param skip_on_invalid_records: ``True``: report and skip invalid rows and rows Braze refuses,
        and succeed; ``False``: stop at the first invalid row and fail (rows read before it are
        still sent), or fail at the end when Braze refused rows.
    :param braze_conn_id: the Braze connection.
    :param dry_run: build and validate everything, count requests and data points, send nothing.
    :param rejected_records_path: where to write every skipped or refused row with its reason, as
        JSON Lines (local or object storage); created only when a row is at fault.
    :param concurrency: requests in flight (default: the connection's ``concurrency`` extra).
    :param fetch_size: rows fetched from the database per round trip.
    :param count_rows: run a ``COUNT(*)`` of the query first, to log progress with an ETA.
    :param sync_key: the sync's stable name in the sync ledger (default ``dag_id.task_id``); runs
        with the same key share what Braze has accepted. Attribute, event and purchase exports only.
    :param state_conn_id: an Airflow connection to the state store holding the sync ledger (e.g.
        PostgreSQL, for many workers); default: the SQLite file under ``AIRFLOW_HOME``.
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
        "sql",
        "sql_conn_id",
        "parameters",
        "records",
        "path",
        "pre_formatted_fields",
        "braze_conn_id",
        "rejected_records_path",
        "sync_key",
        "sync_log_conn_id",
        "sync_log_table",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "records": "json", "parameters": "json"}
    ui_color = "#f7e5ff"
    operator_extra_links = (BrazeSyncRunLink(),)
    # The public dry_run argument is kept as a bool attribute, shadowing BaseOperator.dry_run(), a method
    # that only renders templates and that Airflow 3 itself never calls; mypy sees the clash of kinds.
    dry_run: bool  # type: ignore[assignment]

    def __init__(
        self,
        *,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        records: Sequence[Mapping[str, Any]] | str | None = None,
        path: str | None = None,
        file_format: str | None = None,
        csv_options: Mapping[str, Any] | None = None,
        encoding: str | None = None,
        columns: Sequence[str] | str | None = None,
        exclude_columns: Sequence[str] | str | None = None,
        pre_formatted_fields: Sequence[str] | str | None = None,
        skip_on_invalid_records: bool = False,
        braze_conn_id: str = BrazeHook.default_conn_name,
        dry_run: bool = False,
        rejected_records_path: str | None = None,
        concurrency: int | None = None,
        fetch_size: int = 5_000,
        count_rows: bool = False,
        sync_key: str | None = None,
        state_conn_id: str | None = None,
        sync_ledger: bool = True,
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
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.parameters = parameters
        self.records = records
        self.path = path
        self.file_format = file_format
        self.csv_options = csv_options
        self.encoding = encoding
        self.columns = columns
        self.exclude_columns = exclude_columns
        self.pre_formatted_fields = pre_formatted_fields
        self.skip_on_invalid_records = skip_on_invalid_records
        self.braze_conn_id = braze_conn_id
        self.dry_run = dry_run
        self.rejected_records_path = rejected_records_path
        self.concurrency = concurrency
        self.fetch_size = fetch_size
        self.count_rows = count_rows
        self.sync_key = sync_key
        self.state_conn_id = state_conn_id
        self.sync_ledger = sync_ledger
        self.only_changed = only_changed
        self.full_resync = full_resync
        self.event_key_column = event_key_column
        self.retry_ambiguous = retry_ambiguous
        self.sync_log_conn_id = sync_log_conn_id
        self.sync_log_table = sync_log_table
        self.sync_log_outcomes = sync_log_outcomes
        if sync_log_outcomes not in SYNC_LOG_OUTCOMES:
            raise BrazeExportMisconfigured(
                f"sync_log_outcomes must be one of {', '.join(SYNC_LOG_OUTCOMES)}, not {sync_log_outcomes!r}"
            )
        # Checked here so that a wrong value fails at DAG parse time, not at run time.
        self.partition = partition if partition is None or isinstance(partition, str) else Partition.parse(partition)
        if (only_changed or full_resync) and not sync_ledger:
            raise BrazeExportMisconfigured(
                "only_changed and full_resync need the sync ledger; do not set sync_ledger=False with them."
            )
        try:
            ColumnFilter(columns, exclude_columns)
        except ValueError as exc:
            raise BrazeExportMisconfigured(str(exc)) from None
        given = [name for name, value in (("sql", sql), ("records", records), ("path", path)) if value is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none of them"
            raise BrazeExportMisconfigured(f"give exactly one of sql (with sql_conn_id), records or path; got {got}")

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
        hook = BrazeHook(
            braze_conn_id=self.braze_conn_id, concurrency=self.concurrency, retry_ambiguous=self.retry_ambiguous
        )
        endpoint = hook.endpoint(builder.endpoint)
        record_type = self._record_type(builder)
        source = self._open_source()
        mode = "Dry run" if self.dry_run else "Exporting"
        where = f", partition {partition}" if partition else ""
        self.log.info("%s %s to Braze %s (%s)%s", mode, source.description, endpoint.path, hook.base_url, where)
        rejected = LazyRejectedFile(self.rejected_records_path)
        with contextlib.closing(source), rejected:
            ledger = ExportLedger(
                endpoint.name, total=None if partition else source.total, rejected_file=rejected, dry_run=self.dry_run
            )
            # The connection's retry_ambiguous extra counts as much as the argument.
            resend = hook.retry_policy.retry_ambiguous
            sync = self._open_sync(context, endpoint.name, record_type, ledger, partition, resend, builder)
            key = self.sync_key or f"{self.dag_id}.{self.task_id}"
            if self.sync_log_conn_id and not self.dry_run:  # a dry run moves nothing worth logging
                ledger.sync_log = open_sync_log(
                    self.sync_log_conn_id, self.sync_log_table, self.sync_log_outcomes, sync_key=key, context=context
                )
            build = self._row_builder(builder, ledger, partition, sync)
            items: Iterator[Item]
            if sync is not None and sync.attributes:
                items = sync.plan_rows(source, build)  # unchanged rows are settled before they are built
            elif sync is not None:
                items = sync.plan(self._items(source, build))
            else:
                items = self._items(source, build)
            items = self._counted(items, ledger)
            status = "failed"
            try:
                with fewer_collections():
                    self._stream(items, endpoint, hook, ledger, sync)
                # The ledger's run says how the task ends: failed when _fail_if_incomplete will raise.
                status = "success" if self._complete(ledger) else "failed"
            finally:
                ledger.maybe_log_progress(force=True)
                hook.close()
                if sync is not None:
                    self._close_sync(sync, ledger, status)
                if ledger.sync_log is not None:
                    close_sync_log(ledger.sync_log, succeeded=status == "success")
        summary = ledger.summary(
            dry_run=self.dry_run,
            rejected_records_path=rejected.path if rejected.written else None,
            **self._sync_summary(sync, partition),
            **({"sync_log_rows": ledger.sync_log.written} if ledger.sync_log is not None else {}),
        )
        self.log.info("Summary: %s", summary)
        emit_export_summary(summary, key)
        self._warn_unsettled(ledger, sync)
        self._fail_if_incomplete(ledger, sync)
        return summary

    def _stream(
        self,
        items: Iterator[Item],
        endpoint: Endpoint,
        hook: BrazeHook,
        ledger: ExportLedger,
        sync: IncrementalSync | None,
    ) -> None:
        """Send the objects (or, for a dry run, batch and count them)."""
        if self.dry_run:
            for batch in Batcher(endpoint, self.static_body()).batches(items):
                ledger.dry_run_batch(batch.all_items())
                if sync is not None:
                    sync.release(batch.all_items())
            return
        for result in hook.send(
            endpoint,
            items,
            static_body=self.static_body(),
            on_wait=ledger.maybe_log_progress,  # progress lines keep coming while Braze makes us wait (429s)
            journal=sync.journal if sync is not None else None,
        ):
            ledger.record(result)

    def _items(self, source: RowSource, build: Build) -> Iterator[Item]:
        """The objects built from the source's rows (rows the builder drops are reported by ``build``)."""
        for ref, data, problem in source:
            built = build(ref, data, problem)
            if built is Stop.STOP:
                return
            if built is not None:
                yield built

    def _row_builder(
        self,
        builder: RecordBuilder,
        ledger: ExportLedger,
        partition: Partition | None,
        sync: IncrementalSync | None,
    ) -> Build:
        """Builds one source row: its object; ``None`` for a row skipped as invalid or of another partition;
        :attr:`Stop.STOP` for an invalid row while ``skip_on_invalid_records`` is off."""
        skip = self.skip_on_invalid_records
        read, make = ledger.read, builder.build

        def build(ref: int, data: Mapping[str, Any], problem: str | None) -> Item | Stop | None:
            built = make(data, ref) if problem is None else InvalidRecord(ref, None, problem, data)
            if partition is not None and not partition.holds(built):
                return None
            read()
            if not isinstance(built, InvalidRecord):
                return built
            ledger.skip(built)
            if sync is not None:
                sync.journal.invalid(built)
            # Without skipping, reading stops: what was built before this row is still sent, then the task fails.
            return None if skip else Stop.STOP

        return build

    @staticmethod
    def _counted(items: Iterator[Item], ledger: ExportLedger) -> Iterator[Item]:
        for item in items:
            ledger.sent(item)
            yield item

    # --- the sync ledger -------------------------------------------------------------------------

    @staticmethod
    def _record_type(builder: RecordBuilder) -> str | None:
        """``attributes``, ``events`` or ``purchases`` for /users/track builders; ``None`` otherwise."""
        return getattr(builder, "key", None) if builder.endpoint == "users/track" else None

    def _open_source(self) -> RowSource:
        """The source the rendered arguments name; arguments it cannot use fail the task without retries."""
        try:
            source = open_source(
                sql=self.sql,
                sql_conn_id=self.sql_conn_id,
                parameters=self.parameters,
                records=self.records,
                path=self.path,
                file_format=self.file_format,
                csv_options=self.csv_options,
                encoding=self.encoding,
                fetch_size=self.fetch_size,
                count_rows=self.count_rows,
            )
            return filter_columns(source, self.columns, self.exclude_columns)
        except ValueError as exc:
            # open_source raises ValueError only for arguments it cannot use (no source, an unknown
            # file format, an unreadable header): a retry would fail the same way.
            raise BrazeExportMisconfigured(str(exc)) from None

    def _open_sync(
        self,
        context: Context,
        endpoint: str,
        record_type: str | None,
        ledger: ExportLedger,
        partition: Partition | None,
        retry_ambiguous: bool,
        builder: RecordBuilder,
    ) -> IncrementalSync | None:
        self._check_sync_options(record_type)
        if record_type is None or not self.sync_ledger:
            return None
        store = sync_ledger_store(self.state_conn_id)
        key = self.sync_key or f"{self.dag_id}.{self.task_id}"
        if self.state_conn_id is None:
            self.log.info(
                "Sync ledger %r in the embedded SQLite state store under AIRFLOW_HOME: it serves one machine; "
                "workers on several machines or in throwaway pods need state_conn_id (PostgreSQL, say).",
                key,
            )
        if self.dry_run:
            run = store.peek_run(key)
        else:
            ti = context.get("ti")
            run_id = context.get("run_id") or str(uuid.uuid4())
            map_index = getattr(ti, "map_index", -1) if ti is not None else -1
            try:
                run = store.open_run(
                    key,
                    endpoint=endpoint,
                    mode=record_type,
                    run_id=str(run_id),
                    map_index=-1 if map_index is None else int(map_index),
                    partition=str(partition) if partition else None,
                )
            except ValueError as exc:  # a sync_key used by another kind of export: retrying cannot help
                raise AirflowFailException(str(exc)) from None
            if run.attempt > 1:
                self.log.info("Attempt %d of this run: rows an earlier attempt had accepted are skipped.", run.attempt)
        self._sync_key = key
        return IncrementalSync(
            store,
            run,
            record_type=record_type,
            report=ledger,
            only_changed=self.only_changed,
            full_resync=self.full_resync,
            retry_ambiguous=retry_ambiguous,
            key_column=self.event_key_column,
            record=not self.dry_run,
            stop_on_invalid=not self.skip_on_invalid_records,
            builder_settings=_settings(builder),
            partition=str(partition) if partition else None,
        )

    def _check_sync_options(self, record_type: str | None) -> None:
        if (self.only_changed or self.full_resync) and record_type != "attributes":
            raise AirflowFailException("only_changed and full_resync apply to attribute exports only.")
        if self.event_key_column and record_type not in ("events", "purchases"):
            raise AirflowFailException("event_key_column applies to event and purchase exports only.")

    def _close_sync(self, sync: IncrementalSync, ledger: ExportLedger, status: str) -> None:
        try:
            try:
                sync.journal.flush_problems()
            finally:
                run = sync.journal.run  # set when the journal writes (sync.journal.writes)
                if run is not None:
                    sync.store.finish_run(run, status, ledger.summary())
        finally:
            sync.store.dispose()  # the pooled connections and the SQLite memory map

    def _sync_summary(self, sync: IncrementalSync | None, partition: Partition | None) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if sync is not None:
            extra["sync_key"] = self._sync_key
        if partition is not None:
            extra["partition"] = str(partition)
        return extra

    def _warn_unsettled(self, ledger: ExportLedger, sync: IncrementalSync | None) -> None:
        if ledger.unsettled and sync is not None:
            self.log.warning(
                "%s rows were not sent because an earlier attempt sent them and got no clear answer: Braze may hold "
                "them. Check in Braze, then settle them with `braze-sync-ledger settle %s --delivered` (they arrived) "
                "or `--not-delivered` (the next run sends them), or pass retry_ambiguous=True to resend them.",
                f"{ledger.unsettled:,}",
                self._sync_key,
            )

    def _complete(self, ledger: ExportLedger) -> bool:
        """Whether the run ends well: no row of unknown outcome, and no row at fault unless skipping them."""
        return not ledger.unknown and (self.skip_on_invalid_records or ledger.first_problem is None)

    def _fail_if_incomplete(self, ledger: ExportLedger, sync: IncrementalSync | None) -> None:
        if ledger.unknown:
            settle = (
                f" Later attempts and runs hold them back; once you have checked Braze, settle them with "
                f"`braze-sync-ledger settle {self._sync_key} --delivered` (or --not-delivered to send them again)."
                if sync is not None
                else ""
            )
            raise BrazeExportFailed(
                f"{ledger.unknown:,} rows were sent without a clear answer (connection lost, timeout, 502 or 504), "
                "so Braze may or may not have applied them; they were not resent because events, purchases and "
                "increments would count twice. They are listed in the rejected-records file with stage 'unknown'."
                f"{settle} Pass retry_ambiguous=True to resend such requests instead (at-least-once)."
            )
        if self.skip_on_invalid_records or ledger.first_problem is None:
            return
        problem = ledger.first_problem
        if problem.stage == "validation":
            raise BrazeExportFailed(
                f"Stopped at {problem}. {ledger.accepted:,} rows read before it were sent and accepted. "
                "Fix the row, or set skip_on_invalid_records=True to skip invalid rows and continue."
            )
        raise BrazeExportFailed(
            f"Braze refused {ledger.rejected:,} of {ledger.rows_sent:,} rows; the first: {problem}. The other rows "
            "were accepted. Set skip_on_invalid_records=True to report refused rows without failing."
        )

    # --- lineage -----------------------------------------------------------------------------

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage for OpenLineage: the source read and the Braze workspace written."""
        from airflow_provider_braze.operators.lineage import export_lineage

        return export_lineage(self)


def _settings(builder: RecordBuilder) -> str | None:
    """The builder's settings for the sync ledger's source digests; ``None`` for a builder that cannot tell them."""
    settings = getattr(builder, "settings", None)
    return settings() if callable(settings) else None
