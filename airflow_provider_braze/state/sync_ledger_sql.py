"""The sync ledger's hot statements, sent to the driver as they are.

A 1,000,000-user sync runs these a million times; SQLAlchemy's compilation and per-value processing
(and its row objects) cost more than the database's own work, so they are plain SQL that SQLite and
PostgreSQL both accept (``ON CONFLICT ... DO UPDATE``, ``excluded``), written with ``?`` and rewritten
for drivers that use ``%s``. The tables are declared in :mod:`.schema`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

SELECT_USERS = "SELECT user_key, user_hash, row_hash, run FROM braze_sync_users WHERE user_key IN ({in})"
SELECT_USER_VALUES = "SELECT user_key, fingerprints FROM braze_sync_user_values WHERE user_key IN ({in})"
SELECT_KEYS = "SELECT item_key, status, run FROM braze_sync_keys WHERE sync_id = ? AND item_key IN ({in})"
UPSERT_USER = (
    "INSERT INTO braze_sync_users (user_key, sync_id, user_hash, row_hash, run, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (user_key) DO UPDATE SET sync_id = excluded.sync_id, user_hash = excluded.user_hash, "
    "row_hash = excluded.row_hash, run = excluded.run, updated_at = excluded.updated_at"
)
UPSERT_USER_VALUES = (
    "INSERT INTO braze_sync_user_values (user_key, sync_id, fingerprints) VALUES (?, ?, ?) "
    "ON CONFLICT (user_key) DO UPDATE SET sync_id = excluded.sync_id, fingerprints = excluded.fingerprints"
)
UPSERT_KEY = (
    "INSERT INTO braze_sync_keys (sync_id, item_key, status, run, row_ref, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (sync_id, item_key) DO UPDATE SET status = excluded.status, run = excluded.run, "
    "row_ref = excluded.row_ref, updated_at = excluded.updated_at"
)
UPDATE_KEY = "UPDATE braze_sync_keys SET status = ?, run = ?, updated_at = ? WHERE sync_id = ? AND item_key = ?"
DELETE_KEY = "DELETE FROM braze_sync_keys WHERE sync_id = ? AND item_key = ?"


def _sql(conn: Connection, statement: str) -> str:
    if conn.dialect.paramstyle in ("format", "pyformat"):
        return statement.replace("?", "%s")
    if conn.dialect.paramstyle != "qmark":
        raise ValueError(f"the sync ledger needs SQLite or PostgreSQL as its state store, not {conn.dialect.name}")
    return statement


def select_in(conn: Connection, statement: str, values: Sequence[Any], *first: Any) -> list[tuple[Any, ...]]:
    """The rows of a lookup by a list of keys (after the ``first`` parameters), as the driver's own tuples."""
    sql = _sql(conn, statement.replace("{in}", ", ".join("?" * len(values))))
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, (*first, *values))
        return cursor.fetchall()
    finally:
        cursor.close()


def execute_many(conn: Connection, statement: str, rows: list[tuple[Any, ...]]) -> None:
    """One statement for many rows (``executemany``)."""
    conn.exec_driver_sql(_sql(conn, statement), rows)
