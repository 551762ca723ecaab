"""Fixtures for the source tests: SQLite and PostgreSQL reached through Airflow connections set as env vars."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

POSTGRES_ENV = "BRAZE_PROVIDER_TEST_POSTGRES_URL"
SQLITE_CONN_ID = "braze_src_sqlite"
POSTGRES_CONN_ID = "braze_src_postgres"
BIG_TABLE_ROWS = 200_000


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, **fields: Any) -> None:
    """Define an Airflow connection for the test, the way Airflow 3 reads one from the environment."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


def make_users_db(path: Path, rows: int) -> Path:
    """A SQLite file with a ``users`` table of ``rows`` rows: u1..un."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE users (external_id TEXT, email TEXT, score INTEGER, ratio REAL, note TEXT)")
    con.executemany(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?)",
        ((f"u{i}", f"u{i}@example.com", i % 100, i / 4, None) for i in range(1, rows + 1)),
    )
    con.commit()
    con.close()
    return path


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


class DriverCalls:
    """What the database driver was asked to do, seen from outside the source."""

    def __init__(self) -> None:
        self.fetches: list[tuple[int, int]] = []  # (size asked, rows returned)
        self.cursors_closed = 0
        self.connections_closed = 0

    @property
    def rows_fetched(self) -> int:
        return sum(returned for _, returned in self.fetches)


class _SpyCursor:
    def __init__(self, cursor: Any, calls: DriverCalls) -> None:
        self._cursor = cursor
        self._calls = calls

    def fetchmany(self, size: int) -> list[Any]:
        rows = self._cursor.fetchmany(size)
        self._calls.fetches.append((size, len(rows)))
        return rows

    def close(self) -> None:
        self._calls.cursors_closed += 1
        self._cursor.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _SpyConnection:
    def __init__(self, conn: sqlite3.Connection, calls: DriverCalls) -> None:
        self._conn = conn
        self._calls = calls

    def cursor(self) -> _SpyCursor:
        return _SpyCursor(self._conn.cursor(), self._calls)

    def close(self) -> None:
        self._calls.connections_closed += 1
        self._conn.close()


@pytest.fixture
def driver_calls(monkeypatch: pytest.MonkeyPatch) -> DriverCalls:
    """Record the sqlite3 calls of every SQLite connection the SqliteHook opens in this test."""
    from airflow.providers.sqlite.hooks.sqlite import SqliteHook

    calls = DriverCalls()
    real_get_conn = SqliteHook.get_conn
    monkeypatch.setattr(SqliteHook, "get_conn", lambda hook: _SpyConnection(real_get_conn(hook), calls))
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
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f"PostgreSQL source tests need {POSTGRES_ENV}=postgresql://user:pass@127.0.0.1:5432/db")
    parts = urlsplit(url)
    fields = {
        "conn_type": "postgres",
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "login": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "schema": parts.path.lstrip("/"),
    }
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


def write(path: Path, text: str | bytes) -> Path:
    """Write a test file (text as UTF-8, exactly as given) and return its path."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path
