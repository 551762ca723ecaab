"""Replaying unrecorded spools: outcomes Braze answered, kept in a file while the store failed, put into it.

The rule, per object of a spool (:mod:`.unrecorded_spool`):

- **accepted** event, purchase or increment: its key becomes ``accepted`` (inserted if missing), so
  no run sends it again and none holds it back as unsettled;
- **accepted** attribute row: the user's row digest and fingerprints are written, unless the store
  holds a later answer for that user (newest answer wins);
- **rejected** or **released**: its key is forgotten, if it is still this run's ``sending`` or
  ``unknown`` intent (a key accepted since is never touched), so a later run sends it; the row is
  filed as a problem (``rejected`` or ``failed``) of its run.

A file is applied in one transaction that also notes its id in the store, then removed: a crash before
the commit leaves the file for the next attempt, one after it finds the note and only removes the file.
It is applied only to the store whose salt it was written under, and only while its sync exists (a
sync reset since has forgotten those rows: its spool is removed; one renamed is still the same sync).
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from airflow_provider_braze.state import sync_ledger_sql as sql
from airflow_provider_braze.state.base import StateStore
from airflow_provider_braze.state.engine import read_transaction, write_transaction
from airflow_provider_braze.state.schema import (
    KEY_ACCEPTED,
    braze_sync_problems,
    braze_sync_settings,
    braze_syncs,
)
from airflow_provider_braze.state.sync_ledger_lookups import user_key
from airflow_provider_braze.state.unrecorded_spool import (
    ACCEPTED,
    REJECTED,
    Spool,
    SpoolBusy,
    SpooledOutcome,
    UnrecordedSpoolError,
    parse_spool,
    spool_files,
    store_id,
)

log = logging.getLogger(__name__)

#: The name under which the store keeps its salt (``braze_sync_settings``, see :mod:`.sync_ledger`).
_SALT = "salt"
#: ``braze_sync_settings`` names of the spools a store has applied.
_MARK = "spool:"
# An accepted key is accepted whoever holds it, and becomes the spool's run's: the outcomes another run
# records later (they touch only that run's keys) then leave it accepted.
_ACCEPT_KEYS = (
    "INSERT INTO braze_sync_keys (sync_id, item_key, status, run, row_ref, updated_at) VALUES {values} "
    "ON CONFLICT (sync_id, item_key) DO UPDATE SET status = excluded.status, run = excluded.run, "
    "row_ref = excluded.row_ref, updated_at = excluded.updated_at"
)
# A released key is forgotten only while it is still the intent its run wrote.
_DELETE_RELEASED = (
    "DELETE FROM braze_sync_keys WHERE sync_id = ? AND run = ? AND status <> 'accepted' AND item_key IN ({in})"
)
_USERS_UPDATED = "SELECT user_key, updated_at FROM braze_sync_users WHERE user_key IN ({in})"

REPLAYED, ALREADY_REPLAYED, OBSOLETE, OTHER_STORE = "replayed", "already replayed", "obsolete", "other store"


@dataclass(frozen=True)
class Replayed:
    """What became of one spool file.

    :param path: the file.
    :param status: ``replayed``, ``already replayed`` (its note was in the store: only removed),
        ``obsolete`` (its sync was reset or is gone: removed), ``other store`` (written for another
        store: left alone).
    :param counts: its outcomes per kind.
    """

    path: Path
    status: str
    counts: dict[str, int]

    @property
    def outcomes(self) -> int:
        return sum(self.counts.values())


def replay_file(store: StateStore, path: Path, *, sync_key: str | None = None, wait: float = 0.0) -> Replayed:
    """Apply one spool file to the store and remove it (see the module's docstring for the rule).

    :param store: the store holding the sync ledger.
    :param path: the spool file.
    :param sync_key: refuse a file of another sync.
    :param wait: seconds to wait for a file another process holds (another replay of it finishes in
        a moment; an export writing it holds it until it ends).
    :raises SpoolBusy: a running export still writes it.
    :raises UnrecordedSpoolError: it cannot be read, is not a spool, or is of another sync.
    :raises StateStoreError: the store failed (the file is left for later).
    """
    try:
        handle = path.open("rb")
    except FileNotFoundError:  # replayed and removed by another process since it was listed
        return Replayed(path, ALREADY_REPLAYED, {})
    except OSError as exc:
        raise UnrecordedSpoolError(path, f"cannot be opened ({exc.strerror or exc})") from None
    with handle:
        _lock(handle.fileno(), path, wait)
        if not _still_named(handle.fileno(), path):  # replayed and removed by another process meanwhile
            return Replayed(path, ALREADY_REPLAYED, {})
        spool = parse_spool(path, handle.read())
        if sync_key is not None and spool.header.sync_key != sync_key:
            raise UnrecordedSpoolError(path, f"it holds sync {spool.header.sync_key!r}, not {sync_key!r}")
        status = _apply(store, spool)
        if status != OTHER_STORE:
            path.unlink()  # still under the lock: no other replay reads it meanwhile
    if spool.torn:
        log.warning("The last line of the unrecorded spool %s was cut short (a crash while writing it).", path)
    return Replayed(path, status, spool.counts())


def _lock(fd: int, path: Path, wait: float) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise SpoolBusy(path, "in use by a running export (it is still being written)") from None
            time.sleep(0.1)


def _still_named(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the open file (not removed, nor replaced by a new spool of that name)."""
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def replay_sync(
    store: StateStore,
    sync_key: str,
    roots: Sequence[Path] | None = None,
    *,
    skip_busy: bool = False,
    wait: float = 0.0,
) -> list[Replayed]:
    """Apply every spool file of a sync found on this machine, oldest first.

    :param roots: where to look (default: where exports write them).
    :param skip_busy: leave a file that a running export still writes (its rows stay held back), instead
        of refusing.
    :param wait: seconds to wait for each file another process holds, first.
    :raises UnrecordedSpoolError: a file cannot be read or applied (the others before it are applied).
    """
    done = []
    for path in spool_files(sync_key, roots):
        try:
            result = replay_file(store, path, sync_key=sync_key, wait=wait)
        except SpoolBusy:
            if not skip_busy:
                raise
            log.warning("The unrecorded spool %s is still being written by a running export; left for later.", path)
            continue
        done.append(result)
        if result.status == REPLAYED:
            log.info(
                "Recorded %s outcomes Braze had answered (%s) from the unrecorded spool %s into sync %r.",
                f"{result.outcomes:,}",
                ", ".join(f"{n:,} {kind}" for kind, n in result.counts.items() if n),
                path,
                sync_key,
            )
        elif result.status == OTHER_STORE:
            log.warning("The unrecorded spool %s belongs to another state store; it is left alone.", path)
        else:
            log.info("The unrecorded spool %s was %s; removed.", path, result.status)
    return done


def _apply(store: StateStore, spool: Spool) -> str:
    header = spool.header
    store.ensure_schema()
    s, t = braze_syncs.c, braze_sync_settings.c
    with read_transaction(store.engine) as conn:
        salt = conn.execute(select(t.value).where(t.name == _SALT)).scalar()
        # By its id: a sync renamed since is the same sync; one reset (and made anew) is not.
        sync = conn.execute(select(s.id).where(s.id == header.sync_id)).scalar()
    if salt is None or store_id(bytes(salt)) != header.store_id:
        return OTHER_STORE
    if sync is None:
        log.warning(
            "The unrecorded spool %s is of sync %r as it was before a reset; the reset forgot those rows.",
            spool.path,
            header.sync_key,
        )
        return OBSOLETE
    now = time.time()
    with write_transaction(store.engine) as conn:
        mark = f"{_MARK}{header.id}"
        if conn.execute(select(t.name).where(t.name == mark)).first() is not None:
            return ALREADY_REPLAYED
        _apply_outcomes(conn, header.sync_id, header.run, spool.outcomes, now)
        conn.execute(insert(braze_sync_settings).values(name=mark, value=str(now).encode()))
    return REPLAYED


def _apply_outcomes(conn: Connection, sync_id: int, run: int, outcomes: Sequence[SpooledOutcome], now: float) -> None:
    accepted = [o for o in outcomes if o.outcome == ACCEPTED]
    others = [o for o in outcomes if o.outcome != ACCEPTED]
    keys = [(sync_id, o.key, KEY_ACCEPTED, run, o.row, o.at or now) for o in accepted if o.key is not None]
    sql.upsert(conn, _ACCEPT_KEYS, keys, key_width=2)
    _write_users(conn, sync_id, run, [o for o in accepted if o.prints is not None], now)
    released = [o.key for o in others if o.key is not None]
    if released:
        sql.execute_in(conn, _DELETE_RELEASED, released, sync_id, run)
    _file_problems(conn, sync_id, run, others, now)
    _resolve(conn, sync_id, run, [o.item for o in accepted])


def _write_users(conn: Connection, sync_id: int, run: int, users: list[SpooledOutcome], now: float) -> None:
    """Write accepted attribute rows, except where the store holds a later answer for the user."""
    if not users:
        return
    latest: dict[bytes, SpooledOutcome] = {}
    for o in users:
        latest[o.item] = o
    stored: dict[int, float] = {}
    for i in range(0, len(latest), sql.MAX_PARAMETERS):
        part = list(latest)[i : i + sql.MAX_PARAMETERS]
        stored.update((k, float(at)) for k, at in sql.select_in(conn, _USERS_UPDATED, [user_key(u) for u in part]))
    kept = [o for o in latest.values() if stored.get(user_key(o.item), float("-inf")) <= (o.at or now)]
    rows = [(user_key(o.item), sync_id, o.item, o.digest or b"", o.points, run, o.at or now) for o in kept]
    sql.upsert(conn, sql.UPSERT_USERS, rows, key_width=1)
    sql.upsert(conn, sql.UPSERT_USER_VALUES, [(user_key(o.item), sync_id, o.prints) for o in kept], key_width=1)


def _file_problems(conn: Connection, sync_id: int, run: int, others: list[SpooledOutcome], now: float) -> None:
    """File refused and failed rows as problems of their run, once (a file may hold a row twice)."""
    if not others:
        return
    p = braze_sync_problems.c
    filed = {
        (bytes(item), status)
        for item, status in conn.execute(
            select(p.item_key, p.status).where(
                p.sync_id == sync_id, p.run == run, p.item_key.in_(bindparam("items", expanding=True))
            ),
            {"items": list({o.item for o in others})},
        )
    }
    rows: dict[tuple[bytes, str], dict[str, Any]] = {}
    for o in others:
        status = "rejected" if o.outcome == REJECTED else "failed"
        if (o.item, status) not in filed:
            rows[(o.item, status)] = {
                "sync_id": sync_id,
                "run": run,
                "item_key": o.item,
                "row_ref": o.row,
                "status": status,
                "column_name": None,
                "reason": None,  # never spooled: a reason may quote a value
                "created_at": o.at or now,
            }
    if rows:
        conn.execute(insert(braze_sync_problems), list(rows.values()))


def _resolve(conn: Connection, sync_id: int, run: int, items: list[bytes]) -> None:
    """Close the open problems of rows now accepted, as recording them would have."""
    if not items:
        return
    p = braze_sync_problems.c
    for i in range(0, len(items), sql.MAX_PARAMETERS):
        conn.execute(
            update(braze_sync_problems)
            .where(
                p.sync_id == sync_id,
                p.resolved_run.is_(None),
                p.item_key.in_(bindparam("items", expanding=True)),
            )
            .values(resolved_run=run),
            {"items": items[i : i + sql.MAX_PARAMETERS]},
        )
