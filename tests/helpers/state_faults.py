"""A state store whose disk fills up: SQLite's own SQLITE_FULL, from a chosen write on."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

#: A table of the test's own in the store's file: writing to it needs new pages.
FILLER = "test_disk_filler"


class DiskFills:
    """Lets the SQLite file at ``path`` grow no more once ``after`` write transactions have committed.

    From then on, every write transaction of a state store on that file fails as on a full disk: the
    connection's ``max_page_count`` is set to the file's size (SQLite then answers ``SQLITE_FULL``,
    "database or disk is full", to any write that needs a page), and each commit first writes a page
    of filler, so that a write which happened to fit in pages already there fails too. Reads go on.
    Use as a context manager; :meth:`lift` frees the disk again (new connections have no limit).

    :param path: the store's SQLite file (created, with the filler table, if missing).
    :param after: write transactions that still commit.
    """

    def __init__(self, path: Path, after: int) -> None:
        self.path = str(path)
        self.after = after
        self.commits = 0
        self.refused = 0
        with sqlite3.connect(path) as db:
            db.execute(f"CREATE TABLE IF NOT EXISTS {FILLER} (x BLOB)")
        db.close()

    def __enter__(self) -> DiskFills:
        event.listen(Engine, "commit", self._on_commit)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.lift()

    def lift(self) -> None:
        if event.contains(Engine, "commit", self._on_commit):
            event.remove(Engine, "commit", self._on_commit)

    def _on_commit(self, conn: Any) -> None:
        if conn.engine.url.database != self.path or not conn.get_execution_options().get("braze_provider_write"):
            return
        if self.commits < self.after:
            self.commits += 1
            return
        self.refused += 1
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            (pages,) = cursor.execute("PRAGMA page_count").fetchone()
            cursor.execute(f"PRAGMA max_page_count = {pages}")
            cursor.execute(f"INSERT INTO {FILLER} VALUES (zeroblob(65536))")
        finally:
            cursor.close()
