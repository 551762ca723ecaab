"""Salted hashes computed by the warehouse itself, so rows are compared where they are.

Every warehouse the provider targets has MD5 as 32 hex digits: PostgreSQL and Redshift ``md5``,
Snowflake ``MD5`` (https://docs.snowflake.com/en/sql-reference/functions/md5), DuckDB ``md5``
(https://duckdb.org/docs/sql/functions/text), BigQuery ``TO_HEX(MD5(...))`` (its ``MD5`` returns
bytes: https://cloud.google.com/bigquery/docs/reference/standard-sql/hash_functions#md5). SQLite has
none; the store gives its connections one (SQLite runs in the worker's process anyway).

MD5 is used to tell values apart and to keep identifiers out of the state, not as a signature:
every input is prefixed with the sync's salt, so a state table cannot be matched against a list of
known emails without it. A value's text is the warehouse's own cast to text: one warehouse always
casts a value the same way, and hashes are only ever compared with hashes of the same warehouse.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import String, cast, event, func, literal
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

#: Hex digits of a value's hash kept per column: 64 bits, as the local ledger's fingerprints.
COLUMN_HASH_DIGITS = 16
#: What stands for a NULL value in the column hashes (never a hash: hashes are hex digits).
NULL_HASH = "-" * COLUMN_HASH_DIGITS


class hex_md5(FunctionElement[str]):  # noqa: N801 - named like the SQL functions it stands for
    """``MD5`` of a text as 32 lowercase hex digits, in the warehouse's own spelling."""

    type = String(32)
    name = "hex_md5"
    inherit_cache = True


@compiles(hex_md5)
def _md5(element: hex_md5, compiler: Any, **kw: Any) -> str:
    return f"md5({compiler.process(element.clauses, **kw)})"


@compiles(hex_md5, "bigquery")
def _md5_bigquery(element: hex_md5, compiler: Any, **kw: Any) -> str:
    return f"TO_HEX(MD5({compiler.process(element.clauses, **kw)}))"


class as_text(FunctionElement[str]):  # noqa: N801
    """A value as text: ``CAST(x AS VARCHAR)``; Snowflake's ``TO_VARCHAR``, which also takes VARIANT
    values (semi-structured data a cast refuses)."""

    type = String()
    name = "as_text"
    inherit_cache = True


@compiles(as_text)
def _as_text(element: as_text, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses
    return compiler.process(cast(value, String()), **kw)


@compiles(as_text, "snowflake")
def _as_text_snowflake(element: as_text, compiler: Any, **kw: Any) -> str:
    return f"TO_VARCHAR({compiler.process(element.clauses, **kw)})"


def value_hash(salt: str, value: ColumnElement[Any]) -> ColumnElement[str]:
    """The column hash of one value: :data:`COLUMN_HASH_DIGITS` hex digits, :data:`NULL_HASH` for NULL."""
    text = as_text(value)
    return func.coalesce(func.substr(hex_md5(literal(salt, String()) + text), 1, COLUMN_HASH_DIGITS), NULL_HASH)


def identity_hash(salt: str, columns: list[tuple[str, ColumnElement[Any]]]) -> ColumnElement[str]:
    """The user's hash: MD5 of the salt and every identifier column (``name=value;``, empty when NULL)."""
    text: ColumnElement[Any] = literal(salt, String())
    for name, column in columns:
        text = text + literal(f"{name}=", String()) + func.coalesce(as_text(column), "") + literal(";", String())
    return hex_md5(text)


def give_sqlite_md5(engine: Engine) -> None:
    """Give every SQLite connection of ``engine`` an ``md5(text)`` function like PostgreSQL's."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("md5", 1, _sqlite_md5, deterministic=True)


def _sqlite_md5(text: Any) -> str | None:
    if text is None:
        return None
    data = text if isinstance(text, bytes) else str(text).encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()
