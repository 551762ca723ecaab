"""The sync ledger: what each export sync has had accepted by Braze, refused, or left unknown.

Every method is one short transaction, safe under concurrency on SQLite and PostgreSQL alike, so
that the partitions of one sync (mapped tasks on many workers) can share a ledger. A sync's users
never overlap between partitions, which is what makes plain upserts enough.

Protocol of one export run (see :mod:`airflow_provider_braze.incremental`):

1. :meth:`SyncLedgerStore.open_run`: the sync (created on first use) and the run row of this Airflow
   task run; a retried attempt gets the same run back.
2. Per chunk of rows: :meth:`~SyncLedgerStore.users` and :meth:`~SyncLedgerStore.keys` (bulk lookups).
3. Per batch, from the thread that sends it: :meth:`~SyncLedgerStore.write_intents` before an event,
   purchase or increment leaves, then :meth:`~SyncLedgerStore.record` with the batch's outcomes.
4. :meth:`~SyncLedgerStore.finish_run` with the summary.

Forgetting: :meth:`~SyncLedgerStore.reset` drops a sync's state, :meth:`~SyncLedgerStore.settle_unknown`
decides what rows of unknown outcome become.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from airflow_provider_braze.state import sync_ledger_sql as sql
from airflow_provider_braze.state.base import StateStore
from airflow_provider_braze.state.engine import (
    create_state_engine,
    inserted_id,
    is_sqlite_memory,
    read_transaction,
    write_transaction,
)
from airflow_provider_braze.state.schema import (
    KEY_ACCEPTED,
    KEY_SENDING,
    KEY_UNKNOWN,
    braze_sync_keys,
    braze_sync_problems,
    braze_sync_runs,
    braze_sync_settings,
    braze_sync_user_values,
    braze_sync_users,
    braze_syncs,
)


def user_key(user_hash: bytes) -> int:
    """The 64-bit integer a user's rows are keyed by: the first 8 bytes of its hash (see :mod:`.schema`)."""
    return int.from_bytes(user_hash[:8], "big", signed=True)


#: Most values bound in one ``IN (...)`` list (SQLite allows 32,766 variables; PostgreSQL more).
LOOKUP_CHUNK = 2_000
_SALT = "salt"


@dataclass(frozen=True)
class SyncRun:
    """A run of a sync as the ledger knows it.

    :param sync_id: the sync's id.
    :param run: this task run's id (shared by its attempts).
    :param salt: the key of every digest in this store.
    :param attempt: how many attempts of this run the ledger has seen, this one included.
    :param open_problems: rows of earlier runs still waiting to be accepted.
    """

    sync_id: int
    run: int
    salt: bytes
    attempt: int
    open_problems: int


#: A row that did not end accepted: ``(item_key, row_ref, status, column, reason)``.
Problem = tuple["bytes | None", "str | None", str, "str | None", "str | None"]


@dataclass
class BatchRecord:
    """What one batch's outcomes change in the ledger (written in one transaction).

    :param intents: events, purchases and increments about to be sent: ``(item_key, row_ref)``.
    :param users: accepted attribute rows: ``(user_hash, source row digest, fingerprints, data points)``.
    :param accepted_keys: events, purchases and increments Braze accepted.
    :param unknown_keys: those whose outcome is unknown.
    :param released_keys: those Braze refused or that failed: forgotten, so a later run sends them.
    :param problems: rows not accepted: ``(item_key, row_ref, status, column, reason)``.
    :param resolved: keys of rows accepted now (their open problems are closed).
    """

    intents: list[tuple[bytes, str | None]] = field(default_factory=list)
    users: list[tuple[bytes, bytes, bytes, int]] = field(default_factory=list)
    accepted_keys: list[bytes] = field(default_factory=list)
    unknown_keys: list[bytes] = field(default_factory=list)
    released_keys: list[bytes] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    resolved: list[bytes] = field(default_factory=list)

    def extend(self, other: BatchRecord) -> None:
        """Add another batch's changes (to write several batches in one transaction)."""
        for name in ("intents", "users", "accepted_keys", "unknown_keys", "released_keys", "problems", "resolved"):
            getattr(self, name).extend(getattr(other, name))


@dataclass(frozen=True)
class SyncState:
    """What the ledger holds for one sync (for the CLI, the reset operator and tests)."""

    sync_key: str
    endpoint: str
    mode: str
    users: int
    keys: dict[str, int]
    open_problems: dict[str, int]
    runs: int


class SyncLedgerStore(StateStore):
    """Repository of export syncs' state; tables are created on first use.

    :param engine: an engine, or a SQLAlchemy URL (``sqlite:////path/state.db``, ``postgresql+psycopg://...``).
    :param clock: returns unix seconds; replaced in tests.
    """

    _salt: bytes | None = None
    # The main thread looks users up while sender threads commit outcomes: on one connection the
    # lookups keep their page cache (a million-user run's lookups read a warm B-tree).
    one_connection = True

    # -- runs ----------------------------------------------------------------------------------------

    def salt(self) -> bytes:
        """The store's salt, created once (race-safe) and kept in the store."""
        if self._salt is not None:
            return self._salt
        self.ensure_schema()
        t = braze_sync_settings.c
        with read_transaction(self._engine) as conn:
            value = conn.execute(select(t.value).where(t.name == _SALT)).scalar()
        if value is None:
            # Another process may create it first: then its salt, read below, is the one.
            with contextlib.suppress(IntegrityError), write_transaction(self._engine) as conn:
                conn.execute(insert(braze_sync_settings).values(name=_SALT, value=os.urandom(16)))
            with read_transaction(self._engine) as conn:
                value = conn.execute(select(t.value).where(t.name == _SALT)).scalar_one()
        self._salt = bytes(value)
        return self._salt

    def find_sync(self, sync_key: str) -> int | None:
        """The id of the sync with this key, or ``None`` when it has never run."""
        self.ensure_schema()
        with read_transaction(self._engine) as conn:
            return conn.execute(select(braze_syncs.c.id).where(braze_syncs.c.sync_key == sync_key)).scalar()

    def open_run(
        self,
        sync_key: str,
        *,
        endpoint: str,
        mode: str,
        run_id: str,
        map_index: int = -1,
        partition: str | None = None,
    ) -> SyncRun:
        """Start (or, for a retried attempt, resume) the run ``run_id`` of the sync ``sync_key``.

        :param sync_key: the sync's stable name.
        :param endpoint: catalogue name of the endpoint it writes to.
        :param mode: what it sends (``attributes``, ``events`` ...); a sync keeps its mode.
        :param run_id: the Airflow run id (attempts of one task run share it).
        :param map_index: the mapped task's index, ``-1`` when not mapped.
        :param partition: ``"i/n"`` when the source is partitioned.
        :raises ValueError: the key belongs to a sync of another mode or endpoint.
        """
        salt = self.salt()
        now = self._clock()
        s, r, p = braze_syncs.c, braze_sync_runs.c, braze_sync_problems.c
        with write_transaction(self._engine) as conn:
            found = conn.execute(select(s.id, s.endpoint, s.mode).where(s.sync_key == sync_key)).first()
            if found is None:
                sync_id = self._insert_sync(conn, sync_key, endpoint, mode, now)
            else:
                sync_id = found.id
                if (found.endpoint, found.mode) != (endpoint, mode):
                    raise ValueError(
                        f"sync_key {sync_key!r} belongs to a sync of {found.mode} to {found.endpoint}, not {mode} to "
                        f"{endpoint}: give this export its own sync_key (or reset that sync first)."
                    )
            existing = conn.execute(
                select(r.id, r.try_number).where(r.sync_id == sync_id, r.run_id == run_id, r.map_index == map_index)
            ).first()
            if existing is None:
                run = inserted_id(
                    conn.execute(
                        insert(braze_sync_runs).values(
                            sync_id=sync_id,
                            run_id=run_id,
                            map_index=map_index,
                            try_number=1,
                            partition=partition,
                            status="running",
                            started_at=now,
                        )
                    )
                )
                attempt = 1
            else:
                run, attempt = existing.id, existing.try_number + 1
                conn.execute(
                    update(braze_sync_runs)
                    .where(r.id == run)
                    .values(try_number=attempt, status="running", finished_at=None)
                )
            open_problems = conn.execute(
                select(func.count())
                .select_from(braze_sync_problems)
                .where(p.sync_id == sync_id, p.resolved_run.is_(None), p.run != run)
            ).scalar_one()
        return SyncRun(int(sync_id), int(run), salt, attempt, int(open_problems))

    def peek_run(self, sync_key: str) -> SyncRun | None:
        """A read-only view of a sync for a dry run (lookups only); ``None`` when it has never run."""
        sync_id = self.find_sync(sync_key)
        if sync_id is None:
            return None
        return SyncRun(int(sync_id), -1, self.salt(), 0, 0)

    def _insert_sync(self, conn: Connection, sync_key: str, endpoint: str, mode: str, now: float) -> int:
        try:
            with conn.begin_nested():
                return inserted_id(
                    conn.execute(
                        insert(braze_syncs).values(sync_key=sync_key, endpoint=endpoint, mode=mode, created_at=now)
                    )
                )
        except IntegrityError:
            # A partition on another worker created it between our read and our insert.
            return conn.execute(select(braze_syncs.c.id).where(braze_syncs.c.sync_key == sync_key)).scalar_one()

    def finish_run(self, run: SyncRun, status: str, summary: dict[str, Any]) -> None:
        """Close the run with its outcome (``success`` or ``failed``) and summary."""
        with write_transaction(self._engine) as conn:
            conn.execute(
                update(braze_sync_runs)
                .where(braze_sync_runs.c.id == run.run)
                .values(status=status, finished_at=self._clock(), summary=summary)
            )

    # -- lookups -------------------------------------------------------------------------------------

    def settled(self, sync_id: int, digests: Sequence[bytes]) -> dict[bytes, tuple[int, int]]:
        """``row digest -> (user key, data points)`` for the ``digests`` that are some user's row as last accepted.

        The fast path of an incremental run: one probe of a covering index per source row, nothing
        built. Only current rows are found (a user's row is replaced when a new one is accepted), and a
        digest covers the row's identifier, so a digest found is that user's last accepted row.
        """
        return _settled_on(self._engine, sync_id, digests)

    @contextlib.contextmanager
    def reader(self) -> Iterator[LedgerReader]:
        """The reads of one planning pass, off the connection the senders write through.

        On a SQLite file the store's threads share one connection (see :attr:`one_connection`), so a
        lookup waits while a sender commits. A planning pass reads through connections of its own
        instead (WAL: readers never wait for the writer), and probes the next chunk's digests on a
        helper thread. An in-memory database has only one connection: there every read runs at once,
        on the calling thread.
        """
        if is_sqlite_memory(self._engine.url):
            yield LedgerReader(self._engine, None)
            return
        # Two connections: one for the helper's probes, one for the main thread's lookups; without a
        # memory map, as they read beside the senders' commits.
        own = (
            create_state_engine(self._engine.url, pool_size=2, memory_map=False)
            if self._engine.dialect.name == "sqlite"
            else None
        )
        helper = ThreadPoolExecutor(1, thread_name_prefix="braze-ledger-probe")
        try:
            yield LedgerReader(own or self._engine, helper)
        finally:
            helper.shutdown(wait=True, cancel_futures=True)
            if own is not None:
                own.dispose()

    def users(self, sync_id: int, hashes: Sequence[bytes]) -> dict[bytes, tuple[bytes, bytes | None, int]]:
        """``user_hash -> (row digest, fingerprints, run)`` for the users among ``hashes`` the sync has written.

        Fingerprints are ``None`` for a user whose values row is missing (none known: every value is sent).
        """
        return _users_on(self._engine, hashes)

    def keys(self, sync_id: int, keys: Sequence[bytes]) -> dict[bytes, tuple[str, int]]:
        """``item_key -> (status, run)`` for the events, purchases and increments among ``keys`` known to the sync."""
        return self._by_digest(sql.SELECT_KEYS, sync_id, keys)

    def _by_digest(self, statement: str, sync_id: int, digests: Sequence[bytes]) -> dict[bytes, tuple[Any, Any]]:
        """``digest -> (second column, third column)`` of a sync's lookup by digests, in one snapshot."""
        found: dict[bytes, tuple[Any, Any]] = {}
        with read_transaction(self._engine) as conn:
            for i in range(0, len(digests), LOOKUP_CHUNK):
                for digest, first, second in sql.select_in(conn, statement, digests[i : i + LOOKUP_CHUNK], sync_id):
                    found[bytes(digest)] = (first, second)
        return found

    # -- writes as batches complete ------------------------------------------------------------------

    def write_intents(self, run: SyncRun, keys: Sequence[tuple[bytes, str | None]]) -> None:
        """Mark events, purchases or increments as about to be sent (committed before they leave).

        A crash after this leaves them ``sending``: a later attempt reports them as of unknown
        outcome instead of sending them again.

        :param keys: ``(item_key, row_ref)`` pairs.
        """
        if keys:
            with write_transaction(self._engine) as conn:
                self._write_intents(conn, run, keys, self._clock())

    def _write_intents(
        self, conn: Connection, run: SyncRun, keys: Sequence[tuple[bytes, str | None]], now: float
    ) -> None:
        rows = [(run.sync_id, k, KEY_SENDING, run.run, ref, now) for k, ref in keys]
        sql.upsert(conn, sql.UPSERT_KEYS, rows, key_width=2)

    def record(self, run: SyncRun, batch: BatchRecord, *, resolve: bool = True) -> int:
        """Write one batch's outcomes in one transaction; return how many earlier problems it resolved.

        :param resolve: look for open problems of the accepted rows (skip when the sync has none).
        """
        now = self._clock()
        p = braze_sync_problems.c
        recovered = 0
        # Keys guard events, purchases and increments against being sent twice: their records must
        # survive a power loss. A batch of attribute outcomes alone may be lost to one (its rows are
        # only sent again, which is safe), so its commit does not wait for the disk.
        durable = bool(batch.intents or batch.accepted_keys or batch.unknown_keys or batch.released_keys)
        with write_transaction(self._engine, durable=durable) as conn:
            if batch.intents:
                self._write_intents(conn, run, batch.intents, now)
            if batch.users:
                sync_id = run.sync_id
                users = [(user_key(h), sync_id, h, w, n, run.run, now) for h, w, _, n in batch.users]
                sql.upsert(conn, sql.UPSERT_USERS, users, key_width=1)
                values = [(user_key(h), sync_id, f) for h, _, f, _ in batch.users]
                sql.upsert(conn, sql.UPSERT_USER_VALUES, values, key_width=1)
            for status, keys in ((KEY_ACCEPTED, batch.accepted_keys), (KEY_UNKNOWN, batch.unknown_keys)):
                if keys:
                    sql.execute_in(conn, sql.UPDATE_KEYS, keys, status, run.run, now, run.sync_id)
            if batch.released_keys:
                sql.execute_in(conn, sql.DELETE_KEYS, batch.released_keys, run.sync_id)
            if resolve and batch.resolved:
                open_problems = conn.execute(
                    select(p.item_key, p.run).where(
                        p.sync_id == run.sync_id,
                        p.resolved_run.is_(None),
                        p.item_key.in_(bindparam("keys", expanding=True)),
                    ),
                    {"keys": batch.resolved},
                ).all()
                if open_problems:
                    conn.execute(
                        update(braze_sync_problems)
                        .where(
                            p.sync_id == run.sync_id,
                            p.resolved_run.is_(None),
                            p.item_key.in_(bindparam("keys", expanding=True)),
                        )
                        .values(resolved_run=run.run),
                        {"keys": list({item for item, _ in open_problems})},
                    )
                    # A row of this very run that failed and then went through is no earlier refusal.
                    recovered = len({item for item, found_in in open_problems if found_in != run.run})
            if batch.problems:
                self._add_problems(conn, run, batch.problems, now)
        return recovered

    def add_problems(self, run: SyncRun, problems: Sequence[Problem]) -> None:
        """Record rows found invalid before sending (``status`` ``invalid``), in one transaction."""
        if problems:
            with write_transaction(self._engine) as conn:
                self._add_problems(conn, run, problems, self._clock())

    def _add_problems(self, conn: Connection, run: SyncRun, problems: Sequence[Any], now: float) -> None:
        conn.execute(
            insert(braze_sync_problems),
            [
                {
                    "sync_id": run.sync_id,
                    "run": run.run,
                    "item_key": item,
                    "row_ref": ref,
                    "status": status,
                    "column_name": column,
                    "reason": reason,
                    "created_at": now,
                }
                for item, ref, status, column, reason in problems
            ],
        )

    # -- inspecting and forgetting -------------------------------------------------------------------

    def state(self, sync_key: str) -> SyncState | None:
        """Counts of what the ledger holds for a sync, or ``None`` when it has never run."""
        self.ensure_schema()
        s, u, k, p, r = braze_syncs.c, braze_sync_users.c, braze_sync_keys.c, braze_sync_problems.c, braze_sync_runs.c
        with read_transaction(self._engine) as conn:
            sync = conn.execute(select(s.id, s.endpoint, s.mode).where(s.sync_key == sync_key)).first()
            if sync is None:
                return None
            users = conn.execute(
                select(func.count()).select_from(braze_sync_users).where(u.sync_id == sync.id)
            ).scalar_one()
            keys: dict[str, int] = dict(
                conn.execute(select(k.status, func.count()).where(k.sync_id == sync.id).group_by(k.status)).all()
            )
            problems: dict[str, int] = dict(
                conn.execute(
                    select(p.status, func.count())
                    .where(p.sync_id == sync.id, p.resolved_run.is_(None))
                    .group_by(p.status)
                ).all()
            )
            runs = conn.execute(
                select(func.count()).select_from(braze_sync_runs).where(r.sync_id == sync.id)
            ).scalar_one()
        return SyncState(sync_key, sync.endpoint, sync.mode, users, keys, problems, runs)

    def runs(self, sync_key: str, limit: int = 50) -> list[dict[str, Any]]:
        """A sync's latest task runs, newest first: run id, map index, partition, status, attempts, summary."""
        self.ensure_schema()
        s, r = braze_syncs.c, braze_sync_runs.c
        query = (
            select(r.run_id, r.map_index, r.partition, r.status, r.try_number, r.started_at, r.finished_at, r.summary)
            .join(braze_syncs, s.id == r.sync_id)
            .where(s.sync_key == sync_key)
            .order_by(r.started_at.desc(), r.map_index)
            .limit(limit)
        )
        with read_transaction(self._engine) as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def sync_keys(self) -> list[str]:
        """Every sync the ledger knows, by key."""
        self.ensure_schema()
        with read_transaction(self._engine) as conn:
            return list(conn.execute(select(braze_syncs.c.sync_key).order_by(braze_syncs.c.sync_key)).scalars())

    def reset(self, sync_key: str) -> bool:
        """Forget everything about a sync (fingerprints, keys, runs, problems); ``False`` if it was unknown.

        The next run sends every row again: attributes are rewritten (safe), but events and purchases
        sent before would be stored twice.
        """
        sync_id = self.find_sync(sync_key)
        if sync_id is None:
            return False
        with write_transaction(self._engine) as conn:
            for table in (
                braze_sync_users,
                braze_sync_user_values,
                braze_sync_keys,
                braze_sync_problems,
                braze_sync_runs,
            ):
                conn.execute(delete(table).where(table.c.sync_id == sync_id))
            conn.execute(delete(braze_syncs).where(braze_syncs.c.id == sync_id))
        return True

    def settle_unknown(self, sync_key: str, *, delivered: bool) -> int:
        """Decide the rows of unknown outcome (and those an interrupted attempt left ``sending``).

        :param delivered: ``True`` after checking in Braze that they arrived: they count as accepted and
            are never sent again. ``False``: they did not arrive; they are forgotten, and the next run
            sends them.
        :returns: how many rows were settled.
        """
        sync_id = self.find_sync(sync_key)
        if sync_id is None:
            return 0
        k, p = braze_sync_keys.c, braze_sync_problems.c
        pending = k.sync_id == sync_id, k.status.in_([KEY_UNKNOWN, KEY_SENDING])
        with write_transaction(self._engine) as conn:
            if delivered:
                count = conn.execute(update(braze_sync_keys).where(*pending).values(status=KEY_ACCEPTED)).rowcount
            else:
                count = conn.execute(delete(braze_sync_keys).where(*pending)).rowcount
            # Their problem rows are settled too: resolved_run -1 marks "settled by hand".
            conn.execute(
                update(braze_sync_problems)
                .where(p.sync_id == sync_id, p.status == "unknown", p.resolved_run.is_(None))
                .values(resolved_run=-1)
            )
        return count

    def keys_with_status(self, sync_id: int, statuses: Iterable[str]) -> list[tuple[bytes, str, str | None]]:
        """``(item_key, status, row_ref)`` of a sync's keys in these statuses (unknown ones, say)."""
        k = braze_sync_keys.c
        with read_transaction(self._engine) as conn:
            rows = conn.execute(
                select(k.item_key, k.status, k.row_ref).where(k.sync_id == sync_id, k.status.in_(list(statuses)))
            ).all()
        return [(bytes(key), status, ref) for key, status, ref in rows]


class LedgerReader:
    """Reads of the sync ledger for one planning pass (see :meth:`SyncLedgerStore.reader`).

    :param engine: what to read through.
    :param helper: the thread that probes ahead; ``None``: probes run at once on the calling thread.
    """

    def __init__(self, engine: Engine, helper: ThreadPoolExecutor | None) -> None:
        self._engine = engine
        self._helper = helper

    def settled_soon(self, sync_id: int, digests: Sequence[bytes]) -> Future[dict[bytes, tuple[int, int]]]:
        """:meth:`SyncLedgerStore.settled`, started on the helper thread: its future."""
        if self._helper is not None:
            return self._helper.submit(_settled_on, self._engine, sync_id, digests)
        done: Future[dict[bytes, tuple[int, int]]] = Future()
        done.set_result(_settled_on(self._engine, sync_id, digests))
        return done

    def users(self, sync_id: int, hashes: Sequence[bytes]) -> dict[bytes, tuple[bytes, bytes | None, int]]:
        """:meth:`SyncLedgerStore.users`, read through this pass's own connection."""
        return _users_on(self._engine, hashes)


def _settled_on(engine: Engine, sync_id: int, digests: Sequence[bytes]) -> dict[bytes, tuple[int, int]]:
    # Only 16-byte digests can be some row's: anything else is left out of the packed probe.
    asked = [d for d in digests if len(d) == 16]
    found: dict[bytes, tuple[int, int]] = {}
    with read_transaction(engine) as conn:
        for i in range(0, len(asked), LOOKUP_CHUNK):
            found.update(sql.select_settled(conn, sync_id, asked[i : i + LOOKUP_CHUNK]))
    return found


def _users_on(engine: Engine, hashes: Sequence[bytes]) -> dict[bytes, tuple[bytes, bytes | None, int]]:
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
