"""What to send of each object: decided against what is in flight and what the sync ledger holds.

The per-object half of the incremental stage (:mod:`.planner` streams the rows and chunks through
it). An object is first *prepared* (the user hash or event key it is known by), a chunk's objects are
*looked up* at once (the :class:`~.overlay.Overlay` first, then the ledger), then each is *decided*:
attributes value by value against the user's fingerprints, events, purchases and increments by their
guarded key. An object to send leaves with its :class:`Entry` and is held in the overlay until its
batch's outcome is recorded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from airflow_provider_braze.braze.data_points import data_points
from airflow_provider_braze.braze.items import InvalidRecord, Item
from airflow_provider_braze.incremental.journal import LedgerJournal
from airflow_provider_braze.incremental.keys import (
    PROCESSING_FLAGS,
    column_key,
    fingerprint,
    identity,
    is_operation,
    is_repeatable_operation,
    object_key,
    user_hasher,
)
from airflow_provider_braze.incremental.overlay import Overlay
from airflow_provider_braze.incremental.waiting import WaitingRows
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.state.schema import KEY_ACCEPTED
from airflow_provider_braze.state.sync_leases import SyncLease
from airflow_provider_braze.state.sync_ledger import LedgerReader, SyncLedgerStore, SyncRun

log = logging.getLogger(__name__)

_encode_prints = msgspec.msgpack.Encoder().encode
_decode_prints = msgspec.msgpack.Decoder(dict[str, int]).decode


@dataclass(frozen=True, slots=True)
class Entry:
    """What the ledger records for one object once Braze answers.

    :param item_key: the user hash (attributes) or the event key: problems are filed under it.
    :param prints: attributes: the user's fingerprints to store when accepted.
    :param guard: the key written before sending (events, purchases, increments), if any.
    :param whole: attributes: the digest of the source row (empty for a row with operations): the
        next run settles this user's row by it.
    :param points: attributes: data points of the whole row (what a later run saves by settling it).
    """

    item_key: bytes
    prints: bytes | None = None
    guard: bytes | None = None
    whole: bytes | None = None
    points: int = 0


#: An object with what it is looked up by, a plain tuple (built a million times a run):
#: ``(item, identity field, user hash, guarded key, source row digest)``; ``None`` where it does not
#: apply. Attributes have an identity field and a user hash; events, purchases and increments a
#: guarded key; attributes without operations their source row's digest.
_Prepared = tuple[Item, "str | None", "bytes | None", "bytes | None", "bytes | None"]


#: A chunk's lookup: pending users, stored users, pending keys, stored keys.
_Known = tuple[
    dict[bytes, Any],
    Mapping[bytes, tuple[bytes, bytes | None, int]],
    dict[bytes, Entry],
    Mapping[bytes, tuple[str, int]],
]


class ObjectDecisions:
    """Prepares, looks up and decides objects, and holds what is in flight; the base of
    :class:`~.planner.IncrementalSync`, which streams rows and chunks through it.

    :param attributes: whether the objects are attributes (else events or purchases). The other
        parameters are :class:`~.planner.IncrementalSync`'s, passed on unchanged.
    """

    def __init__(
        self,
        store: SyncLedgerStore,
        run: SyncRun | None,
        *,
        attributes: bool,
        report: ExportLedger,
        only_changed: bool,
        full_resync: bool,
        retry_ambiguous: bool,
        key_column: str | None,
        record: bool,
        stop_on_invalid: bool,
        newer_runs: frozenset[int] = frozenset(),
        lease: SyncLease | None = None,
    ) -> None:
        self.store, self.run, self.report = store, run, report
        self.lease = lease
        # Runs of a later logical date: a user one of them wrote is not overwritten by this run.
        self._newer_runs = newer_runs
        self.attributes = attributes
        self.only_changed = only_changed
        self.full_resync = full_resync
        self.retry_ambiguous = retry_ambiguous
        self.key_column = key_column
        self.stop_on_invalid = stop_on_invalid
        #: Set when a row stops the export (rows before it are still sent).
        self.stopped = False
        # A dry run of a sync that never ran looks nothing up: any key will do, and none is stored.
        self.salt = run.salt if run is not None else os.urandom(16)
        # The sync's id is hashed into every user's key, so two syncs' rows for one user never meet.
        self._sync_prefix = f"{run.sync_id}:" if run is not None else ""
        self._hash_user = user_hasher(self.salt)
        # Attributes rows unchanged as a whole are settled by their source row's digest alone.
        self._settle_by_row = attributes and only_changed and not full_resync and run is not None
        self.overlay = Overlay()
        # Rows waiting for an earlier row of their user to be answered (last row wins).
        self.waiting = WaitingRows()
        self._waiting_users = self.waiting.rows  # the same dict: one lookup per planned row
        # The ledger's reads while a planning pass runs (``None``: the store's own).
        self._reader: LedgerReader | None = None
        # What the sender tells as batches go and come back (writes nothing on a dry run).
        user_key = (lambda text: self._hash_user(self._sync_prefix + text)) if attributes else None
        self.journal = LedgerJournal(
            store,
            run if record and run is not None else None,
            self.overlay,
            report,
            user_key,
            reclaim=retry_ambiguous,
            lease=lease,
        )

    def _prepare_attributes(self, item: Item, whole: bytes | None) -> _Prepared:
        """What an attributes object is decided by: its identity field and user hash (``None`` for an
        object without identifier; the builder guarantees one: never guess whose row it is), its source
        row's digest, which operations lose (they are always sent), and for a non-repeatable operation
        a key, guarded like an event within this run."""
        obj = item.value
        found = identity(obj)
        if found is None:
            return (item, None, None, None, None)
        field, text = found
        user = self._hash_user(self._sync_prefix + field + ":" + text)
        guard = None
        # Operations are dicts; most rows hold none, and this test runs at C speed.
        if dict in map(type, obj.values()) and any(is_operation(v) for v in obj.values()):
            whole = None
            if any(is_operation(v) and not is_repeatable_operation(v) for v in obj.values()):
                # An increment counts again when resent: guarded like an event, within this run only.
                guard = object_key({**obj, "$run": None if self.run is None else self.run.run}, self.salt)
        return (item, field, user, guard, whole)

    def _prepare_events(self, chunk: list[Item]) -> list[_Prepared]:
        """Events and purchases: the key each is known by (its key column's, or its content's)."""
        salt, key_column = self.salt, self.key_column
        prepared: list[_Prepared] = []
        for item in chunk:
            obj = item.value
            if key_column is None:
                prepared.append((item, None, None, object_key(obj, salt), None))
                continue
            value = (obj.get("properties") or {}).get(key_column)
            if value is None or value == "":
                self._missing_key(item)
                if self.stopped:
                    break
                continue
            prepared.append((item, None, None, column_key(value, salt), None))
        return prepared

    def _look_up(self, prepared: list[_Prepared]) -> _Known:
        """What is pending in this attempt, then what the ledger holds, for a chunk.

        The overlay is read first: an entry leaves it only after its outcome is committed, so a key
        that is not pending now is either new or already visible to the read that follows.
        """
        users = [p[2] for p in prepared if p[2] is not None]
        keys = [p[3] for p in prepared if p[3] is not None]
        pending_users, pending_keys = self.overlay.snapshot(users, keys)
        stored_users: Mapping[bytes, tuple[bytes, bytes | None, int]] = {}
        stored_keys: Mapping[bytes, tuple[str, int]] = {}
        if self.run is not None:
            missing_users = [u for u in users if u not in pending_users] if pending_users else users
            if missing_users:
                stored_users = (self._reader or self.store).users(self.run.sync_id, missing_users)
            missing_keys = [k for k in keys if k not in pending_keys] if pending_keys else keys
            if missing_keys:
                stored_keys = self.store.keys(self.run.sync_id, missing_keys)
        return pending_users, stored_users, pending_keys, stored_keys

    def _decide(self, prepared: list[_Prepared], known: _Known) -> Iterator[Item]:
        """Yield what to send of a chunk of events or purchases, in source order."""
        this_run = None if self.run is None else self.run.run
        for p in prepared:
            send = self._decide_one(p, known, this_run)
            if send is not None:
                yield send

    def _decide_one(self, p: _Prepared, known: _Known, this_run: int | None) -> Item | None:
        """What to send of one object, with its entry, held in the overlay; ``None`` when nothing is sent.

        A row sees what earlier rows decided: they are in ``known``'s pending maps.
        """
        pending_users, stored_users, pending_keys, stored_keys = known
        item, _, user, key, _ = p
        if key is not None and not self._guard_allows(item, key, pending_keys, stored_keys):
            return None
        if user is None:
            if key is None:  # an object the ledger cannot name
                return item
            send = Item(item.key, item.value, item.ref, Entry(key, None, key))
        else:
            decided = self._decide_attributes(p, user, pending_users, stored_users, this_run)
            if decided is None:
                return None
            send = decided
        entry = send.sync
        if user is not None:
            self.journal.drop_rekey(user)
        if key is not None:
            pending_keys[key] = entry
        # In the overlay before it leaves: its batch may be answered before this generator resumes.
        self.overlay.hold(user, pending_users[user] if user is not None else None, key, entry)
        return send

    def _decide_attributes(
        self,
        p: _Prepared,
        uh: bytes,
        pending_users: dict[bytes, Any],
        stored_users: Mapping[bytes, tuple[bytes, bytes | None, int]],
        this_run: int | None,
    ) -> Item | None:
        """The part of an attributes object to send, with its entry; ``None`` when nothing is sent.

        :param uh: the user hash of ``p`` (set for every attributes object).
        """
        item, id_field, _, key, whole = p
        pending = pending_users.get(uh)
        if pending is not None or uh in self._waiting_users:
            # An earlier row of this user is in flight (or waits): Braze must apply this one after it,
            # whatever the answers' latency, so it waits until that row's outcome is recorded.
            self.waiting.add(uh, p)
            return None
        stored = stored_users.get(uh)
        if stored is not None and stored[2] in self._newer_runs:
            self.report.superseded += 1  # a run of a later date wrote this user: that value stands
            return None
        last_whole, last_run = (stored[0], stored[2]) if stored is not None else (None, None)
        same_run = last_run is not None and last_run == this_run
        # The source row as last accepted (a retried attempt, or a row settled while one was in flight).
        if whole is not None and whole == last_whole and not self.full_resync and self._skip_unchanged(item, same_run):
            return None
        prints = {} if stored is None or stored[1] is None else _decode_prints(stored[1])
        obj = item.value
        send, new_prints, changed, operations = self._diff(obj, id_field, prints)
        if not changed and not operations and not self.full_resync and self._skip_unchanged(item, same_run):
            if self._settle_by_row and stored is not None and whole is not None:
                # Braze holds these values under another digest (a new release, a builder setting,
                # a column's order): store this one, so later runs settle the row without building it.
                self.journal.rekey(uh, whole, _encode_prints(new_prints), data_points(item.key, obj))
            return None
        points = data_points(item.key, obj)
        if len(send) != len(obj):
            self.report.data_points_saved += points - data_points(item.key, send)
        # A row with operations keeps no digest: its next run must send them again.
        entry = Entry(uh, _encode_prints(new_prints), key, whole if whole is not None else b"", points)
        pending_users[uh] = (whole, new_prints, entry)
        return Item(item.key, send if len(send) != len(obj) else obj, item.ref, entry)

    def _skip_unchanged(self, item: Item, same_run: bool) -> bool:
        """Whether a row with nothing new is left out, counting why."""
        if self.only_changed:
            self.report.unchanged += 1
            self.report.data_points_saved += data_points(item.key, item.value)
            return True
        if same_run:
            self.report.already_sent += 1  # a retried attempt: an earlier attempt had it accepted
            return True
        return False

    def _diff(
        self, obj: dict[str, Any], id_field: str | None, prints: dict[str, int]
    ) -> tuple[dict[str, Any], dict[str, int], bool, bool]:
        """What to send of ``obj`` given the user's fingerprints: ``(object, new fingerprints, changed,
        operations)``."""
        send: dict[str, Any] = {}
        new_prints: dict[str, int] = {} if self.full_resync else dict(prints)
        changed = operations = False
        for name, value in obj.items():
            if name == id_field or name in PROCESSING_FLAGS:
                send[name] = value
                continue
            if is_operation(value):
                send[name] = value
                operations = True
                new_prints.pop(name, None)  # Braze's value after an operation is not known here
                continue
            print_ = fingerprint(value)
            if self.full_resync or prints.get(name) != print_:
                changed = True
                send[name] = value
            elif not self.only_changed:
                send[name] = value
            new_prints[name] = print_
        return send, new_prints, changed, operations

    def _missing_key(self, item: Item) -> None:
        key_column = self.key_column
        invalid = InvalidRecord(
            item.ref,
            key_column,
            f"{key_column} is empty; with event_key_column={key_column!r} every row needs its unique key",
            item.value,
        )
        self.report.skip(invalid)
        self.journal.invalid(invalid)
        if self.stop_on_invalid:
            self.stopped = True  # rows before it are still sent, then the export fails

    def _guard_allows(
        self, item: Item, key: bytes, pending: Mapping[bytes, Any], stored: Mapping[bytes, tuple[str, int]]
    ) -> bool:
        """Whether a guarded object may be sent; counts why not."""
        if key in pending:
            self.report.duplicate_rows += 1
            if self.report.duplicate_rows <= 5:
                log.warning("Row %s repeats an earlier row of this run (same key); it is not sent again.", item.ref)
            return False
        found = stored.get(key)
        if found is None:
            return True
        if found[0] == KEY_ACCEPTED:
            self.report.already_sent += 1
            return False
        if self.retry_ambiguous:
            self.report.possible_duplicates += 1  # at-least-once, as asked: it may now arrive twice
            return True
        self.report.unsettled += 1
        return False

    def release(self, items: Iterable[Item]) -> None:
        """Forget planned objects that will not be recorded (a dry run's batches)."""
        self.overlay.forget(item.sync for item in items)
