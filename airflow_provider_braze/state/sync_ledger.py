"""The sync ledger: what each export sync has had accepted by Braze, refused, or left unknown.

Every method is one short transaction, safe under concurrency on SQLite and PostgreSQL alike, so
that the partitions of one sync (mapped tasks on many workers) can share a ledger. A sync's users
never overlap between partitions, and runs whose users may overlap take turns (:mod:`.sync_leases`),
which is what makes plain upserts of users enough; event keys are claimed atomically all the same.

Protocol of one export run (see :mod:`airflow_provider_braze.incremental`):

1. :meth:`SyncLedgerStore.open_run`: the sync (created on first use, owned by the task that made it)
   and the run row of this Airflow task run; a retried attempt gets the same run back. Then
   :meth:`~SyncLedgerStore.take_lease` (runs of one sync take turns, :mod:`.sync_leases`) and
   :meth:`~SyncLedgerStore.newer_runs` (whose writes this run must not overwrite).
2. Per chunk of rows: :meth:`~SyncLedgerStore.users` and :meth:`~SyncLedgerStore.keys` (bulk lookups).
3. Per batch, from the thread that sends it: the keys of its events, purchases and increments are
   claimed (inserted where absent, :meth:`~SyncLedgerStore.record`'s ``intents``) before it leaves,
   and only what this run claimed is sent; then :meth:`~SyncLedgerStore.record` with its outcomes.
4. :meth:`~SyncLedgerStore.finish_run` with the summary, then the lease is released.

Forgetting: :meth:`~SyncLedgerStore.reset` drops a sync's state, :meth:`~SyncLedgerStore.settle_unknown`
decides what rows of unknown outcome become (:mod:`.sync_ledger_admin`). The bulk lookups are in
:mod:`.sync_ledger_lookups`, their statements in :mod:`.sync_ledger_sql`.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from airflow_provider_braze.state import sync_ledger_sql as sql
from airflow_provider_braze.state.engine import inserted_id, read_transaction, write_transaction
from airflow_provider_braze.state.ids import id_values
from airflow_provider_braze.state.schema import (
    KEY_ACCEPTED,
    KEY_SENDING,
    KEY_UNKNOWN,
    braze_sync_problems,
    braze_sync_runs,
    braze_sync_settings,
)
from airflow_provider_braze.state.sync_leases import SyncLease, wait_for_lease
from airflow_provider_braze.state.sync_ledger_admin import SyncLedgerAdmin, SyncState
from airflow_provider_braze.state.sync_ledger_lookups import (
    LOOKUP_CHUNK,
    LedgerReader,
    by_digest,
    planning_reader,
    settled_on,
    user_key,
    users_on,
)
from airflow_provider_braze.state.sync_ledger_records import BatchRecord, Problem, Recorded, SyncRun
from airflow_provider_braze.state.sync_owners import Owner, SyncOwnedError, owner_kin, sync_of

__all__ = [
    "LOOKUP_CHUNK",
    "BatchRecord",
    "LedgerReader",
    "Owner",
    "Problem",
    "Recorded",
    "SyncLedgerStore",
    "SyncOwnedError",
    "SyncRun",
    "SyncState",
    "user_key",
]

_SALT = "salt"


class SyncLedgerStore(SyncLedgerAdmin):
    """Repository of export syncs' state; tables are created on first use.

    What an export run does with it is here; looking at, settling and forgetting a sync is inherited
    from :class:`~.sync_ledger_admin.SyncLedgerAdmin`.

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

    def open_run(
        self,
        sync_key: str,
        *,
        endpoint: str,
        mode: str,
        run_id: str,
        map_index: int = -1,
        partition: str | None = None,
        owner: Owner | None = None,
        as_of: float | None = None,
    ) -> SyncRun:
        """Start (or, for a retried attempt, resume) the run ``run_id`` of the sync ``sync_key``.

        :param sync_key: the sync's stable name.
        :param endpoint: catalogue name of the endpoint it writes to.
        :param mode: what it sends (``attributes``, ``events`` ...); a sync keeps its mode.
        :param run_id: the Airflow run id (attempts of one task run share it).
        :param map_index: the mapped task's index, ``-1`` when not mapped.
        :param partition: ``"i/n"`` when the source is partitioned.
        :param owner: the task running it: it owns a sync it makes (or one without an owner); another
            owner's sync is refused unless ``owner.share``. ``None``: no owner is checked or kept.
        :param as_of: the run's logical date (unix seconds); runs of older dates never overwrite what
            this run writes.
        :raises ValueError: the key belongs to a sync of another mode or endpoint.
        :raises SyncOwnedError: the key belongs to another task's sync.
        """
        salt = self.salt()
        now = self._clock()
        p = braze_sync_problems.c
        with write_transaction(self._engine) as conn:
            sync_id, created = sync_of(conn, sync_key, endpoint, mode, now, owner)
            run, attempt = self._attempt(conn, sync_id, run_id, map_index, partition, now, as_of)
            open_problems = conn.execute(
                select(func.count())
                .select_from(braze_sync_problems)
                .where(p.sync_id == sync_id, p.resolved_run.is_(None), p.run != run)
            ).scalar_one()
            elsewhere = owner_kin(conn, sync_id, mode, endpoint, owner) if created else ()
        return SyncRun(int(sync_id), int(run), salt, attempt, int(open_problems), as_of, created, elsewhere)

    def take_lease(
        self,
        sync_key: str,
        run: SyncRun,
        *,
        scope: str,
        holder: str,
        timeout: float,
        sleep: Callable[[float], object] = time.sleep,
    ) -> SyncLease:
        """Hold the sync's lease for ``scope`` while this run writes, waiting for an overlapping run.

        :param sync_key: the sync's key (for the messages).
        :param scope: ``""`` for the whole sync, else the run's partition ``"i/n"``.
        :param holder: who this run is, in words (see :func:`.sync_leases.holder_text`).
        :param timeout: seconds to wait for another run at most.
        :param sleep: how to wait between tries (one that raises on a cancelled task ends the wait).
        :raises SyncBusyError: another run still held it after ``timeout`` seconds.
        """
        return wait_for_lease(
            self._engine,
            sync_key=sync_key,
            sync_id=run.sync_id,
            scope=scope,
            run=run.run,
            holder=holder,
            timeout=timeout,
            clock=self._clock,
            sleep=sleep,
        )

    def newer_runs(self, run: SyncRun) -> frozenset[int]:
        """The sync's runs of a later logical date than ``run``'s: a user one of them wrote is not
        overwritten by ``run`` (read once the lease is held, so no such run is writing meanwhile)."""
        if run.as_of is None:
            return frozenset()
        r = braze_sync_runs.c
        with read_transaction(self._engine) as conn:
            found = conn.execute(select(r.id).where(r.sync_id == run.sync_id, r.as_of > run.as_of)).scalars()
            return frozenset(int(i) for i in found)

    def peek_run(self, sync_key: str) -> SyncRun | None:
        """A read-only view of a sync for a dry run (lookups only); ``None`` when it has never run."""
        sync_id = self.find_sync(sync_key)
        if sync_id is None:
            return None
        return SyncRun(int(sync_id), -1, self.salt(), 0, 0)

    def _attempt(
        self,
        conn: Connection,
        sync_id: int,
        run_id: str,
        map_index: int,
        partition: str | None,
        now: float,
        as_of: float | None,
    ) -> tuple[int, int]:
        """``(run, attempt)``: the task run's row, created by its first attempt and marked running again by
        a retried one, and how many attempts it has had."""
        r = braze_sync_runs.c
        existing = conn.execute(
            select(r.id, r.try_number).where(r.sync_id == sync_id, r.run_id == run_id, r.map_index == map_index)
        ).first()
        if existing is None:
            assigned = id_values(conn, "run", sync_id, run_id, map_index)
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
                        as_of=as_of,
                        **assigned,
                    )
                ),
                assigned.get("id"),
            )
            return run, 1
        run, attempt = existing.id, existing.try_number + 1
        conn.execute(
            update(braze_sync_runs).where(r.id == run).values(try_number=attempt, status="running", finished_at=None)
        )
        return run, attempt

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
        return settled_on(self._engine, sync_id, digests)

    def reader(self) -> contextlib.AbstractContextManager[LedgerReader]:
        """The reads of one planning pass, off the connection the senders write through.

        On a SQLite file the store's threads share one connection (see :attr:`one_connection`), so a
        lookup waits while a sender commits. A planning pass reads through connections of its own
        instead (WAL: readers never wait for the writer), and probes the next chunk's digests on a
        helper thread. An in-memory database has only one connection: there every read runs at once,
        on the calling thread.
        """
        return planning_reader(self._engine)

    def users(self, sync_id: int, hashes: Sequence[bytes]) -> dict[bytes, tuple[bytes, bytes | None, int]]:
        """``user_hash -> (row digest, fingerprints, run)`` for the users among ``hashes`` the sync has written.

        Fingerprints are ``None`` for a user whose values row is missing (none known: every value is sent).
        """
        return users_on(self._engine, hashes)

    def keys(self, sync_id: int, keys: Sequence[bytes]) -> dict[bytes, tuple[str, int]]:
        """``item_key -> (status, run)`` for the events, purchases and increments among ``keys`` known to the sync."""
        return by_digest(self._engine, sql.SELECT_KEYS, sync_id, keys)

    # -- writes as batches complete ------------------------------------------------------------------

    def write_intents(
        self, run: SyncRun, keys: Sequence[tuple[bytes, str | None]], *, reclaim: bool = False
    ) -> frozenset[bytes]:
        """Claim events, purchases or increments about to be sent (committed before they leave).

        A key is claimed only where the sync does not hold it yet (``reclaim``: or holds it of unknown
        outcome), in one statement, so two runs can never both claim it. A crash after this leaves the
        claimed keys ``sending``: a later attempt reports them as of unknown outcome instead of sending
        them again.

        :param keys: ``(item_key, row_ref)`` pairs.
        :param reclaim: take back keys of unknown outcome too (``retry_ambiguous``).
        :returns: the keys not claimed (held by another run or attempt): their objects must not leave.
        """
        if not keys:
            return frozenset()
        with write_transaction(self._engine) as conn:
            return self._write_intents(conn, run, keys, self._clock(), reclaim)

    def _write_intents(
        self, conn: Connection, run: SyncRun, keys: Sequence[tuple[bytes, str | None]], now: float, reclaim: bool
    ) -> frozenset[bytes]:
        rows = [(run.sync_id, k, KEY_SENDING, run.run, ref, now) for k, ref in keys]
        claimed = sql.upsert(conn, sql.RECLAIM_KEYS if reclaim else sql.CLAIM_KEYS, rows, key_width=2)
        if len(claimed) == len({k for k, _ in keys}):
            return frozenset()
        return frozenset(k for k, _ in keys) - {bytes(row[0]) for row in claimed}

    def record(self, run: SyncRun, batch: BatchRecord, *, resolve: bool = True) -> Recorded:
        """Write one batch's outcomes (and the next batches' claims) in one transaction.

        :param resolve: look for open problems of the accepted rows (skip when the sync has none).
        """
        now = self._clock()
        p = braze_sync_problems.c
        recovered = 0
        unclaimed: frozenset[bytes] = frozenset()
        # Keys guard events, purchases and increments against being sent twice: their records must
        # survive a power loss. A batch of attribute outcomes alone may be lost to one (its rows are
        # only sent again, which is safe), so its commit does not wait for the disk.
        durable = bool(batch.intents or batch.accepted_keys or batch.unknown_keys or batch.released_keys)
        with write_transaction(self._engine, durable=durable) as conn:
            if batch.intents:
                unclaimed = self._write_intents(conn, run, batch.intents, now, batch.reclaim)
            if batch.users:
                sync_id = run.sync_id
                users = [(user_key(h), sync_id, h, w, n, run.run, now) for h, w, _, n in batch.users]
                sql.upsert(conn, sql.UPSERT_USERS, users, key_width=1)
                values = [(user_key(h), sync_id, f) for h, _, f, _ in batch.users]
                sql.upsert(conn, sql.UPSERT_USER_VALUES, values, key_width=1)
            for status, keys in ((KEY_ACCEPTED, batch.accepted_keys), (KEY_UNKNOWN, batch.unknown_keys)):
                if keys:
                    sql.execute_in(conn, sql.UPDATE_KEYS, keys, status, now, run.sync_id, run.run)
            if batch.released_keys:
                sql.execute_in(conn, sql.DELETE_KEYS, batch.released_keys, run.sync_id, run.run)
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
        return Recorded(recovered, unclaimed)

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
                | id_values(conn)
                for item, ref, status, column, reason in problems
            ],
        )
