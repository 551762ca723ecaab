"""Looking at, settling and forgetting what the sync ledger holds for a sync.

What the ``braze-sync-ledger`` command (:mod:`.sync_ledger_cli`), the reset and settle operators and
tests do with a sync, as opposed to what an export run does (:mod:`.sync_ledger`). Each method is one
short transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update

from airflow_provider_braze.state.base import StateStore
from airflow_provider_braze.state.engine import read_transaction, write_transaction
from airflow_provider_braze.state.schema import (
    KEY_ACCEPTED,
    KEY_SENDING,
    KEY_UNKNOWN,
    braze_sync_keys,
    braze_sync_leases,
    braze_sync_problems,
    braze_sync_runs,
    braze_sync_user_values,
    braze_sync_users,
    braze_syncs,
)
from airflow_provider_braze.state.unrecorded_replay import replay_sync


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
    owner: str | None = None


class SyncLedgerAdmin(StateStore):
    """Inspecting and forgetting syncs of the ledger: the base of :class:`~.sync_ledger.SyncLedgerStore`,
    built as every :class:`~.base.StateStore` is."""

    def find_sync(self, sync_key: str) -> int | None:
        """The id of the sync with this key, or ``None`` when it has never run."""
        self.ensure_schema()
        with read_transaction(self._engine) as conn:
            return conn.execute(select(braze_syncs.c.id).where(braze_syncs.c.sync_key == sync_key)).scalar()

    def sync_keys(self) -> list[str]:
        """Every sync the ledger knows, by key."""
        self.ensure_schema()
        with read_transaction(self._engine) as conn:
            return list(conn.execute(select(braze_syncs.c.sync_key).order_by(braze_syncs.c.sync_key)).scalars())

    def state(self, sync_key: str) -> SyncState | None:
        """Counts of what the ledger holds for a sync, or ``None`` when it has never run."""
        self.ensure_schema()
        s, u, k, p, r = braze_syncs.c, braze_sync_users.c, braze_sync_keys.c, braze_sync_problems.c, braze_sync_runs.c
        with read_transaction(self._engine) as conn:
            sync = conn.execute(
                select(s.id, s.endpoint, s.mode, s.owner_dag_id, s.owner_task_id).where(s.sync_key == sync_key)
            ).first()
            if sync is None:
                return None
            users = conn.execute(
                select(func.count()).select_from(braze_sync_users).where(u.sync_id == sync.id)
            ).scalar_one()
            keys: dict[str, int] = dict(
                conn.execute(select(k.status, func.count()).where(k.sync_id == sync.id).group_by(k.status))
                .tuples()
                .all()
            )
            problems: dict[str, int] = dict(
                conn.execute(
                    select(p.status, func.count())
                    .where(p.sync_id == sync.id, p.resolved_run.is_(None))
                    .group_by(p.status)
                )
                .tuples()
                .all()
            )
            runs = conn.execute(
                select(func.count()).select_from(braze_sync_runs).where(r.sync_id == sync.id)
            ).scalar_one()
        owner = f"{sync.owner_dag_id}.{sync.owner_task_id}" if sync.owner_dag_id is not None else None
        return SyncState(sync_key, sync.endpoint, sync.mode, users, keys, problems, runs, owner)

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

    def keys_with_status(self, sync_id: int, statuses: Iterable[str]) -> list[tuple[bytes, str, str | None]]:
        """``(item_key, status, row_ref)`` of a sync's keys in these statuses (unknown ones, say)."""
        k = braze_sync_keys.c
        with read_transaction(self._engine) as conn:
            rows = conn.execute(
                select(k.item_key, k.status, k.row_ref).where(k.sync_id == sync_id, k.status.in_(list(statuses)))
            ).all()
        return [(bytes(key), status, ref) for key, status, ref in rows]

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
                braze_sync_leases,
                braze_sync_runs,
            ):
                conn.execute(delete(table).where(table.c.sync_id == sync_id))
            conn.execute(delete(braze_syncs).where(braze_syncs.c.id == sync_id))
        return True

    def rename(self, sync_key: str, new_key: str, *, spool_roots: Sequence[Path] | None = None) -> bool:
        """Move a sync's ledger to a new key (a task or DAG renamed); ``False`` if it was unknown.

        Its owner is released: the next task to run the sync under ``new_key`` becomes its owner. Its
        unrecorded spools on this machine are recorded first: they are filed under the old key, where
        the sync's runs under the new one would not look.

        :param spool_roots: where to look for spools (default: where exports write them).
        :raises ValueError: ``new_key`` names a sync already.
        :raises UnrecordedSpoolError: a spool of the sync cannot be read or applied: nothing is renamed.
        """
        if self.find_sync(new_key) is not None:
            raise ValueError(
                f"sync {new_key!r} exists already: reset it first if its ledger is to be replaced by {sync_key!r}'s."
            )
        replay_sync(self, sync_key, spool_roots)
        s = braze_syncs.c
        with write_transaction(self._engine) as conn:
            moved = conn.execute(
                update(braze_syncs)
                .where(s.sync_key == sync_key)
                .values(sync_key=new_key, owner_dag_id=None, owner_task_id=None)
            ).rowcount
        return bool(moved)

    def release_owner(self, sync_key: str) -> bool:
        """Forget which task owns a sync (the next task to run it becomes its owner); ``False`` if unknown."""
        self.ensure_schema()
        s = braze_syncs.c
        with write_transaction(self._engine) as conn:
            found = conn.execute(
                update(braze_syncs).where(s.sync_key == sync_key).values(owner_dag_id=None, owner_task_id=None)
            ).rowcount
        return bool(found)

    def settle_unknown(self, sync_key: str, *, delivered: bool, spool_roots: Sequence[Path] | None = None) -> int:
        """Decide the rows of unknown outcome (and those an interrupted attempt left ``sending``).

        Outcomes Braze had answered that an export could not record (its unrecorded spools on this
        machine, :mod:`.unrecorded_spool`) are recorded first, so a delivered event is never settled as
        not delivered, and so sent twice.

        :param delivered: ``True`` after checking in Braze that they arrived: they count as accepted and
            are never sent again. ``False``: they did not arrive; they are forgotten, and the next run
            sends them.
        :param spool_roots: where to look for spools (default: where exports write them).
        :returns: how many rows were settled.
        :raises UnrecordedSpoolError: a spool of the sync cannot be read or applied (or a running export
            still writes it): nothing is settled.
        """
        replay_sync(self, sync_key, spool_roots)
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
