"""Runs of one sync take turns: a lease per sync and scope, held by the run that writes it.

Two runs of one sync that overlap in time (a backfill of several dates, ``max_active_runs > 1``, a
manual run beside a scheduled one) would otherwise each read "not sent yet" for the same key and send
it twice, and interleave their attribute writes so that Braze ends holding a mix of dates. So a run
takes the sync's lease before it plans anything, renews it while it runs, and gives it back when it
ends; a second run waits until the lease is free (or gives up after its timeout, naming the holder).

- **Scopes.** A partitioned run (``partition="i/n"``) leases its partition only: the partitions of one
  sync hold disjoint users, so they run side by side. A run without a partition, or partitions of
  another count, overlap every partition and wait for them.
- **Retried attempts.** An attempt of the task run that holds the lease takes it over at once: Airflow
  runs one attempt of a task run at a time, so the holder is the dead attempt before it.
- **A worker that died** stops renewing: its lease is free once ``expires_at`` passes (:data:`LEASE_TTL`).
- **Order.** Within the lease, a run of an older logical date never overwrites a user that a run of a
  newer date wrote (:meth:`~.sync_ledger.SyncLedgerStore.newer_runs`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select, update

from airflow_provider_braze.state.engine import write_transaction
from airflow_provider_braze.state.schema import braze_sync_leases, braze_syncs

log = logging.getLogger(__name__)

#: Seconds a lease lasts without renewal: how long a run waits for a worker that died.
LEASE_TTL = 60.0
#: Seconds between renewals (a quarter of the time to live: three renewals may fail before it lapses).
RENEW_EVERY = LEASE_TTL / 4
#: Seconds between two tries of a waiting run.
POLL_EVERY = 2.0
#: Seconds between two log lines of a waiting run.
LOG_EVERY = 30.0


class SyncBusyError(Exception):
    """Another run of the sync held its lease for longer than this run would wait."""


@dataclass(frozen=True)
class LeaseHolder:
    """The run holding a lease, as the ledger shows it.

    :param scope: ``""`` (the whole sync) or the partition ``"i/n"``.
    :param run: the holder's run id in the ledger.
    :param holder: who it is, in words (DAG, run, task, try, host, process).
    :param acquired_at: unix seconds.
    :param expires_at: unix seconds: free after this unless renewed.
    """

    scope: str
    run: int
    holder: str
    acquired_at: float
    expires_at: float

    def describe(self, now: float) -> str:
        where = f"partition {self.scope}" if self.scope else "the whole sync"
        held, left = now - self.acquired_at, max(0.0, self.expires_at - now)
        return f"{self.holder} (holding {where} for {held:,.0f} s; free in {left:,.0f} s unless renewed)"


def scopes_overlap(a: str, b: str) -> bool:
    """Whether two runs' scopes may hold one user: the whole sync overlaps everything; partitions of
    one count overlap only themselves; partitions of different counts split users differently."""
    if not a or not b or a == b:
        return True
    return a.split("/", 1)[1] != b.split("/", 1)[1]


def holder_text(*, dag_id: str | None, run_id: str, task_id: str | None, map_index: int, try_number: int) -> str:
    """How a lease names its holder: enough to find its task instance and its process."""
    task = f"{dag_id}.{task_id}" if dag_id and task_id else (task_id or "an export")
    mapped = f"[{map_index}]" if map_index >= 0 else ""
    return f"{task}{mapped} of run {run_id!r}, try {try_number}, on {socket.gethostname()} (pid {os.getpid()})"


def try_acquire(conn: Connection, sync_id: int, scope: str, run: int, holder: str, now: float) -> LeaseHolder | None:
    """Take the lease of ``scope`` for ``run`` unless another live run holds an overlapping one.

    :returns: ``None`` once taken, else the live lease in the way.
    """
    if conn.dialect.name == "postgresql":
        # Serialises lease changes per sync (SQLite's BEGIN IMMEDIATE already serialises all writes).
        conn.execute(select(braze_syncs.c.id).where(braze_syncs.c.id == sync_id).with_for_update())
    t = braze_sync_leases.c
    rows = conn.execute(select(t.scope, t.run, t.holder, t.acquired_at, t.expires_at).where(t.sync_id == sync_id)).all()
    for row in rows:
        if row.run != run and row.expires_at > now and scopes_overlap(row.scope, scope):
            return LeaseHolder(row.scope, int(row.run), row.holder, row.acquired_at, row.expires_at)
    # Expired leases (workers that died) and this run's own (its dead attempt) give way.
    stale = [row.scope for row in rows if row.expires_at <= now or row.run == run or row.scope == scope]
    if stale:
        conn.execute(delete(braze_sync_leases).where(t.sync_id == sync_id, t.scope.in_(stale)))
    conn.execute(
        insert(braze_sync_leases).values(
            sync_id=sync_id, scope=scope, run=run, holder=holder, acquired_at=now, expires_at=now + LEASE_TTL
        )
    )
    return None


class SyncLease:
    """A held lease, renewed on a thread of its own until released.

    :param engine: the state store's engine.
    :param sync_id: the sync's id.
    :param scope: ``""`` or the partition.
    :param run: the holding run's id.
    :param clock: unix seconds.
    """

    def __init__(self, engine: Engine, sync_id: int, scope: str, run: int, clock: Callable[[], float]) -> None:
        self._engine, self.sync_id, self.scope, self.run, self._clock = engine, sync_id, scope, run, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Set when a renewal found the lease taken over or could not reach the store until it lapsed:
        #: the run must stop sending (another run may be writing the sync).
        self.lost: str | None = None

    def start(self) -> SyncLease:
        self._thread = threading.Thread(target=self._renew_until_stopped, name="braze-sync-lease", daemon=True)
        self._thread.start()
        return self

    def _renew_until_stopped(self) -> None:
        renewed = self._clock()
        while not self._stop.wait(RENEW_EVERY):
            try:
                if self.renew():
                    renewed = self._clock()
                    continue
                self.lost = "another run took the sync's lease over"
            except Exception as exc:  # noqa: BLE001 - the store may come back before the lease lapses
                if self._clock() - renewed < LEASE_TTL:
                    log.warning("Could not renew the sync's lease (%s); trying again in %.0f s.", exc, RENEW_EVERY)
                    continue
                self.lost = f"the lease could not be renewed for {LEASE_TTL:.0f} s ({exc})"
            log.error("Lost the sync's lease: %s. No further batch is sent.", self.lost)
            return

    def renew(self) -> bool:
        """Push the expiry forward; ``False`` when the lease is no longer this run's."""
        t = braze_sync_leases.c
        now = self._clock()
        with write_transaction(self._engine) as conn:
            result = conn.execute(
                update(braze_sync_leases)
                .where(t.sync_id == self.sync_id, t.scope == self.scope, t.run == self.run)
                .values(expires_at=now + LEASE_TTL)
            )
        return bool(result.rowcount)

    def stop_renewing(self) -> None:
        """Stop the renewals (the lease then lapses after :data:`LEASE_TTL`, as a dead worker's would)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=RENEW_EVERY)

    def release(self) -> None:
        """Stop renewing and give the lease back (the next waiting run takes it at its next try)."""
        self.stop_renewing()
        t = braze_sync_leases.c
        with write_transaction(self._engine) as conn:
            conn.execute(
                delete(braze_sync_leases).where(t.sync_id == self.sync_id, t.scope == self.scope, t.run == self.run)
            )


def wait_for_lease(
    engine: Engine,
    *,
    sync_key: str,
    sync_id: int,
    scope: str,
    run: int,
    holder: str,
    timeout: float,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] = time.sleep,
) -> SyncLease:
    """Take the lease, waiting while an overlapping run holds it; the lease is renewed until released.

    :param sync_key: the sync's key (for the messages).
    :param timeout: seconds to wait at most.
    :raises SyncBusyError: still held by another run after ``timeout`` seconds, naming it.
    """
    started = clock()
    logged = None
    while True:
        now = clock()
        with write_transaction(engine) as conn:
            blocking = try_acquire(conn, sync_id, scope, run, holder, now)
        if blocking is None:
            if logged is not None:
                log.info("Sync %r: the lease is ours after %.0f s of waiting.", sync_key, now - started)
            return SyncLease(engine, sync_id, scope, run, clock).start()
        waited = now - started
        if waited >= timeout:
            raise SyncBusyError(
                f"sync {sync_key!r} is being written by another run: {blocking.describe(now)}. Waited "
                f"{waited:,.0f} s (sync_lease_timeout={timeout:g}). Runs of one sync take turns so that no "
                "event is sent twice and no older date overwrites a newer one; let that run finish, or give "
                "this task a later retry."
            )
        if logged is None or now - logged >= LOG_EVERY:
            logged = now
            log.info(
                "Sync %r is being written by another run: %s. Waiting for it (%.0f of %g s).",
                sync_key,
                blocking.describe(now),
                waited,
                timeout,
            )
        sleep(min(POLL_EVERY, max(0.05, timeout - waited)))
