"""The sync ledger's bulk lookups: users' last accepted rows, events' keys, rows settled by their digest.

An export run reads the ledger a chunk of objects at a time, through
:class:`~.sync_ledger.SyncLedgerStore` or, while it plans, through a :class:`LedgerReader` of its own
(:func:`planning_reader`), off the connection the senders write through. Every lookup binds at most
:data:`LOOKUP_CHUNK` values to one statement and reads in one snapshot.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine

from airflow_provider_braze.state import sync_ledger_sql as sql
from airflow_provider_braze.state.engine import create_state_engine, is_sqlite_memory, read_transaction

#: Most values bound in one ``IN (...)`` list (SQLite allows 32,766 variables; PostgreSQL more).
LOOKUP_CHUNK = 2_000


def user_key(user_hash: bytes) -> int:
    """The 64-bit integer a user's rows are keyed by: the first 8 bytes of its hash (see :mod:`.schema`)."""
    return int.from_bytes(user_hash[:8], "big", signed=True)


class LedgerReader:
    """Reads of the sync ledger for one planning pass (see :meth:`.SyncLedgerStore.reader`).

    :param engine: what to read through.
    :param helper: the thread that probes ahead; ``None``: probes run at once on the calling thread.
    """

    def __init__(self, engine: Engine, helper: ThreadPoolExecutor | None) -> None:
        self._engine = engine
        self._helper = helper

    def settled_soon(self, sync_id: int, digests: Sequence[bytes]) -> Future[dict[bytes, tuple[int, int]]]:
        """:meth:`.SyncLedgerStore.settled`, started on the helper thread: its future."""
        if self._helper is not None:
            return self._helper.submit(settled_on, self._engine, sync_id, digests)
        done: Future[dict[bytes, tuple[int, int]]] = Future()
        done.set_result(settled_on(self._engine, sync_id, digests))
        return done

    def users(self, sync_id: int, hashes: Sequence[bytes]) -> dict[bytes, tuple[bytes, bytes | None, int]]:
        """:meth:`.SyncLedgerStore.users`, read through this pass's own connection."""
        return users_on(self._engine, hashes)


@contextlib.contextmanager
def planning_reader(engine: Engine) -> Iterator[LedgerReader]:
    """A :class:`LedgerReader` of the store on ``engine`` for one planning pass, closed after it.

    :param engine: the store's engine (on a SQLite file the pass reads through an engine of its own).
    """
    if is_sqlite_memory(engine.url):
        yield LedgerReader(engine, None)
        return
    # Two connections: one for the helper's probes, one for the main thread's lookups; without a
    # memory map, as they read beside the senders' commits.
    own = create_state_engine(engine.url, pool_size=2, memory_map=False) if engine.dialect.name == "sqlite" else None
    helper = ThreadPoolExecutor(1, thread_name_prefix="braze-ledger-probe")
    try:
        yield LedgerReader(own or engine, helper)
    finally:
        helper.shutdown(wait=True, cancel_futures=True)
        if own is not None:
            own.dispose()


def settled_on(engine: Engine, sync_id: int, digests: Sequence[bytes]) -> dict[bytes, tuple[int, int]]:
    """``row digest -> (user key, data points)`` for the ``digests`` that are some user's current row.

    :param engine: what to read through.
    :param sync_id: the sync's id.
    :param digests: source row digests; only 16-byte ones can be some row's.
    """
    asked = [d for d in digests if len(d) == 16]
    found: dict[bytes, tuple[int, int]] = {}
    with read_transaction(engine) as conn:
        for i in range(0, len(asked), LOOKUP_CHUNK):
            found.update(sql.select_settled(conn, sync_id, asked[i : i + LOOKUP_CHUNK]))
    return found


def users_on(engine: Engine, hashes: Sequence[bytes]) -> dict[bytes, tuple[bytes, bytes | None, int]]:
    """``user_hash -> (row digest, fingerprints, run)`` for the users among ``hashes`` the ledger holds.

    :param engine: what to read through.
    :param hashes: user hashes (the sync's id is hashed into each).
    """
    found: dict[bytes, tuple[bytes, bytes | None, int]] = {}
    with read_transaction(engine) as conn:
        for i in range(0, len(hashes), LOOKUP_CHUNK):
            part = hashes[i : i + LOOKUP_CHUNK]
            rows = sql.select_in(conn, sql.SELECT_USERS, [user_key(h) for h in part])
            # A row whose hash is not the one asked for is another user sharing the 64-bit key:
            # as if never written.
            asked = set(part)
            got: dict[bytes, tuple[bytes, bytes | None, int]] = {
                bytes(h): (bytes(w), None, r) for _, h, w, r in rows if bytes(h) in asked
            }
            if got:
                by_key = {user_key(u): u for u in got}
                for key, prints in sql.select_in(conn, sql.SELECT_USER_VALUES, list(by_key)):
                    user = by_key[key]
                    whole, _, run = got[user]
                    got[user] = (whole, bytes(prints), run)
            found.update(got)
    return found


def by_digest(engine: Engine, statement: str, sync_id: int, digests: Sequence[bytes]) -> dict[bytes, tuple[Any, Any]]:
    """``digest -> (second column, third column)`` of a sync's lookup by digests, in one snapshot.

    :param engine: what to read through.
    :param statement: one of :mod:`.sync_ledger_sql`'s lookups, the sync's id its first parameter.
    :param sync_id: the sync's id.
    :param digests: what to look up.
    """
    found: dict[bytes, tuple[Any, Any]] = {}
    with read_transaction(engine) as conn:
        for i in range(0, len(digests), LOOKUP_CHUNK):
            for digest, first, second in sql.select_in(conn, statement, digests[i : i + LOOKUP_CHUNK], sync_id):
                found[bytes(digest)] = (first, second)
    return found
