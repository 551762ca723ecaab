"""Rows of a SQL query on any Airflow SQL connection, fetched in batches so memory stays flat.

How each driver is made to stream (the default DB-API cursor of some drivers reads the whole
result into client memory on ``execute``):

- PostgreSQL (psycopg 3 and psycopg2, hence also Redshift, Greenplum and others reached through a
  ``postgres`` connection): a named, server-side cursor (``DECLARE ... CURSOR``); each
  ``fetchmany`` is one ``FETCH FORWARD n``. It needs a transaction, so on an autocommit
  connection the cursor is declared ``WITH HOLD``.
- MySQL / MariaDB: ``SSCursor`` (unbuffered) for mysqlclient (``MySQLdb``) and PyMySQL, and
  ``cursor(buffered=False)`` for mysql-connector. An unbuffered cursor that is abandoned midway
  would be drained on ``cursor.close()``, so then only the connection is closed.
- Every other driver gets its default cursor with ``arraysize`` set to ``fetch_size``. sqlite3
  steps through the result as rows are fetched; Oracle (oracledb), SQL Server (pyodbc, pymssql),
  Trino, Snowflake and BigQuery fetch in pages or chunks. ``redshift_connector`` (the ``redshift``
  connection type) reads the whole result on ``execute``: use a ``postgres`` connection to
  Redshift, or unload to object storage and export the files, for large results.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from airflow_provider_braze.sources.base import BaseSource, SourceRow, close_quietly, repeated_columns

log = logging.getLogger(__name__)

#: How much of the query the description shows.
DESCRIPTION_SQL_CHARS = 80


class SqlSource(BaseSource):
    """The rows of one query, streamed from an Airflow SQL connection.

    The connection is opened, the rows counted (when asked) and the query run when the source is
    created, so a wrong connection or a broken query fails before anything is sent to Braze.

    :param sql_conn_id: an Airflow connection whose hook is a ``DbApiHook`` (postgres, sqlite,
        mysql, snowflake, ...).
    :param sql: one query returning rows (a trailing ``;`` is ignored).
    :param parameters: bound to the query's placeholders, in the driver's paramstyle.
    :param fetch_size: rows per ``fetchmany``.
    :param count_rows: first run ``SELECT COUNT(*) FROM (<sql>) braze_src`` to know :attr:`total`.

    :ivar columns: the column names, from ``cursor.description``.
    :ivar cursor_kind: how the rows stream ("server-side cursor", "unbuffered cursor", "cursor").
    """

    def __init__(
        self,
        *,
        sql_conn_id: str,
        sql: str,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        fetch_size: int = 5_000,
        count_rows: bool = False,
    ) -> None:
        super().__init__()
        self.sql = strip_sql(sql)
        self.parameters = parameters
        self.fetch_size = fetch_size
        self.description = f"{sql_conn_id}: {_shorten(self.sql)}"
        self.total = None
        self.columns: tuple[str, ...] = ()
        self._conn: Any = None
        self._cursor: Any = None
        self._unbuffered = False
        self._exhausted = False
        self._first_batch: list[Any] = []
        try:
            self._conn = _dbapi_hook(sql_conn_id).get_conn()
            if count_rows:
                self.total = self._count()
            self._cursor, self.cursor_kind = _streaming_cursor(self._conn, fetch_size)
            self._unbuffered = self.cursor_kind == "unbuffered cursor"
            self._execute(self._cursor, self.sql)
            # psycopg2's named cursors describe the result only after the first fetch.
            self._first_batch = self._cursor.fetchmany(fetch_size)
            self.columns = _column_names(self._cursor.description, self.description)
        except BaseException:
            self.close()
            raise
        log.info(
            "Reading %s with a %s, %d rows per fetch%s",
            self.description,
            self.cursor_kind,
            fetch_size,
            "" if self.total is None else f", {self.total} rows",
        )

    def _execute(self, cursor: Any, sql: str) -> None:
        if self.parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, self.parameters)

    def _count(self) -> int:
        cursor = self._conn.cursor()
        try:
            # No AS before the alias: Oracle refuses it, and every other dialect accepts its absence.
            # The newlines keep a trailing -- comment in the query from swallowing the parenthesis.
            # The query is the DAG author's own sql argument, run as given: nothing here comes from data.
            self._execute(cursor, f"SELECT COUNT(*) FROM (\n{self.sql}\n) braze_src")  # noqa: S608
            (count,) = cursor.fetchone()
        finally:
            close_quietly(cursor, "count cursor")
        return int(count)

    def _rows(self) -> Iterator[SourceRow]:
        columns = self.columns
        fetchmany = self._cursor.fetchmany
        size = self.fetch_size
        batch, self._first_batch = self._first_batch, []
        ref = 0
        try:
            while batch:
                if isinstance(batch[0], Mapping):  # a dict row factory set on the connection
                    for row in batch:
                        ref += 1
                        yield (ref, row, None)
                else:
                    for row in batch:
                        ref += 1
                        yield (ref, dict(zip(columns, row, strict=False)), None)
                self.rows_read = ref
                batch = fetchmany(size)
            self._exhausted = True
        finally:
            self.rows_read = ref
            self.close()

    def _release(self) -> None:
        if not (self._unbuffered and not self._exhausted):
            close_quietly(self._cursor, "cursor")
        close_quietly(self._conn, "database connection")
        self._cursor = self._conn = None


def _dbapi_hook(conn_id: str) -> Any:
    from airflow.providers.common.sql.hooks.sql import DbApiHook
    from airflow.sdk import BaseHook

    connection = BaseHook.get_connection(conn_id)
    hook = connection.get_hook()
    if not isinstance(hook, DbApiHook):
        raise ValueError(
            f"sql_conn_id {conn_id!r} is a {connection.conn_type!r} connection whose hook "
            f"({type(hook).__name__}) is not a SQL hook; sql needs a connection whose hook is a "
            "DbApiHook (postgres, sqlite, mysql, snowflake, ...)"
        )
    return hook


def _streaming_cursor(conn: Any, fetch_size: int) -> tuple[Any, str]:
    """Open the cursor that streams on this connection's driver, and say which kind it is."""
    module = type(conn).__module__
    root = module.split(".", 1)[0]
    if root in ("psycopg", "psycopg2"):
        name = f"braze_src_{uuid.uuid4().hex[:16]}"
        cursor = conn.cursor(name=name, withhold=bool(getattr(conn, "autocommit", False)))
        if root == "psycopg2":
            cursor.itersize = fetch_size
        return cursor, "server-side cursor"
    if root in ("MySQLdb", "pymysql"):
        cursors = importlib.import_module(f"{root}.cursors")
        return conn.cursor(cursors.SSCursor), "unbuffered cursor"
    if module.startswith("mysql.connector"):
        return conn.cursor(buffered=False), "unbuffered cursor"
    cursor = conn.cursor()
    # A read-only or missing arraysize only changes page sizes.
    with contextlib.suppress(AttributeError, TypeError):
        cursor.arraysize = fetch_size
    return cursor, "cursor"


def _column_names(description: Any, source: str) -> tuple[str, ...]:
    if description is None:
        raise ValueError(f"{source} returns no rows; sql must be a query (SELECT, WITH ... SELECT, VALUES)")
    columns = tuple(str(d[0]) for d in description)
    twice = repeated_columns(columns)
    if twice:
        raise ValueError(
            f"{source} returns more than one column named {', '.join(map(repr, twice))}; "
            "give each column its own name with AS"
        )
    return columns


def strip_sql(sql: str) -> str:
    """The query as run: without surrounding space or a trailing ``;``."""
    return sql.strip().rstrip(";").rstrip()


def _shorten(sql: str) -> str:
    text = re.sub(r"\s+", " ", sql)
    return text if len(text) <= DESCRIPTION_SQL_CHARS else text[: DESCRIPTION_SQL_CHARS - 3] + "..."
