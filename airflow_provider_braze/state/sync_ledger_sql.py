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

SELECT_USERS = "SELECT user_hash, row_hash, run FROM braze_sync_users WHERE sync_id = ? AND user_hash IN ({in})"
SELECT_USER_VALUES = (
    "SELECT user_hash, fingerprints FROM braze_sync_user_values WHERE sync_id = ? AND user_hash IN ({in})"
)
SELECT_KEYS = "SELECT item_key, status, run FROM braze_sync_keys WHERE sync_id = ? AND item_key IN ({in})"
UPSERT_USER = (
    "INSERT INTO braze_sync_users (sync_id, user_hash, row_hash, run, updated_at) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (sync_id, user_hash) DO UPDATE SET row_hash = excluded.row_hash, run = excluded.run, "
    "updated_at = excluded.updated_at"
)
UPSERT_USER_VALUES = (
    "INSERT INTO braze_sync_user_values (sync_id, user_hash, fingerprints) VALUES (?, ?, ?) "
    "ON CONFLICT (sync_id, user_hash) DO UPDATE SET fingerprints = excluded.fingerprints"
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


def select_in(conn: Connection, statement: str, sync_id: int, values: Sequence[bytes]) -> list[tuple[Any, ...]]:
    """The rows of a lookup by a list of digests, as the driver's own tuples."""
    sql = _sql(conn, statement.replace("{in}", ", ".join("?" * len(values))))
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, (sync_id, *values))
        return cursor.fetchall()
    finally:
        cursor.close()


def execute_many(conn: Connection, statement: str, rows: list[tuple[Any, ...]]) -> None:
    """One statement for many rows (``executemany``)."""
    conn.exec_driver_sql(_sql(conn, statement), rows)
