"""Fixtures for the source tests: SQLite and PostgreSQL reached through Airflow connections set as env vars."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.postgres import postgres_connection
from tests.helpers.sources import (
    BIG_TABLE_ROWS,
    POSTGRES_CONN_ID,
    SQLITE_CONN_ID,
    DriverCalls,
    SpyConnection,
    make_users_db,
    set_connection,
)


@pytest.fixture
def sqlite_users(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The conn id of a SQLite connection to a 5-row ``users`` table."""
    db = make_users_db(tmp_path / "users.sqlite", 5)
    set_connection(monkeypatch, SQLITE_CONN_ID, conn_type="sqlite", host=str(db))
    return SQLITE_CONN_ID


@pytest.fixture(scope="session")
def big_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_users_db(tmp_path_factory.mktemp("big") / "big.sqlite", BIG_TABLE_ROWS)


@pytest.fixture
def sqlite_big(big_db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The conn id of a SQLite connection to a ``users`` table of :data:`BIG_TABLE_ROWS` rows."""
    set_connection(monkeypatch, SQLITE_CONN_ID, conn_type="sqlite", host=str(big_db))
    return SQLITE_CONN_ID


@pytest.fixture
def driver_calls(monkeypatch: pytest.MonkeyPatch) -> DriverCalls:
    """Record the sqlite3 calls of every SQLite connection the SqliteHook opens in this test."""
    from airflow.providers.sqlite.hooks.sqlite import SqliteHook

    calls = DriverCalls()
    real_get_conn = SqliteHook.get_conn
    monkeypatch.setattr(SqliteHook, "get_conn", lambda hook: SpyConnection(real_get_conn(hook), calls))
    return calls


@pytest.fixture(params=["psycopg", "psycopg2"])
def postgres_driver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with each PostgreSQL driver the postgres provider can use."""
    import airflow.providers.postgres.hooks.postgres as postgres_hooks

    if request.param == "psycopg2":
        pytest.importorskip("psycopg2")
        monkeypatch.setattr(postgres_hooks, "USE_PSYCOPG3", False)
    elif not postgres_hooks.USE_PSYCOPG3:
        pytest.skip("the postgres provider does not use psycopg 3 here (needs psycopg and SQLAlchemy 2)")
    return request.param


@pytest.fixture
def postgres_table(postgres_driver: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    """``(conn_id, table)``: a fresh table of 5,000 typed rows in the test PostgreSQL database.

    The database comes from ``BRAZE_PROVIDER_TEST_POSTGRES_URL``
    (``postgresql://user:pass@127.0.0.1:5432/db``); the test is skipped without it.
    """
    fields = postgres_connection()
    set_connection(monkeypatch, POSTGRES_CONN_ID, **fields)
    import psycopg

    table = f"braze_src_test_{uuid.uuid4().hex[:10]}"
    dsn = {
        k: v
        for k, v in {
            "host": fields["host"],
            "port": fields["port"],
            "user": fields["login"],
            "password": fields["password"],
            "dbname": fields["schema"],
        }.items()
        if v
    }
    with psycopg.connect(**dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} AS SELECT i AS id, 'u' || i AS external_id, "
            "TIMESTAMP '2024-01-01 00:00:00' + i * INTERVAL '1 minute' AS created_at, "
            "(i / 4.0)::numeric(12, 2) AS amount, i % 2 = 0 AS active "
            "FROM generate_series(1, 5000) AS i"
        )
    try:
        yield POSTGRES_CONN_ID, table
    finally:
        with psycopg.connect(**dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
