"""The sync ledger's hot statements, sent to the driver as they are.

A 1,000,000-user sync runs these a million times; SQLAlchemy's compilation and per-value processing
(and its row objects) cost more than the database's own work, so they are plain SQL that SQLite and
PostgreSQL both accept (``ON CONFLICT ... DO UPDATE``, ``excluded``), written with ``?`` and rewritten
for drivers that use ``%s``. The tables are declared in :mod:`.schema`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPICursor

from airflow_provider_braze.state.errors import raise_named

# The settled probe answers in one row: each digest found with its user key and data points, as hex,
# 28 bytes apiece (digest 16, key 8 signed big-endian, points 4). One row because the database then
# does all its work inside one call of the driver, which gives the GIL up meanwhile: the next chunk's
# probe runs on a helper thread while the main thread reads and digests rows. (A probe answering a row
# per digest takes the GIL back for every row, waiting each time for the busy main thread.)
# Both are answered from the covering index ix_braze_sync_users_row_hash alone. SQLite: the digests
# come as one blob, cut into 16-byte keys by a recursive count.
SETTLED_SQLITE = (
    "WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n + 1 < ?) "
    "SELECT group_concat(hex(u.row_hash) || printf('%016x%08x', u.user_key, u.points), '') "
    "FROM i JOIN braze_sync_users u ON u.row_hash = substr(?, n * 16 + 1, 16) AND u.sync_id = ?"
)
SETTLED_POSTGRESQL = (
    "SELECT string_agg(encode(row_hash || int8send(user_key) || int4send(points), 'hex'), '') "
    "FROM braze_sync_users WHERE sync_id = %s AND row_hash = ANY(%s)"
)
_SETTLED_WIDTH = 28
SELECT_USERS = "SELECT user_key, user_hash, row_hash, run FROM braze_sync_users WHERE user_key IN ({in})"
SELECT_USER_VALUES = "SELECT user_key, fingerprints FROM braze_sync_user_values WHERE user_key IN ({in})"
SELECT_KEYS = "SELECT item_key, status, run FROM braze_sync_keys WHERE sync_id = ? AND item_key IN ({in})"
# Upserts of many rows in one statement: ``{values}`` becomes ``(?, ...), (?, ...)``.
UPSERT_USERS = (
    "INSERT INTO braze_sync_users (user_key, sync_id, user_hash, row_hash, points, run, updated_at) VALUES {values} "
    "ON CONFLICT (user_key) DO UPDATE SET sync_id = excluded.sync_id, user_hash = excluded.user_hash, "
    "row_hash = excluded.row_hash, points = excluded.points, run = excluded.run, updated_at = excluded.updated_at"
)
UPSERT_USER_VALUES = (
    "INSERT INTO braze_sync_user_values (user_key, sync_id, fingerprints) VALUES {values} "
    "ON CONFLICT (user_key) DO UPDATE SET sync_id = excluded.sync_id, fingerprints = excluded.fingerprints"
)
# Claims of events, purchases and increments about to leave: a key is inserted only where absent
# (another run, or an earlier attempt, may have it), and the keys returned are those this run now
# holds. RECLAIM_KEYS (``retry_ambiguous``) also takes keys of unknown outcome back; never accepted ones.
_INSERT_KEYS = "INSERT INTO braze_sync_keys (sync_id, item_key, status, run, row_ref, updated_at) VALUES {values} "
CLAIM_KEYS = _INSERT_KEYS + "ON CONFLICT (sync_id, item_key) DO NOTHING RETURNING item_key"
RECLAIM_KEYS = (
    _INSERT_KEYS + "ON CONFLICT (sync_id, item_key) DO UPDATE SET status = excluded.status, run = excluded.run, "
    "row_ref = excluded.row_ref, updated_at = excluded.updated_at "
    "WHERE braze_sync_keys.status <> 'accepted' RETURNING item_key"
)
# A run's own keys set to one status, or forgotten, a list at a time (after the leading parameters):
# the ``run`` condition keeps a run from touching a key another run has claimed.
UPDATE_KEYS = (
    "UPDATE braze_sync_keys SET status = ?, updated_at = ? WHERE sync_id = ? AND run = ? AND item_key IN ({in})"
)
DELETE_KEYS = "DELETE FROM braze_sync_keys WHERE sync_id = ? AND run = ? AND item_key IN ({in})"

#: Most parameters bound to one statement (SQLite allows 32,766; PostgreSQL 65,535).
MAX_PARAMETERS = 30_000


def _sql(conn: Connection, statement: str) -> str:
    if conn.dialect.paramstyle in ("format", "pyformat"):
        return statement.replace("?", "%s")
    if conn.dialect.paramstyle != "qmark":
        raise ValueError(f"the sync ledger needs SQLite or PostgreSQL as its state store, not {conn.dialect.name}")
    return statement


def _cursor(conn: Connection) -> DBAPICursor:
    """A cursor of the driver's own connection (these statements skip SQLAlchemy's per-row work), whose
    failures are named as :class:`~.errors.StateStoreError` (SQLAlchemy sees none of its errors)."""
    dbapi_connection = conn.connection.dbapi_connection
    if dbapi_connection is None:  # only once the connection is closed or invalidated
        raise ValueError("the state store connection is closed")
    return cast("DBAPICursor", _NamedCursor(dbapi_connection.cursor(), conn.engine))


class _NamedCursor:
    """A driver cursor whose errors name the store (a ``try`` costs nothing until it catches)."""

    __slots__ = ("_cursor", "_engine")

    def __init__(self, cursor: DBAPICursor, engine: Engine) -> None:
        self._cursor, self._engine = cursor, engine

    def execute(self, statement: str, parameters: Any = ()) -> None:
        try:
            self._cursor.execute(statement, parameters)
        except Exception as exc:
            raise_named(exc, self._engine)

    def fetchall(self) -> Sequence[Any]:
        try:
            return self._cursor.fetchall()
        except Exception as exc:
            raise_named(exc, self._engine)

    def fetchone(self) -> Any:
        try:
            return self._cursor.fetchone()
        except Exception as exc:
            raise_named(exc, self._engine)

    def close(self) -> None:
        self._cursor.close()


def select_in(conn: Connection, statement: str, values: Sequence[Any], *first: Any) -> Sequence[tuple[Any, ...]]:
    """The rows of a lookup by a list of keys (after the ``first`` parameters), as the driver's own tuples."""
    sql = _sql(conn, statement.replace("{in}", ", ".join("?" * len(values))))
    cursor = _cursor(conn)
    try:
        cursor.execute(sql, (*first, *values))
        return cursor.fetchall()
    finally:
        cursor.close()


def select_settled(conn: Connection, sync_id: int, digests: Sequence[bytes]) -> dict[bytes, tuple[int, int]]:
    """``digest -> (user key, data points)`` for the 16-byte ``digests`` that are a user's current row."""
    cursor = _cursor(conn)
    try:
        if conn.dialect.name == "sqlite":
            cursor.execute(SETTLED_SQLITE, (len(digests), b"".join(digests), sync_id))
        elif conn.dialect.name == "postgresql":
            cursor.execute(SETTLED_POSTGRESQL, (sync_id, list(digests)))
        else:
            raise ValueError(f"the sync ledger needs SQLite or PostgreSQL as its state store, not {conn.dialect.name}")
        # An aggregate always answers exactly one row.
        (packed,) = cast("tuple[Any]", cursor.fetchone())
    finally:
        cursor.close()
    if not packed:
        return {}
    data = bytes.fromhex(packed)
    w = _SETTLED_WIDTH
    return {
        data[i : i + 16]: (
            int.from_bytes(data[i + 16 : i + 24], "big", signed=True),
            int.from_bytes(data[i + 24 : i + w], "big"),
        )
        for i in range(0, len(data), w)
    }


def upsert(conn: Connection, statement: str, rows: Sequence[tuple[Any, ...]], key_width: int) -> list[tuple[Any, ...]]:
    """Insert or update many rows with as few statements as the parameter limit allows.

    One statement of many rows, not ``executemany``: the database works through them in one step,
    where ``executemany`` takes one per row, and on SQLite the driver gives the GIL up and takes it
    back around each, which behind a busy main thread stalls the writer (and the connection it holds).

    :param statement: an upsert with ``{values}`` where the rows go.
    :param rows: the rows, each a tuple of the statement's columns in order.
    :param key_width: how many leading columns make the conflict key: a key given twice keeps its
        last row (PostgreSQL refuses to update one row twice in a statement).
    :returns: what the statement's ``RETURNING`` clause answered, if it has one.
    """
    if not rows:
        return []
    latest = list({row[:key_width]: row for row in rows}.values()) if len(rows) > 1 else list(rows)
    width = len(latest[0])
    per = max(1, MAX_PARAMETERS // width)
    row = "(" + ", ".join("?" * width) + ")"
    returning = "RETURNING" in statement
    answered: list[tuple[Any, ...]] = []
    cursor = _cursor(conn)
    try:
        for i in range(0, len(latest), per):
            part = latest[i : i + per]
            values = ", ".join([row] * len(part))
            cursor.execute(_sql(conn, statement.replace("{values}", values)), [v for r in part for v in r])
            if returning:
                answered.extend(cursor.fetchall())
    finally:
        cursor.close()
    return answered


def execute_in(conn: Connection, statement: str, values: Sequence[Any], *first: Any) -> None:
    """A statement over a list of keys (after the ``first`` parameters), as few times as the parameter limit allows."""
    cursor = _cursor(conn)
    per = MAX_PARAMETERS - len(first)
    try:
        for i in range(0, len(values), per):
            part = values[i : i + per]
            cursor.execute(_sql(conn, statement.replace("{in}", ", ".join("?" * len(part)))), (*first, *part))
    finally:
        cursor.close()
