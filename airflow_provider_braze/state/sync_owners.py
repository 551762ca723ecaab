"""Who owns a sync: the task that made it, so that another task cannot read its ledger as its own.

A sync's ledger says what Braze holds *for the rows of one task's query*. A second task that used the
same ``sync_key`` by mistake (two DAGs copied from one template, say) would read "already sent" for
rows it never sent, and lose them. So a sync records its owner (DAG and task id) when it is made, and
a run of another task is refused before it sends anything, unless it says it shares the sync on
purpose. Renaming a task or DAG: ``braze-sync-ledger rename OLD NEW`` moves the ledger to the new key
and releases its owner; the next task to run it becomes the owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from airflow_provider_braze.state.engine import inserted_id
from airflow_provider_braze.state.ids import id_values
from airflow_provider_braze.state.schema import braze_sync_runs, braze_syncs


class SyncOwnedError(ValueError):
    """The sync key belongs to another task, and this one did not say it shares it."""


@dataclass(frozen=True)
class Owner:
    """The task that owns a sync.

    :param dag_id: its DAG.
    :param task_id: its task id.
    :param share: this task writes into the sync of another owner on purpose (``share_sync=True``).
    """

    dag_id: str
    task_id: str
    share: bool = False

    def __str__(self) -> str:
        return f"{self.dag_id}.{self.task_id}"


def sync_of(
    conn: Connection, sync_key: str, endpoint: str, mode: str, now: float, owner: Owner | None
) -> tuple[int, bool]:
    """``(id, created)`` of the sync ``sync_key``, created on first use, owned by ``owner``.

    :raises ValueError: the key belongs to a sync of another mode or endpoint.
    :raises SyncOwnedError: the key belongs to another task's sync.
    """
    s = braze_syncs.c
    found = conn.execute(
        select(s.id, s.endpoint, s.mode, s.owner_dag_id, s.owner_task_id).where(s.sync_key == sync_key)
    ).first()
    if found is None:
        return _insert_sync(conn, sync_key, endpoint, mode, now, owner)
    if (found.endpoint, found.mode) != (endpoint, mode):
        raise ValueError(
            f"sync_key {sync_key!r} belongs to a sync of {found.mode} to {found.endpoint}, not {mode} to "
            f"{endpoint}: give this export its own sync_key (or reset that sync first)."
        )
    if owner is None:
        return int(found.id), False
    if found.owner_dag_id is None:
        # Made before owners were kept, or released for a rename: this task takes it.
        conn.execute(
            update(braze_syncs).where(s.id == found.id).values(owner_dag_id=owner.dag_id, owner_task_id=owner.task_id)
        )
    elif (found.owner_dag_id, found.owner_task_id) != (owner.dag_id, owner.task_id) and not owner.share:
        raise SyncOwnedError(
            f"sync_key {sync_key!r} belongs to task {found.owner_task_id!r} of DAG {found.owner_dag_id!r}, "
            f"not to {owner}: its ledger would tell this task that rows it never sent were sent. Give "
            "this task its own sync_key; set share_sync=True if both tasks export into one sync on "
            f"purpose; or, if this task is that one renamed, run `braze-sync-ledger release {sync_key}` "
            "(the next task to run the sync becomes its owner)."
        )
    return int(found.id), False


def _insert_sync(
    conn: Connection, sync_key: str, endpoint: str, mode: str, now: float, owner: Owner | None
) -> tuple[int, bool]:
    values: dict[str, Any] = {"sync_key": sync_key, "endpoint": endpoint, "mode": mode, "created_at": now}
    if owner is not None:
        values.update(owner_dag_id=owner.dag_id, owner_task_id=owner.task_id)
    values.update(id_values(conn, "sync", sync_key))
    if "id" in values:
        # A warehouse (DuckDB has no savepoints): the id is the key's own, so a partition creating the
        # sync at the same moment makes the same row, and a conflict fails this attempt for its retry.
        return inserted_id(conn.execute(insert(braze_syncs).values(**values)), values["id"]), True
    try:
        with conn.begin_nested():
            return inserted_id(conn.execute(insert(braze_syncs).values(**values)), values.get("id")), True
    except IntegrityError:
        # A partition on another worker created it between our read and our insert.
        return sync_of(conn, sync_key, endpoint, mode, now, owner)


def owner_kin(conn: Connection, sync_id: int, mode: str, endpoint: str, owner: Owner | None) -> tuple[str, ...]:
    """Keys of other syncs of this kind, with runs, owned in ``owner``'s DAG or by a task of its id."""
    if owner is None:
        return ()
    s, r = braze_syncs.c, braze_sync_runs.c
    kin = conn.execute(
        select(s.sync_key)
        .where(
            s.id != sync_id,
            s.mode == mode,
            s.endpoint == endpoint,
            or_(s.owner_dag_id == owner.dag_id, s.owner_task_id == owner.task_id),
            exists().where(r.sync_id == s.id),
        )
        .order_by(s.sync_key)
    ).scalars()
    return tuple(kin)
