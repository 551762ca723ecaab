"""Engines for the state store, and the two kinds of transaction it uses.

Any SQLAlchemy URL works; two are tuned:

- SQLite (``sqlite:////abs/path/state.db``), the embedded default: WAL journal (readers never block
  the writer), a busy timeout (writers queue instead of failing), ``synchronous=FULL`` (a commit
  survives power loss, since the receiver tells Ketch "stored" right after it; only writes marked
  losable, see :func:`write_transaction`, skip the flush), foreign keys on.
  SQLAlchemy emits ``BEGIN`` itself so that :func:`write_transaction` can take the write lock up front
  with ``BEGIN IMMEDIATE``: a transaction that reads and then writes can otherwise fail with
  ``SQLITE_BUSY`` instead of waiting.
- PostgreSQL (``postgresql+psycopg://...``), for many workers: connections are pinged before use.

Both transactions raise the driver's failures as :class:`~.errors.StateStoreError`, naming the store
and the cause (disk full, read-only, unreachable ...). Nothing here creates tables; see :mod:`.schema`.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import URL, Connection, CursorResult, Engine, create_engine, event, make_url
from sqlalchemy.pool import StaticPool

from airflow_provider_braze.state.errors import raise_named

#: Seconds a SQLite writer waits for the lock before giving up.
DEFAULT_SQLITE_BUSY_TIMEOUT = 30.0

_WRITE_OPTION = "braze_provider_write"
_LOSABLE_OPTION = "braze_provider_losable"


def is_sqlite_memory(url: URL) -> bool:
    """Whether the URL names a private in-memory SQLite database."""
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def inserted_id(result: CursorResult[Any], assigned: int | None = None) -> int:
    """The integer primary key a single-row INSERT generated (SQLAlchemy has none for other statements).

    :param assigned: the id the statement gave the row itself (see :mod:`.ids`), if it did.
    """
    if assigned is not None:
        return assigned
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise ValueError("the statement was not a single-row INSERT")
    return int(key[0])


def create_state_engine(
    url: str | URL,
    *,
    sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT,
    one_connection: bool = False,
    memory_map: bool = True,
    **engine_kwargs: Any,
) -> Engine:
    """Create an engine for the state store.

    :param url: a SQLAlchemy URL. A SQLite file's folder is created if missing; ``sqlite://`` is one
        in-memory database shared by the whole process (for tests).
    :param sqlite_busy_timeout: seconds a SQLite writer waits for the lock.
    :param one_connection: SQLite file: the process's threads take turns on one connection. In WAL
        mode a connection that finds another connection's commit drops its whole page cache and memory
        map at its next read, so a reader beside busy writers reads every page anew (measured: a
        million-user ledger lookup costing a third more, and 2 s of system time, while sender threads
        commit). Sharing one connection keeps one cache, which the writes update in place.
    :param memory_map: SQLite file: read through a memory map of up to 256 MiB. ``False`` for
        connections that read beside another connection's writes: after each such commit SQLite
        lets go of the mapped pages, and touching them again faults every page anew (measured on a
        million-user ledger's 1 % run: 600,000 page faults and 480 MB more RSS than plain reads).
    :param engine_kwargs: passed to :func:`sqlalchemy.create_engine` (``hide_parameters`` defaults to
        ``True``: statement parameters carry personal data and secrets).
    """
    url = make_url(url)
    # Statement parameters hold identities and callback headers: keep them out of exception text.
    engine_kwargs.setdefault("hide_parameters", True)
    if url.get_backend_name() != "sqlite":
        engine_kwargs.setdefault("pool_pre_ping", True)
        return create_engine(url, **engine_kwargs)

    connect_args = dict(engine_kwargs.pop("connect_args", {}))
    connect_args.setdefault("timeout", sqlite_busy_timeout)
    memory = is_sqlite_memory(url)
    if memory:
        connect_args.setdefault("check_same_thread", False)
        engine_kwargs.setdefault("poolclass", StaticPool)
    else:
        if url.database and not url.database.startswith("file:"):
            folder = os.path.dirname(os.path.abspath(url.database))
            # A folder that cannot be made is reported by the first transaction, which names the
            # store and the folder (StateStoreError, "cannot open the file"), not here as a bare OSError.
            with contextlib.suppress(OSError):
                os.makedirs(folder, exist_ok=True)
        if one_connection:
            engine_kwargs.setdefault("pool_size", 1)
            engine_kwargs.setdefault("max_overflow", 0)
            # A thread waits for the connection as long as a writer would wait for SQLite's lock.
            engine_kwargs.setdefault("pool_timeout", sqlite_busy_timeout)
    engine = create_engine(url, connect_args=connect_args, **engine_kwargs)
    pragmas = functools.partial(
        _sqlite_pragmas, busy_ms=int(sqlite_busy_timeout * 1000), wal=not memory, memory_map=memory_map
    )
    event.listen(engine, "connect", pragmas)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_ms: int, wal: bool, memory_map: bool) -> None:
    """Set up each new SQLite connection of a state store."""
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        if wal:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        # 64 MiB of page cache instead of 2: the sync ledger looks up and writes users at random
        # across millions of rows, and every cache miss is a read from disk.
        cursor.execute("PRAGMA cache_size = -65536")
        # Reads through a memory map cost no system call per page (measured: a million-user
        # ledger's lookups take half the time). Writes still go through the WAL. 256 MiB covers a
        # million users; the mapped pages are page cache, counted in RSS but reclaimable.
        if memory_map:
            cursor.execute("PRAGMA mmap_size = 268435456")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Begin a SQLite transaction: ``BEGIN IMMEDIATE`` for writes, at the durability they asked for."""
    options = conn.get_execution_options()
    if not options.get(_WRITE_OPTION):
        conn.exec_driver_sql("BEGIN")
        return
    # The level cannot change inside a transaction: it is set for each one before BEGIN. In WAL
    # mode NORMAL skips the fsync at commit; a later FULL commit makes it durable too.
    conn.exec_driver_sql("PRAGMA synchronous = NORMAL" if options.get(_LOSABLE_OPTION) else "PRAGMA synchronous = FULL")
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def write_transaction(engine: Engine, *, durable: bool = True) -> Iterator[Connection]:
    """A transaction that will write: committed on exit, rolled back on error.

    On SQLite it takes the write lock at ``BEGIN`` (waiting up to the busy timeout), so reads inside it
    see the latest data and the writes cannot fail for lock upgrade.

    :param durable: ``False`` for writes whose loss only makes a later run redo safe work (attribute
        outcomes: resent, and attributes are safe to resend): they survive a crash or kill of the
        process, but a power loss or an operating-system crash may take the last of them back, and
        their commit waits for no disk flush (SQLite ``synchronous=NORMAL`` in WAL mode, PostgreSQL
        ``synchronous_commit=off``). The database stays consistent either way.
    :raises StateStoreError: the store failed (connecting, in a statement, or at commit).
    """
    try:
        with engine.connect() as conn:
            conn.execution_options(**{_WRITE_OPTION: True, _LOSABLE_OPTION: not durable})
            with conn.begin():
                if not durable and conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield conn
    except Exception as exc:
        raise_named(exc, engine)


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: one consistent snapshot, never blocks the writer on SQLite (WAL).

    :raises StateStoreError: the store failed.
    """
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    except Exception as exc:
        raise_named(exc, engine)
