"""The incremental stage: between the record builder and the sender, it asks the sync ledger what is done.

Per chunk it reads the ledger in bulk, then decides each object in source order. Attribute syncs take
source rows, not objects: with ``only_changed`` a row whose digest (:mod:`.source_digest`) is its
user's last accepted row is settled by one index probe, never built; the others are built, looked up
in full and compared value by value.

- **attributes**: the values whose fingerprint differs from the last accepted write for the user are
  sent; with ``only_changed`` the others are left out and a row with nothing left is not sent
  (``unchanged``). Without it the whole row is sent, except on a retried attempt of the same run,
  which skips rows that attempt already had accepted (``already_sent``). Operations (``inc``,
  ``add`` ...) are always sent; an ``inc`` or ``$add`` row is guarded like an event, within its run.
- **events and purchases**: known by their key; a key Braze accepted before is not sent again
  (``already_sent``), one whose outcome is unknown is held back (``unsettled``) unless
  ``retry_ambiguous``, and one seen earlier in this attempt is a duplicate row (``duplicate_rows``).

What is planned but not yet recorded lives in the :class:`~.overlay.Overlay` until the batch's outcome
is durable, so a later row for the same user or key sees it; the :class:`~.journal.LedgerJournal`
writes intents before guarded objects leave and each batch's outcomes from the thread that sent it:
after a crash at most the batches in flight are sent again, and guarded ones never are.
"""

from __future__ import annotations

import enum
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
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
from airflow_provider_braze.incremental.source_digest import source_digester
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.sources.base import SourceRow
from airflow_provider_braze.state.schema import KEY_ACCEPTED
from airflow_provider_braze.state.sync_ledger import LedgerReader, SyncLedgerStore, SyncRun, user_key

log = logging.getLogger(__name__)

#: Objects looked up in the ledger at once.
DEFAULT_CHUNK = 2_000

_encode_prints = msgspec.msgpack.Encoder().encode
_decode_prints = msgspec.msgpack.Decoder(dict[str, int]).decode


class Stop(enum.Enum):
    """What a :data:`Build` callback returns for a row that stops the export (an invalid row while
    ``skip_on_invalid_records`` is off): rows before it are still sent."""

    STOP = "stop"


#: Builds one source row: its object, ``None`` for a row not to send (invalid and skipped, or of
#: another partition; counted and reported by the callback), or :attr:`Stop.STOP`.
Build = Callable[[int, Mapping[str, Any], str | None], Item | Stop | None]


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


#: Marks a row settled by its digest, never built.
_SETTLED = object()


@dataclass
class _Staged:
    """A chunk of source rows ready to be decided: its digests, what was in flight, its probe."""

    chunk: list[SourceRow]
    digests: list[bytes | None]
    held: dict[int, tuple[bytes, Any]]
    settled: Future[dict[bytes, tuple[int, int]]] | None


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class IncrementalSync:
    """Decides what to send from the sync ledger, and records Braze's answers in it.

    :param store: the ledger.
    :param run: this run, from :meth:`SyncLedgerStore.open_run`; ``None`` for a dry run of a sync
        that has never run (nothing to look up).
    :param record_type: ``attributes``, ``events`` or ``purchases``.
    :param report: the run's counts (``unchanged``, ``already_sent`` ... are added there).
    :param only_changed: attributes: send only values that differ from the last accepted write.
    :param full_resync: attributes: ignore the fingerprints this run, send everything, rewrite them.
    :param retry_ambiguous: send again events whose earlier outcome is unknown (at-least-once).
    :param key_column: events and purchases: the property holding a unique key of the row.
    :param record: write to the ledger (``False`` for a dry run: look up only).

    :ivar journal: the :class:`~airflow_provider_braze.braze.sender.SendJournal` to hand the sender.
    :param stop_on_invalid: stop at the first row found invalid here (a missing event key), as the
        export does when ``skip_on_invalid_records`` is off.
    :param chunk_size: objects per bulk lookup.
    :param builder_settings: attributes: the record builder's
        :meth:`~airflow_provider_braze.records.builder.RowBuilder.settings` (``None``: rows are never
        settled by their source digest, only by their values).
    :param partition: the partition this task exports (``"1/4"``), if any: a row is settled by its
        digest only under the same split.
    """

    def __init__(
        self,
        store: SyncLedgerStore,
        run: SyncRun | None,
        *,
        record_type: str,
        report: ExportLedger,
        only_changed: bool = False,
        full_resync: bool = False,
        retry_ambiguous: bool = False,
        key_column: str | None = None,
        record: bool = True,
        stop_on_invalid: bool = False,
        chunk_size: int = DEFAULT_CHUNK,
        builder_settings: str | None = None,
        partition: str | None = None,
    ) -> None:
        if record_type not in ("attributes", "events", "purchases"):
            raise ValueError(f"the sync ledger tracks attributes, events and purchases, not {record_type!r}")
        self.store, self.run, self.report = store, run, report
        self.attributes = record_type == "attributes"
        self.only_changed = only_changed
        self.full_resync = full_resync
        self.retry_ambiguous = retry_ambiguous
        self.key_column = key_column
        record = record and run is not None
        self.stop_on_invalid = stop_on_invalid
        self.stopped = False
        self.chunk_size = chunk_size
        # A dry run of a sync that never ran looks nothing up: any key will do, and none is stored.
        self.salt = run.salt if run is not None else os.urandom(16)
        # The sync's id is hashed into every user's key, so two syncs' rows for one user never meet.
        self._sync_prefix = f"{run.sync_id}:" if run is not None else ""
        self._hash_user = user_hasher(self.salt)
        context = None if builder_settings is None else f"{self._sync_prefix}{partition}\x00{builder_settings}"
        self._digest = source_digester(self.salt, context)
        # Attributes rows unchanged as a whole are settled by their source row's digest alone.
        self._settle_by_row = self.attributes and only_changed and not full_resync and run is not None
        self.overlay = Overlay()
        # User keys of rows sent from the chunk decided last (see _plan_attribute_rows).
        self._decided_before: set[int] = set()
        # The ledger's reads while plan_rows runs (off the connection the senders write through).
        self._reader: LedgerReader | None = None
        # What the sender tells as batches go and come back (writes nothing on a dry run).
        user_key = (lambda text: self._hash_user(self._sync_prefix + text)) if self.attributes else None
        self.journal = LedgerJournal(store, run if record else None, self.overlay, report, user_key)

    # --- the stage (main thread) ----------------------------------------------------------------

    def plan(self, items: Iterable[Item]) -> Iterator[Item]:
        """Events and purchases: the objects to send, without those done or in doubt, with their entries.

        The ledger is read on this thread, in bulk per chunk. (A helper thread reading the next chunk
        meanwhile was measured slower: the driver takes the GIL back for every row it returns, and
        waits for the busy main thread each time. The attribute rows' probe answers in one row, so it
        can run ahead: see :meth:`plan_rows`.)
        """
        if self.attributes:
            raise TypeError("attribute syncs plan source rows: use plan_rows()")
        for chunk in _chunks(items, self.chunk_size):
            prepared = self._prepare_events(chunk)
            yield from self._decide(prepared, self._look_up(prepared))
            if self.stopped:
                break
        self.journal.flush_problems()

    def plan_rows(self, rows: Iterable[SourceRow], build: Build) -> Iterator[Item]:
        """Attributes: source rows in, the objects to send out, trimmed to what changed, with their entries.

        With ``only_changed`` a row whose digest is its user's last accepted row is settled without
        being built; the others are built (by ``build``, which also counts and reports the rows it
        drops), looked up in full and decided value by value. The ledger is probed for the next chunk
        of rows on a helper thread while this one is decided.
        """
        if not self.attributes:
            raise TypeError("event and purchase syncs plan built objects: use plan()")
        if not self._settle_by_row:
            for chunk in _chunks(rows, self.chunk_size):
                yield from self._plan_attribute_rows(self._stage(chunk, None), build)
                if self.stopped:
                    break
            self.journal.flush_problems()
            return
        with self.store.reader() as reader:
            self._reader = reader
            try:
                ahead: _Staged | None = None
                for chunk in _chunks(rows, self.chunk_size):
                    staged = self._stage(chunk, reader)
                    if ahead is not None:
                        yield from self._plan_attribute_rows(ahead, build)
                        if self.stopped:
                            break
                    ahead = staged
                else:
                    if ahead is not None:
                        yield from self._plan_attribute_rows(ahead, build)
            finally:
                self._reader = None
        self.journal.flush_problems()

    def _stage(self, chunk: list[SourceRow], reader: LedgerReader | None) -> _Staged:
        """Digest a chunk's rows and start its ledger probe (``reader``: ``None`` when rows are not settled
        by digest)."""
        digest = self._digest
        digests = [None if problem is not None else digest(data) for _, data, problem in chunk]
        if reader is None or self.run is None:
            return _Staged(chunk, digests, {}, None)
        # What is in flight is read before the ledger (see _look_up): a user not held now has its
        # latest accepted row visible to the probe, which starts after this.
        held = self.overlay.held_by_user_key()
        asked = [d for d in digests if d is not None]
        return _Staged(chunk, digests, held, reader.settled_soon(self.run.sync_id, asked) if asked else None)

    def _plan_attribute_rows(self, staged: _Staged, build: Build) -> Iterator[Item]:
        """One chunk: settle the rows the ledger holds as their user's last row, build and look up the
        rest, then decide all in source order (a settled row whose user has an earlier row in flight,
        or sent from this chunk, is built then and decided against it)."""
        chunk, digests, held = staged.chunk, staged.digests, staged.held
        settled = staged.settled.result() if staged.settled is not None else {}
        # The probe started before the previous chunk was decided: rows of users sent from it are
        # built and looked up now, as if not settled.
        recent = self._decided_before
        # Every row not settled by its digest is built now, in source order; one may stop the export.
        made: list[Any] = []
        for (ref, data, problem), row_digest in zip(chunk, digests, strict=False):
            if settled:
                # A row without a digest (None) is simply not found among the settled digests.
                found = settled.get(row_digest)  # type: ignore[arg-type]
                if found is not None and found[0] not in recent:
                    made.append(_SETTLED)
                    continue
            built = build(ref, data, problem)
            if built is Stop.STOP:
                self.stopped = True
                break
            made.append(built)
        prepared = [
            self._prepare_attributes(m, d) if m is not None and m is not _SETTLED else None
            for m, d in zip(made, digests, strict=False)
        ]
        known = self._look_up([p for p in prepared if p is not None])
        pending_users = known[0]
        report, this_run = self.report, None if self.run is None else self.run.run
        unchanged = saved = 0
        decided: set[int] = set()  # user keys of rows sent from this chunk
        try:
            for position, p in enumerate(prepared):
                if p is None:
                    if made[position] is not _SETTLED:
                        continue  # a row the builder dropped (reported there)
                    # A row marked settled had a digest (its probe found it), so the key is bytes, not None.
                    key, points = settled[digests[position]]  # type: ignore[index]
                    earlier = held.get(key)
                    if earlier is None and key not in decided:
                        report.read()
                        unchanged += 1
                        saved += points
                        continue
                    # An earlier row of this user is in flight: build this one and decide it against that one.
                    ref, data, problem = chunk[position]
                    built = build(ref, data, problem)
                    if built is Stop.STOP:
                        self.stopped = True
                        return
                    if built is None:
                        continue
                    # The row was settled unprepared; built now, its preparation takes the empty place.
                    p = self._prepare_attributes(built, digests[position])  # noqa: PLW2901
                    if earlier is not None and p[2] == earlier[0]:
                        pending_users.setdefault(earlier[0], earlier[1])
                send = self._decide_one(p, known, this_run)
                if send is None:
                    continue
                if p[2] is not None:
                    decided.add(user_key(p[2]))
                yield send
        finally:  # counted per chunk, not per row (cheaper), and even when the send stops early
            report.unchanged += unchanged
            report.data_points_saved += saved
            self._decided_before = decided
            # Before the next chunk: a later row of one of these users, once sent, must be recorded after.
            self.journal.flush_rekeys()

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
        stored = stored_users.get(uh)
        if pending is not None:
            last_whole, last_run = pending[0], this_run
        elif stored is not None:
            last_whole, last_run = stored[0], stored[2]
        else:
            last_whole = last_run = None
        same_run = last_run is not None and last_run == this_run
        # The source row as last accepted (a retried attempt, or a row settled while one was in flight).
        if whole is not None and whole == last_whole and not self.full_resync and self._skip_unchanged(item, same_run):
            return None
        if pending is not None:
            prints = pending[1]
        elif stored is None or stored[1] is None:
            prints = {}
        else:
            prints = _decode_prints(stored[1])
        obj = item.value
        send, new_prints, changed, operations = self._diff(obj, id_field, prints)
        if not changed and not operations and not self.full_resync and self._skip_unchanged(item, same_run):
            if self._settle_by_row and pending is None and stored is not None and whole is not None:
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
