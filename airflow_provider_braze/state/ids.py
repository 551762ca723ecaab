"""Row ids for stores whose database makes none the provider can read back.

SQLite and PostgreSQL number new rows themselves (``AUTOINCREMENT``, ``SERIAL``). In warehouse mode
the sync ledger's tables also live in DuckDB, Snowflake or BigQuery: DuckDB's SQLAlchemy driver
renders ``BIGSERIAL``, which DuckDB does not have; Snowflake numbers rows but its driver returns no
inserted key; BigQuery has no sequences. There the store gives each new row its id: derived from the
row's natural key where it has one (a sync by its key, a run by its Airflow run), so two processes
making the same row at once make the same id, and random otherwise (a problem row).
"""

from __future__ import annotations

import hashlib
import os

from sqlalchemy import Connection

#: Dialects whose rows get their ids from the store.
ASSIGNED_ID_DIALECTS = frozenset({"duckdb", "snowflake", "bigquery"})


def assigns_ids(conn: Connection) -> bool:
    """Whether rows inserted on ``conn`` need the store to give them an id."""
    return conn.dialect.name in ASSIGNED_ID_DIALECTS


def natural_id(*key: object) -> int:
    """A positive 63-bit id for the row whose natural key is ``key`` (the same on every host)."""
    digest = hashlib.blake2b("\x1f".join(map(str, key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1 or 1


def random_id() -> int:
    """A positive 63-bit id for a row without a natural key."""
    return int.from_bytes(os.urandom(8), "big") >> 1 or 1


def id_values(conn: Connection, *key: object) -> dict[str, int]:
    """``{"id": ...}`` for an insert on a store that assigns ids (``key``: the row's natural key, or
    none for a random id); ``{}`` where the database numbers the row."""
    if not assigns_ids(conn):
        return {}
    return {"id": natural_id(*key) if key else random_id()}
