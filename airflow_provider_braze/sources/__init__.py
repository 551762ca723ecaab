"""Source rows for export operators: a SQL query, a CSV or JSON Lines file, or a list of records.

The first stage of an export. Every source is a one-pass stream of ``(ref, data, problem)``
tuples (:data:`SourceRow`) that never holds more than one fetch batch or one file buffer, so
memory stays flat however many rows there are::

    with open_source(sql="SELECT * FROM users", sql_conn_id="warehouse") as source:
        for ref, row, problem in source:
            result = InvalidRecord(ref, None, problem, row) if problem else builder.build(row, ref)

- ``sql`` + ``sql_conn_id``: :class:`SqlSource`, any Airflow SQL connection, with a server-side or
  unbuffered cursor where the driver would otherwise buffer the whole result;
- ``path``: :class:`CsvSource` or :class:`JsonLinesSource`, local or object storage, ``.gz`` too;
- ``records``: :class:`RecordsSource`, a list of mappings (or its JSON text, as templates render it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_braze.sources.base import EXTRA_FIELDS, RAW_LINE, BaseSource, RowSource, SourceRow
from airflow_provider_braze.sources.files import (
    CSV_OPTIONS,
    FILE_FORMATS,
    CsvSource,
    JsonLinesSource,
    describe_path,
    file_format_of,
)
from airflow_provider_braze.sources.records import RecordsSource, as_records
from airflow_provider_braze.sources.sql import SqlSource

__all__ = [
    "CSV_OPTIONS",
    "EXTRA_FIELDS",
    "FILE_FORMATS",
    "RAW_LINE",
    "BaseSource",
    "CsvSource",
    "JsonLinesSource",
    "RecordsSource",
    "RowSource",
    "SourceRow",
    "SqlSource",
    "as_records",
    "open_source",
]


def open_source(
    *,
    sql: str | None = None,
    sql_conn_id: str | None = None,
    parameters: Mapping[str, Any] | Sequence[Any] | None = None,
    records: Sequence[Mapping[str, Any]] | str | None = None,
    path: Any = None,
    file_format: str | None = None,
    fetch_size: int = 5_000,
    count_rows: bool = False,
    csv_options: Mapping[str, Any] | None = None,
    encoding: str | None = None,
) -> RowSource:
    """Open the one source an export operator was given, checking the arguments first.

    The source is opened at once (connection, query, file, header), so misconfiguration fails
    here, before anything is sent. Close it, or use it as a context manager; it also closes itself
    when its rows run out.

    :param sql: a query returning the rows to export; needs ``sql_conn_id``.
    :param sql_conn_id: the Airflow connection to run ``sql`` on (any ``DbApiHook`` connection).
    :param parameters: values for the query's placeholders, in the driver's paramstyle.
    :param records: a list of mappings, or its JSON text (as a rendered template gives it).
    :param path: a CSV or JSON Lines file: a local path, a URL Airflow object storage knows
        (``s3://``, ``gs://``, ``file://`` ...; ``s3://conn_id@bucket/key`` picks the connection)
        or an ``ObjectStoragePath``.
    :param file_format: ``csv``, ``tsv``, ``jsonl``, ``ndjson`` or ``json`` (JSON Lines), optionally
        with ``.gz``; by default from the extension (``.csv``, ``.tsv``, ``.jsonl``, ``.ndjson``,
        ``.json``, each optionally ``.gz``).
    :param fetch_size: rows per fetch from the database.
    :param count_rows: count the query's rows first, so :attr:`RowSource.total` is known (for ETA).
    :param csv_options: for CSV files: ``csv.reader`` parameters (``delimiter``, ``quotechar`` ...),
        ``fieldnames`` for a file without a header, ``encoding``.
    :param encoding: a file's text encoding (``latin-1``, ``cp1252`` ...); default UTF-8.
    :raises ValueError: when the arguments do not name exactly one usable source.
    """
    given = [name for name, value in (("sql", sql), ("records", records), ("path", path)) if value is not None]
    if len(given) != 1:
        got = " and ".join(given) if given else "none of them"
        raise ValueError(f"give exactly one of sql (with sql_conn_id), records or path; got {got}")
    if not isinstance(fetch_size, int) or isinstance(fetch_size, bool) or fetch_size < 1:
        raise ValueError(f"fetch_size must be a positive integer, got {fetch_size!r}")
    source = given[0]
    _only_with("sql", source, sql_conn_id=sql_conn_id, parameters=parameters)
    _only_with("path", source, file_format=file_format, csv_options=csv_options, encoding=encoding)

    if source == "sql":
        return _open_sql(sql, sql_conn_id, parameters, fetch_size=fetch_size, count_rows=count_rows)
    if source == "records":
        # source == "records" means records was given (not None), which the checks above established.
        return RecordsSource(records)  # type: ignore[arg-type]
    return _open_file(path, file_format, csv_options, encoding)


def _open_sql(
    sql: str | None,
    sql_conn_id: str | None,
    parameters: Mapping[str, Any] | Sequence[Any] | None,
    *,
    fetch_size: int,
    count_rows: bool,
) -> SqlSource:
    if not isinstance(sql, str) or not sql.strip():
        raise ValueError("sql is empty; give the query whose rows to export")
    if not sql_conn_id:
        raise ValueError("sql needs sql_conn_id, the Airflow connection to run the query on")
    return SqlSource(
        sql_conn_id=sql_conn_id, sql=sql, parameters=parameters, fetch_size=fetch_size, count_rows=count_rows
    )


def _open_file(
    path: Any, file_format: str | None, csv_options: Mapping[str, Any] | None, encoding: str | None
) -> CsvSource | JsonLinesSource:
    """Pick the reader for ``path`` by ``file_format`` or its extension, and open it."""
    if not str(path).strip():
        raise ValueError("path is empty; give the CSV or JSON Lines file to export")
    kind, gzipped = file_format_of(str(path), file_format)
    if kind in ("csv", "tsv"):
        return CsvSource(
            path, gzipped=gzipped, csv_options=csv_options, delimiter="\t" if kind == "tsv" else ",", encoding=encoding
        )
    if csv_options:
        raise ValueError(f"csv_options apply to CSV files only; {describe_path(str(path))} is read as JSON Lines")
    return JsonLinesSource(path, gzipped=gzipped, encoding=encoding)


def _only_with(owner: str, source: str, **arguments: Any) -> None:
    if source == owner:
        return
    extra = [name for name, value in arguments.items() if value is not None]
    if extra:
        raise ValueError(f"{' and '.join(extra)} {'is' if len(extra) == 1 else 'are'} only used with {owner}")
