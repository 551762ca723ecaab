"""The source arguments of the export operators: exactly one of a SQL query, a file or a list of rows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.sources import open_source
from airflow_provider_braze.sources.columns import ColumnFilter, filter_columns

if TYPE_CHECKING:
    from airflow_provider_braze.sources.base import RowSource


class BrazeExportMisconfigured(AirflowFailException, ValueError):
    """The operator's arguments cannot make an export (no source, two sources, an unknown mode ...).

    Raised when the DAG is parsed where the arguments are known then, else when the task runs; a
    failure, not an error to retry: a retry would fail the same way.
    """


class RowSourceOperator(BaseOperator):
    """An operator that reads rows from one source: ``sql`` with ``sql_conn_id``, ``records``, or ``path``.

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
    :param fetch_size: rows fetched from the database per round trip.
    :param count_rows: run a ``COUNT(*)`` of the query first, to log progress with an ETA.
    """

    template_fields: Sequence[str] = ("sql", "sql_conn_id", "parameters", "records", "path")
    template_ext: Sequence[str] = (".sql",)

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
        self.csv_options = csv_options
        self.encoding = encoding
        self.columns = columns
        self.exclude_columns = exclude_columns
        self.fetch_size = fetch_size
        self.count_rows = count_rows
        # Checked here so that a wrong argument fails when the DAG is parsed, not when the task runs.
        try:
            ColumnFilter(columns, exclude_columns)
        except ValueError as exc:
            raise BrazeExportMisconfigured(str(exc)) from None
        given = [name for name, value in (("sql", sql), ("records", records), ("path", path)) if value is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none of them"
            raise BrazeExportMisconfigured(f"give exactly one of sql (with sql_conn_id), records or path; got {got}")

    def open_rows(self) -> RowSource:
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
