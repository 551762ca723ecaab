"""What every repository of the state store shares: the engine, a clock, tables created on first use."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import URL, Engine, select
from sqlalchemy.exc import DBAPIError

from airflow_provider_braze.state.engine import create_state_engine, read_transaction, write_transaction
from airflow_provider_braze.state.errors import StateStoreError
from airflow_provider_braze.state.migrations import add_missing_columns
from airflow_provider_braze.state.schema import metadata


class StateStore:
    """Base of the state store's repositories. No I/O happens until a method needs the database.

    :param engine: an engine, or a SQLAlchemy URL to build one with
        :func:`~airflow_provider_braze.state.engine.create_state_engine`.
    :param clock: returns unix seconds; replaced in tests.
    """

    #: Whether an engine made here from a SQLite file's URL has the process's threads share one
    #: connection (see :func:`~airflow_provider_braze.state.engine.create_state_engine`).
    one_connection = False

    def __init__(self, engine: Engine | str | URL, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = (
            engine if isinstance(engine, Engine) else create_state_engine(engine, one_connection=self.one_connection)
        )
        self._clock = clock
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        return self._engine

    def ensure_schema(self) -> None:
        """Create missing tables (idempotent; tolerates another process creating them at the same time)."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                # mypy narrows the flag to False above, but another thread may have set it while this one
                # waited for the lock: the double check is the point.
                return  # type: ignore[unreachable]
            try:
                self._create_tables()
            except (DBAPIError, StateStoreError):
                # Another process won the race between "does it exist" and "create" (SQLite says
                # "table already exists", named as a store error; PostgreSQL a unique violation): check again.
                self._create_tables()
            self._schema_ready = True

    def _create_tables(self) -> None:
        # In a write transaction: on SQLite it takes the write lock up front (waiting for it), so the
        # "does it exist" read cannot go stale before the "create" write, as it would in a plain
        # transaction while another process creates the tables (SQLITE_BUSY_SNAPSHOT, "database is locked").
        with write_transaction(self._engine) as conn:
            metadata.create_all(conn, checkfirst=True)
            # A store made by an earlier release: its tables gain this release's new columns.
            add_missing_columns(conn, metadata)

    def ping(self) -> None:
        """Raise if the database cannot be reached or the tables cannot be created.

        :raises StateStoreError: naming the store and the cause.
        """
        self.ensure_schema()
        with read_transaction(self._engine) as conn:
            conn.execute(select(1))

    def dispose(self) -> None:
        """Close pooled connections."""
        self._engine.dispose()
