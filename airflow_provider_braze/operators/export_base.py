"""The behaviour every warehouse-to-Braze export operator shares.

An export streams: source rows -> record builder -> batcher -> sender -> outcome ledger -> summary.
Subclasses only say which record builder to use (and so which endpoint); everything else is here.
"""

from __future__ import annotations

import abc
import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.braze.batching import Batcher
from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.braze.items import Item, Rejection
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.operators.rejected_file import LazyRejectedFile
from airflow_provider_braze.sources import open_source

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_braze.records import RecordBuilder
    from airflow_provider_braze.sources.base import RowSource

log = logging.getLogger(__name__)


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
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql", "records": "json", "parameters": "json"}
    ui_color = "#f7e5ff"

    def __init__(
        self,
        *,
        sql: str | None = None,
        sql_conn_id: str | None = None,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        records: Sequence[Mapping[str, Any]] | str | None = None,
        path: str | None = None,
        file_format: str | None = None,
        pre_formatted_fields: Sequence[str] | str | None = None,
        skip_on_invalid_records: bool = False,
        braze_conn_id: str = BrazeHook.default_conn_name,
        dry_run: bool = False,
        rejected_records_path: str | None = None,
        concurrency: int | None = None,
        fetch_size: int = 5_000,
        count_rows: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.sql = sql
        self.sql_conn_id = sql_conn_id
        self.parameters = parameters
        self.records = records
        self.path = path
        self.file_format = file_format
        self.pre_formatted_fields = pre_formatted_fields
        self.skip_on_invalid_records = skip_on_invalid_records
        self.braze_conn_id = braze_conn_id
        self.dry_run = dry_run
        self.rejected_records_path = rejected_records_path
        self.concurrency = concurrency
        self.fetch_size = fetch_size
        self.count_rows = count_rows

    # --- what subclasses provide -----------------------------------------------------------------

    @abc.abstractmethod
    def record_builder(self) -> RecordBuilder:
        """The builder turning one row into one Braze object (decides the endpoint)."""

    def static_body(self) -> Mapping[str, Any] | None:
        """Fields sent with every request (none for the export modes)."""
        return None

    # --- the run ---------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        builder = self.record_builder()
        hook = BrazeHook(braze_conn_id=self.braze_conn_id, concurrency=self.concurrency)
        endpoint = hook.endpoint(builder.endpoint)
        source = open_source(
            sql=self.sql,
            sql_conn_id=self.sql_conn_id,
            parameters=self.parameters,
            records=self.records,
            path=self.path,
            file_format=self.file_format,
            fetch_size=self.fetch_size,
            count_rows=self.count_rows,
        )
        mode = "Dry run" if self.dry_run else "Exporting"
        self.log.info("%s %s to Braze %s (%s)", mode, source.description, endpoint.path, hook.base_url)
        rejected = LazyRejectedFile(self.rejected_records_path)
        with contextlib.closing(source), rejected:
            ledger = ExportLedger(endpoint.name, total=source.total, rejected_file=rejected)
            items = self._items(source, builder, ledger)
            try:
                if self.dry_run:
                    for batch in Batcher(endpoint, self.static_body()).batches(items):
                        ledger.dry_run_batch(batch.all_items())
                else:
                    # The heartbeat keeps progress lines coming while Braze makes us wait (429s).
                    heartbeat = ledger.maybe_log_progress
                    for result in hook.send(endpoint, items, static_body=self.static_body(), heartbeat=heartbeat):
                        ledger.record(result)
            finally:
                ledger.maybe_log_progress(force=True)
                hook.close()
        summary = ledger.summary(
            dry_run=self.dry_run,
            rejected_records_path=rejected.path if rejected.written else None,
        )
        self.log.info("Summary: %s", summary)
        self._fail_if_incomplete(ledger)
        return summary

    def _items(self, source: RowSource, builder: RecordBuilder, ledger: ExportLedger) -> Iterator[Item]:
        skip = self.skip_on_invalid_records
        for ref, data, problem in source:
            ledger.read()
            if problem is not None:
                built: Item | Rejection = Rejection(ref, None, problem, data)
            else:
                built = builder.build(data, ref)
            if isinstance(built, Rejection):
                ledger.skip(built)
                if not skip:
                    # Stop reading: what was built before this row is still sent, then the task fails.
                    return
                continue
            ledger.sent(built)
            yield built

    def _fail_if_incomplete(self, ledger: ExportLedger) -> None:
        if ledger.unknown:
            raise BrazeExportFailed(
                f"{ledger.unknown:,} rows timed out after they were sent, so Braze may or may not have applied "
                "them; they were not resent because events, purchases and increments would count twice. They are "
                "listed in the rejected-records file; set the connection's retry_ambiguous extra to resend such "
                "requests instead."
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
