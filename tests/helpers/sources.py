"""Helpers for the source tests: connections set as env vars, test databases and files, a driver spy."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_braze.sources import SourceRow, open_source

SQLITE_CONN_ID = "braze_src_sqlite"
POSTGRES_CONN_ID = "braze_src_postgres"
BIG_TABLE_ROWS = 200_000
#: A small CSV file's text: a header and two rows.
CSV_TEXT = "external_id,email,score\nu1,a@example.com,10\nu2,b@example.com,20\n"


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


class DriverCalls:
    """What the database driver was asked to do, seen from outside the source."""

    def __init__(self) -> None:
        self.fetches: list[tuple[int, int]] = []  # (size asked, rows returned)
        self.cursors_closed = 0
        self.connections_closed = 0

    @property
    def rows_fetched(self) -> int:
        return sum(returned for _, returned in self.fetches)


class SpyCursor:
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


class SpyConnection:
    def __init__(self, conn: sqlite3.Connection, calls: DriverCalls) -> None:
        self._conn = conn
        self._calls = calls

    def cursor(self) -> SpyCursor:
        return SpyCursor(self._conn.cursor(), self._calls)

    def close(self) -> None:
        self._calls.connections_closed += 1
        self._conn.close()


def write(path: Path, text: str | bytes) -> Path:
    """Write a test file (text as UTF-8, exactly as given) and return its path."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def rows_of(**arguments: Any) -> list[SourceRow]:
    """Every row of the source ``open_source(**arguments)`` opens, read to the end."""
    with open_source(**arguments) as source:
        return list(source)
