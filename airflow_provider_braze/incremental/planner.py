"""The incremental stage: between the record builder and the sender, it asks the sync ledger what is done.

Per chunk of objects it makes one bulk lookup, then decides each object in source order:

- **attributes**: the values whose fingerprint differs from the last accepted write for the user are
  sent; with ``only_changed`` the others are left out and a row with nothing left is not sent
  (``unchanged``). Without it the whole row is sent, except on a retried attempt of the same run,
  which skips rows that attempt already had accepted (``already_sent``). Operations (``inc``,
  ``add`` ...) are always sent; an ``inc`` or ``$add`` row is guarded like an event, within its run.
- **events and purchases**: known by their key; a key Braze accepted before is not sent again
  (``already_sent``), one whose outcome is unknown is held back (``unsettled``) unless
  ``retry_ambiguous``, and one seen earlier in this attempt is a duplicate row (``duplicate_rows``).

What is planned but not yet recorded lives in an overlay until the batch's outcome is durable, so a
later row for the same user or key sees it; the overlay holds only batches in flight, so memory does
not grow with the table. The same object, as a :class:`~airflow_provider_braze.braze.sender.SendJournal`,
writes an intent before any guarded object leaves and records each batch's outcomes from the thread
that sent it: after a crash at most the batches in flight are sent again, and guarded ones never are.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from airflow_provider_braze.braze.batching import Batch
from airflow_provider_braze.braze.data_points import data_points
from airflow_provider_braze.braze.items import Item, Rejection
from airflow_provider_braze.braze.sender import BatchResult
from airflow_provider_braze.incremental.keys import (
    PROCESSING_FLAGS,
    column_key,
    fingerprint,
    identity,
    is_operation,
    is_repeatable_operation,
    object_key,
    user_hash,
)
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.state.schema import KEY_ACCEPTED
from airflow_provider_braze.state.sync_ledger import BatchRecord, SyncLedgerStore, SyncRun

log = logging.getLogger(__name__)

#: Objects looked up in the ledger at once.
DEFAULT_CHUNK = 1_000
#: Invalid rows written to the ledger at once.
_PROBLEM_BATCH = 500

_encode_prints = msgspec.msgpack.Encoder().encode
_decode_prints = msgspec.msgpack.Decoder(dict[str, int]).decode


@dataclass(frozen=True, slots=True)
class Entry:
    """What the ledger records for one object once Braze answers.

    :param item_key: the user hash (attributes) or the event key: problems are filed under it.
    :param prints: attributes: the user's fingerprints to store when accepted.
    :param guard: the key written before sending (events, purchases, increments), if any.
    """

    item_key: bytes
    prints: bytes | None = None
    guard: bytes | None = None


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
    :param chunk_size: objects per bulk lookup.
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
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if record_type not in ("attributes", "events", "purchases"):
            raise ValueError(f"the sync ledger tracks attributes, events and purchases, not {record_type!r}")
        self.store, self.run, self.report = store, run, report
        self.attributes = record_type == "attributes"
        self.only_changed = only_changed
        self.full_resync = full_resync
        self.retry_ambiguous = retry_ambiguous
        self.key_column = key_column
        self.record = record and run is not None
        self.chunk_size = chunk_size
        # A dry run of a sync that never ran looks nothing up: any key will do, and none is stored.
        self.salt = run.salt if run is not None else os.urandom(16)
        self._users: dict[bytes, tuple[dict[str, int], Entry]] = {}
        self._keys: dict[bytes, Entry] = {}
        self._lock = threading.Lock()
        self._resolve = run is not None and run.open_problems > 0
        self._problems: list[tuple[bytes | None, str | None, str, str | None, str | None]] = []

    # --- the stage (main thread) ----------------------------------------------------------------

    def plan(self, items: Iterable[Item]) -> Iterator[Item]:
        """The objects to send, trimmed to what changed, with their ledger entries attached."""
        chunk: list[Item] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= self.chunk_size:
                yield from self._plan(chunk)
                chunk = []
        if chunk:
            yield from self._plan(chunk)
        self.flush_problems()

    def _plan(self, chunk: list[Item]) -> Iterator[Item]:
        if self.attributes:
            return self._plan_attributes(chunk)
        return self._plan_events(chunk)

    def _plan_attributes(self, chunk: list[Item]) -> Iterator[Item]:
        salt, run = self.salt, self.run
        prepared = []
        for item in chunk:
            found = identity(item.value)
            if found is None:  # the builder guarantees one; never guess whose row this is
                prepared.append((item, None, b"", None))
                continue
            name, text = found
            guard = None
            if any(is_operation(v) and not is_repeatable_operation(v) for v in item.value.values()):
                # An increment counts again when resent: guarded like an event, within this run only.
                guard = object_key({**item.value, "$run": None if run is None else run.run}, salt)
            prepared.append((item, name, user_hash(salt, f"{name}:{text}"), guard))
        users = [h for _, name, h, _ in prepared if name is not None]
        pending_users, stored_users = self._look_up(users, self._users, self.store.users)
        guards = [g for *_, g in prepared if g is not None]
        pending_keys, stored_keys = self._look_up(guards, self._keys, self.store.keys) if guards else ({}, {})
        this_run = None if run is None else run.run
        report = self.report
        for item, id_field, uh, guard in prepared:
            if id_field is None:
                yield item
                continue
            if guard is not None and not self._guard_allows(item, guard, pending_keys, stored_keys):
                continue
            local = pending_users.get(uh)
            if local is not None:
                prints, last_run = local[0], this_run
            else:
                row = stored_users.get(uh)
                prints, last_run = (_decode_prints(row[0]), row[1]) if row is not None else ({}, None)
            obj = item.value
            send: dict[str, Any] = {}
            new_prints: dict[str, int] = {} if self.full_resync else dict(prints)
            changed = operations = False
            for name, value in obj.items():
                if name == id_field or name in PROCESSING_FLAGS:
                    send[name] = value
                elif is_operation(value):
                    send[name] = value
                    operations = True
                    new_prints.pop(name, None)  # Braze's value after an operation is not known here
                else:
                    print_ = fingerprint(value)
                    if self.full_resync or prints.get(name) != print_:
                        changed = True
                        send[name] = value
                    elif not self.only_changed:
                        send[name] = value
                    new_prints[name] = print_
            if not changed and not operations and not self.full_resync:
                if self.only_changed:
                    report.unchanged += 1
                    report.data_points_saved += data_points(item.key, obj)
                    continue
                if last_run is not None and last_run == this_run:
                    report.already_sent += 1  # a retried attempt: an earlier attempt had it accepted
                    continue
            if len(send) != len(obj):
                report.data_points_saved += data_points(item.key, obj) - data_points(item.key, send)
                obj = send
            entry = Entry(uh, _encode_prints(new_prints), guard)
            pending_users[uh] = (new_prints, entry)
            with self._lock:
                self._users[uh] = (new_prints, entry)
                if guard is not None:
                    self._keys[guard] = entry
            if guard is not None:
                pending_keys[guard] = entry
            yield Item(item.key, obj, item.ref, entry)

    def _plan_events(self, chunk: list[Item]) -> Iterator[Item]:
        salt, key_column = self.salt, self.key_column
        prepared = []
        for item in chunk:
            if key_column is None:
                prepared.append((item, object_key(item.value, salt)))
                continue
            value = (item.value.get("properties") or {}).get(key_column)
            if value is None or value == "":
                self.report.skip(Rejection(
                    item.ref, key_column,
                    f"{key_column} is empty; with event_key_column={key_column!r} every row needs its unique key",
                    item.value,
                ))
                continue
            prepared.append((item, column_key(value, salt)))
        pending, stored = self._look_up([k for _, k in prepared], self._keys, self.store.keys)
        for item, key in prepared:
            if not self._guard_allows(item, key, pending, stored):
                continue
            entry = Entry(key, None, key)
            pending[key] = entry
            with self._lock:
                self._keys[key] = entry
            yield Item(item.key, item.value, item.ref, entry)

    def _guard_allows(self, item: Item, key: bytes, pending: dict[bytes, Any], stored: Mapping[bytes, tuple[str, int]]) -> bool:
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

    def _look_up(self, keys: list[bytes], overlay: dict[bytes, Any], fetch: Any) -> tuple[dict[bytes, Any], Mapping[bytes, Any]]:
        """What is pending in this attempt, then what the ledger holds, for ``keys``.

        The overlay is read first: an entry leaves it only after its outcome is committed, so a key
        that is not pending now is either new or already visible to the read that follows.
        """
        with self._lock:
            pending = {k: overlay[k] for k in keys if k in overlay}
        missing = [k for k in keys if k not in pending]
        stored = fetch(self.run.sync_id, missing) if (missing and self.run is not None) else {}
        return pending, stored

    def invalid(self, rejection: Rejection) -> None:
        """Keep a row found invalid before sending, for the run's problem list in the ledger."""
        if not self.record:
            return
        row = rejection.row
        found = identity(row) if isinstance(row, Mapping) else None
        item = user_hash(self.salt, f"{found[0]}:{found[1]}") if (found and self.attributes) else None
        self._problems.append((item, str(rejection.ref), "invalid", rejection.column, rejection.reason))
        if len(self._problems) >= _PROBLEM_BATCH:
            self.flush_problems()

    def flush_problems(self) -> None:
        """Write the invalid rows kept so far (one transaction)."""
        if self._problems and self.record and self.run is not None:
            problems, self._problems = self._problems, []
            self.store.add_problems(self.run, problems)

    def release(self, items: Iterable[Item]) -> None:
        """Forget planned objects that will not be recorded (a dry run's batches)."""
        with self._lock:
            for item in items:
                self._forget(item.sync)

    # --- the journal (sender threads) -----------------------------------------------------------

    def before_send(self, batch: Batch) -> None:
        """Commit the keys of guarded objects before they leave: a crash then leaves them ``sending``."""
        if not self.record:
            return
        intents = [(i.sync.guard, str(i.ref)) for i in batch.all_items() if i.sync is not None and i.sync.guard]
        if intents:
            self.store.write_intents(self.run, intents)

    def after_send(self, result: BatchResult) -> None:
        """Record a batch's outcomes in one transaction, then let the overlay forget them."""
        record = BatchRecord()
        for outcome in result.outcomes:
            entry = outcome.item.sync
            if entry is None:
                continue
            if outcome.status == "accepted":
                if entry.prints is not None:
                    record.users.append((entry.item_key, entry.prints))
                if entry.guard is not None:
                    record.accepted_keys.append(entry.guard)
                record.resolved.append(entry.item_key)
                continue
            if entry.guard is not None:
                (record.unknown_keys if outcome.status == "unknown" else record.released_keys).append(entry.guard)
            record.problems.append((entry.item_key, str(outcome.item.ref), outcome.status, None, outcome.reason))
        if self.record:
            if record.problems:
                self._resolve = True  # later batches of this run may now resolve them
            recovered = self.store.record(self.run, record, resolve=self._resolve)
            if recovered:
                with self._lock:
                    self.report.recovered += recovered
        with self._lock:
            for outcome in result.outcomes:
                self._forget(outcome.item.sync)

    def _forget(self, entry: Entry | None) -> None:
        if entry is None:
            return
        if entry.prints is not None:
            held = self._users.get(entry.item_key)
            # A later row of the same user may have replaced it: that one is still pending.
            if held is not None and held[1] is entry:
                del self._users[entry.item_key]
        if entry.guard is not None and self._keys.get(entry.guard) is entry:
            del self._keys[entry.guard]
