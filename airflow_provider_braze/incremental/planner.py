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
is durable, so a later row for the same user or key sees it: a later row of a user whose earlier row
is in flight waits (:mod:`.waiting`) until that one is answered, so the last row wins whatever the
answers' order, and a user that a run of a later logical date wrote is left as it is (``superseded``,
see :mod:`~airflow_provider_braze.state.sync_leases`); the :class:`~.journal.LedgerJournal`
writes intents before guarded objects leave and each batch's outcomes from the thread that sent it:
after a crash at most the batches in flight are sent again, and guarded ones never are.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from airflow_provider_braze.braze.items import FLUSH, Item
from airflow_provider_braze.incremental.decisions import Entry, ObjectDecisions
from airflow_provider_braze.incremental.source_digest import source_digester
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.sources.base import SourceRow
from airflow_provider_braze.state.sync_leases import SyncLease
from airflow_provider_braze.state.sync_ledger import LedgerReader, SyncLedgerStore, SyncRun, user_key

# Entry is what a planned object carries (see decisions); it is imported from here too.
__all__ = ["DEFAULT_CHUNK", "Build", "Entry", "IncrementalSync", "Stop"]

#: Objects looked up in the ledger at once.
DEFAULT_CHUNK = 2_000


class Stop(enum.Enum):
    """What a :data:`Build` callback returns for a row that stops the export (an invalid row while
    ``skip_on_invalid_records`` is off): rows before it are still sent."""

    STOP = "stop"


#: Builds one source row: its object, ``None`` for a row not to send (invalid and skipped, or of
#: another partition; counted and reported by the callback), or :attr:`Stop.STOP`.
Build = Callable[[int, Mapping[str, Any], str | None], Item | Stop | None]


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


class IncrementalSync(ObjectDecisions):
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
    :param stop_on_invalid: stop at the first row found invalid here (a missing event key), as the
        export does when ``skip_on_invalid_records`` is off.
    :param chunk_size: objects per bulk lookup.
    :param builder_settings: attributes: the record builder's
        :meth:`~airflow_provider_braze.records.builder.RowBuilder.settings` (``None``: rows are never
        settled by their source digest, only by their values).
    :param partition: the partition this task exports (``"1/4"``), if any: a row is settled by its
        digest only under the same split.
    :param newer_runs: the sync's runs of a later logical date
        (:meth:`~airflow_provider_braze.state.sync_ledger.SyncLedgerStore.newer_runs`): users they
        wrote are not overwritten (``superseded``).
    :param lease: the sync's lease this run holds, if any: a batch is not sent once it is lost.

    :ivar journal: the :class:`~airflow_provider_braze.braze.sender.SendJournal` to hand the sender.
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
        newer_runs: frozenset[int] = frozenset(),
        lease: SyncLease | None = None,
    ) -> None:
        if record_type not in ("attributes", "events", "purchases"):
            raise ValueError(f"the sync ledger tracks attributes, events and purchases, not {record_type!r}")
        super().__init__(
            store,
            run,
            attributes=record_type == "attributes",
            report=report,
            only_changed=only_changed,
            full_resync=full_resync,
            retry_ambiguous=retry_ambiguous,
            key_column=key_column,
            record=record,
            stop_on_invalid=stop_on_invalid,
            newer_runs=newer_runs,
            lease=lease,
        )
        self.chunk_size = chunk_size
        context = None if builder_settings is None else f"{self._sync_prefix}{partition}\x00{builder_settings}"
        self._digest = source_digester(self.salt, context)
        # User keys of rows sent from the chunk decided last (see _plan_attribute_rows).
        self._decided_before: set[int] = set()

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
            yield from self._drain_waiting()
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
                yield from self._drain_waiting()
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

    def _build_unsettled(self, staged: _Staged, build: Build) -> tuple[dict[bytes, tuple[int, int]], list[Any]]:
        """A chunk's probe answer and its rows as made: each built (or ``None``, dropped by the builder),
        or :data:`_SETTLED` when its digest is its user's last accepted row; it ends early at a row that
        stops the export."""
        chunk, digests = staged.chunk, staged.digests
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
        return settled, made

    def _plan_attribute_rows(self, staged: _Staged, build: Build) -> Iterator[Item]:
        """One chunk: settle the rows the ledger holds as their user's last row, build and look up the
        rest, then decide all in source order (a settled row whose user has an earlier row in flight,
        or sent from this chunk, is built then and decided against it)."""
        chunk, digests, held = staged.chunk, staged.digests, staged.held
        decided: set[int] = set()  # user keys of rows sent from this chunk
        yield from self._release_waiting(decided)
        settled, made = self._build_unsettled(staged, build)
        prepared = [
            self._prepare_attributes(m, d) if m is not None and m is not _SETTLED else None
            for m, d in zip(made, digests, strict=False)
        ]
        known = self._look_up([p for p in prepared if p is not None])
        pending_users = known[0]
        report, this_run = self.report, None if self.run is None else self.run.run
        unchanged = saved = 0
        waiting_keys = self.waiting.keys
        try:
            for position, p in enumerate(prepared):
                if p is None:
                    if made[position] is not _SETTLED:
                        continue  # a row the builder dropped (reported there)
                    # A row marked settled had a digest (its probe found it), so the key is bytes, not None.
                    key, points = settled[digests[position]]  # type: ignore[index]
                    earlier = held.get(key)
                    if earlier is None and key not in decided and key not in waiting_keys:
                        report.read()
                        unchanged += 1
                        saved += points
                        continue
                    # An earlier row of this user is in flight or waits: build this one, to wait behind it.
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

    def _release_waiting(self, decided: set[int]) -> Iterator[Item]:
        """Decide the first waiting row of each user whose earlier row is now recorded (see :mod:`.waiting`).

        :param decided: user keys of rows sent from the chunk being planned: those sent here join them.
        """
        if not self.waiting:
            return
        # The overlay is read before the ledger: a user not held now has its last outcome recorded.
        free = self.waiting.users() - self.overlay.held_users()
        if not free:
            return
        taken = self.waiting.first_of(free)
        known = self._look_up([p for _, p in taken])
        this_run = None if self.run is None else self.run.run
        for user, p in taken:
            later = self.waiting.take_queue(user)  # this row goes first: it must not wait behind them
            send = self._decide_one(p, known, this_run)
            self.waiting.put_back(user, later)
            if send is not None:
                decided.add(user_key(user))
                yield send

    def _drain_waiting(self) -> Iterator[Item]:
        """At the end of the source: send what waits, each row once its user's earlier row is answered."""
        while self.waiting:
            # The earlier rows may sit in a partial batch: the batcher sends what it holds now.
            yield FLUSH
            self.overlay.wait_until_free(self.waiting.users())
            yield from self._release_waiting(set())
