"""The journal: what an export writes to the sync ledger as it goes, from the threads that send.

Before a batch leaves, the keys of its events, purchases and increments are claimed (committed as
``sending`` where the sync does not hold them yet): a crash then leaves them of unknown outcome
instead of sending them twice, and a key another run claimed first is taken out of the batch. When Braze
answers, the batch's outcomes are committed (fingerprints and keys accepted, keys released or
unknown, problems), then the overlay lets go of them. Concurrent sender threads share transactions
(:class:`~airflow_provider_braze.incremental.group_commit.GroupCommit`). Rows found invalid before
sending are written in batches from the main thread.

When the store fails (:class:`~airflow_provider_braze.state.errors.StateStoreError`: disk full,
unreachable ...), no batch leaves any more: without the ledger an event's key cannot be written before
it is sent. The outcomes Braze answers for the batches already out are then known but cannot be
recorded: they go to the attempt's unrecorded spool (:mod:`airflow_provider_braze.state.unrecorded_spool`),
apart from true unknowns, and the next attempt records them before it plans.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from airflow_provider_braze.braze.batching import Batch
from airflow_provider_braze.braze.items import InvalidRecord, Item
from airflow_provider_braze.braze.sender import BatchResult, ItemOutcome
from airflow_provider_braze.incremental.group_commit import GroupCommit
from airflow_provider_braze.incremental.keys import identity
from airflow_provider_braze.incremental.overlay import Overlay
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.state.errors import StateStoreError
from airflow_provider_braze.state.schema import KEY_ACCEPTED
from airflow_provider_braze.state.sync_leases import SyncLease
from airflow_provider_braze.state.sync_ledger import BatchRecord, Problem, SyncLedgerStore, SyncRun
from airflow_provider_braze.state.unrecorded_spool import ACCEPTED, REJECTED, RELEASED, SpooledOutcome, SpoolWriter

log = logging.getLogger(__name__)

#: Invalid rows written to the ledger at once.
_PROBLEM_BATCH = 500
#: What each outcome the sender reports is kept as in the spool (``unknown`` is not: it stays the
#: ``sending`` intent the store already holds, which later attempts hold back).
_SPOOLED = {"accepted": ACCEPTED, "rejected": REJECTED, "failed": RELEASED}


class LedgerJournal:
    """A :class:`~airflow_provider_braze.braze.sender.SendJournal` writing to the sync ledger.

    :param store: the ledger.
    :param run: this run; ``None`` writes nothing (a dry run).
    :param overlay: the planner's objects in flight, released once recorded.
    :param report: the run's counts (``recovered`` is added there).
    :param user_key: turns ``field:identifier`` text into the run's user hash (for invalid rows).
    :param reclaim: claims may take back keys of unknown outcome (``retry_ambiguous``).
    :param lease: the sync's lease this run holds: once it is lost, no batch leaves.
    """

    def __init__(
        self,
        store: SyncLedgerStore,
        run: SyncRun | None,
        overlay: Overlay,
        report: ExportLedger,
        user_key: Callable[[str], bytes] | None = None,
        *,
        reclaim: bool = False,
        lease: SyncLease | None = None,
    ) -> None:
        self.store, self.run, self.overlay, self.report = store, run, overlay, report
        self._user_key = user_key
        self._reclaim, self._lease = reclaim, lease
        # Keys a group's claim found held elsewhere, until the thread whose batch has them takes them.
        self._unclaimed: set[bytes] = set()
        # Objects kept back because another run had claimed them: (Braze has them, of unknown outcome).
        self._withheld = [0, 0]
        self._resolve = run is not None and run.open_problems > 0
        self._problems: list[Problem] = []
        self._rekeys: dict[bytes, tuple[bytes, bytes, bytes, int]] = {}
        self._lock = threading.Lock()
        self._commit: GroupCommit[BatchRecord] = GroupCommit(self._write)
        #: Where outcomes go that the store cannot record (the export sets it; ``None``: nowhere).
        self.spool: SpoolWriter | None = None
        #: The store's first failure: from then on no batch is sent and nothing is written to the store.
        self.failure: StateStoreError | None = None
        # ids of objects whose batch was stopped before it left (their keys were never written: nothing to spool).
        self._unsent: set[int] = set()

    @property
    def writes(self) -> bool:
        return self.run is not None

    # --- sender threads -------------------------------------------------------------------------

    def before_send(self, batch: Batch) -> None:
        """Claim the keys of guarded objects before they leave (a crash then leaves them ``sending``);
        take out of the batch those another run or attempt holds."""
        if not self.writes:
            return
        if self._lease is not None and self._lease.lost:
            raise RuntimeError(f"not sent: this run no longer holds the sync's lease ({self._lease.lost})")
        failure = self.failure
        if failure is None:
            guarded = [i for i in batch.all_items() if i.sync is not None and i.sync.guard]
            if not guarded:
                return
            try:
                self._commit(BatchRecord(intents=[(i.sync.guard, str(i.ref)) for i in guarded], reclaim=self._reclaim))
            except StateStoreError as exc:
                failure = self._fail(exc)
            else:
                if self._unclaimed:  # only when runs of the sync overlap: a lease lapsed, or a shared sync
                    with self._lock:
                        lost = [i for i in guarded if i.sync.guard in self._unclaimed]
                        self._unclaimed.difference_update(i.sync.guard for i in lost)
                    if lost:
                        self._withhold(batch, lost)
                return
        # Not even a batch without keys leaves once the store failed: the send is stopping, and its
        # outcome could not be recorded.
        with self._lock:
            self._unsent.update(id(i) for i in batch.all_items())
        raise failure.again()

    def _withhold(self, batch: Batch, lost: list[Item]) -> None:
        """Keep back objects whose keys another run claimed first: it sends (or sent) them."""
        sync_id = self.run.sync_id if self.run is not None else -1  # set: only a journal that writes claims
        found = self.store.keys(sync_id, [i.sync.guard for i in lost])
        accepted = sum(1 for i in lost if found.get(i.sync.guard, ("",))[0] == KEY_ACCEPTED)
        batch.remove(lost)
        self.overlay.forget(i.sync for i in lost)
        with self._lock:
            self._withheld[0] += accepted
            self._withheld[1] += len(lost) - accepted
        log.warning(
            "%d objects of a batch were claimed by another run of this sync since they were planned (a shared "
            "sync, or a lease that lapsed); they are not sent by this run.",
            len(lost),
        )

    def fold_withheld(self) -> None:
        """Count the objects kept back at sending in the run's report (from the main thread, at the end)."""
        with self._lock:
            accepted, unsettled = self._withheld
            self._withheld = [0, 0]
        if accepted or unsettled:
            self.report.withheld(accepted=accepted, unsettled=unsettled)

    def after_send(self, result: BatchResult) -> None:
        """Record a batch's outcomes in one transaction, then let the overlay forget them.

        :raises StateStoreError: the store failed (now or earlier): the outcomes are in the spool, and
            the send stops.
        """
        try:
            if self.writes:
                self._record(self._batch_record(result), result)
        finally:
            # Even when the record failed: the planner may be waiting for these users (see waiting.py).
            self.overlay.forget(outcome.item.sync for outcome in result.outcomes)

    def _record(self, record: BatchRecord, result: BatchResult) -> None:
        """Commit a batch's record; when the store fails, keep its outcomes in the spool and raise."""
        failure = self.failure
        if failure is None:
            try:
                self._commit(record)
                return
            except StateStoreError as exc:
                failure = self._fail(exc)
        self._keep(result.outcomes, failure)
        raise failure.again()

    @staticmethod
    def _batch_record(result: BatchResult) -> BatchRecord:
        """What a batch's outcomes change in the ledger."""
        record = BatchRecord()
        for outcome in result.outcomes:
            entry = outcome.item.sync
            if entry is None:
                continue
            if outcome.status == "accepted":
                if entry.prints is not None:
                    record.users.append((entry.item_key, entry.whole, entry.prints, entry.points))
                if entry.guard is not None:
                    record.accepted_keys.append(entry.guard)
                record.resolved.append(entry.item_key)
                continue
            if entry.guard is not None:
                (record.unknown_keys if outcome.status == "unknown" else record.released_keys).append(entry.guard)
            record.problems.append((entry.item_key, str(outcome.item.ref), outcome.status, None, outcome.reason))
        return record

    def _fail(self, error: StateStoreError) -> StateStoreError:
        """Note the store's first failure (the one reported); return it."""
        with self._lock:
            if self.failure is None:
                self.failure = error
                log.error(
                    "The sync ledger cannot be written (%s): no more batches are sent, and what Braze answers for "
                    "those in flight is kept in the unrecorded spool.",
                    error,
                )
            return self.failure

    def _keep(self, outcomes: Sequence[ItemOutcome], failure: StateStoreError) -> None:
        """Write a batch's known outcomes to the spool, and tell the report which accepted rows it holds."""
        now = time.time()
        kept: list[SpooledOutcome] = []
        accepted = []
        with self._lock:
            unsent = self._unsent
            self._unsent = unsent - {id(o.item) for o in outcomes} if unsent else unsent
        for outcome in outcomes:
            entry, kind = outcome.item.sync, _SPOOLED.get(outcome.status)
            if entry is None or kind is None or (kind == RELEASED and id(outcome.item) in unsent):
                continue
            user = kind == ACCEPTED and entry.prints is not None  # an attribute row's values, to write
            kept.append(
                SpooledOutcome(
                    kind,
                    entry.item_key,
                    str(outcome.item.ref),
                    entry.guard,
                    entry.whole if user else None,
                    entry.prints if user else None,
                    entry.points if user else 0,
                    now,
                )
            )
            if kind == ACCEPTED:
                accepted.append(outcome.item)
        spool = self.spool
        if spool is not None and spool.add(kept, failure.cause):
            where = f"kept in the unrecorded spool {spool.path}"
        else:
            where = "lost: no unrecorded spool could be written"
            log.error("%s outcomes Braze answered could not be recorded and are %s.", f"{len(kept):,}", where)
        self.report.unrecorded_items(
            accepted, f"Braze accepted it; the state store failed ({failure.cause}) before it was recorded: {where}"
        )

    def _write(self, records: Sequence[BatchRecord]) -> None:
        """Write a group of batches' records in one transaction (one sender thread at a time)."""
        if self.run is None:  # never: only a journal that writes commits records (see ``writes``)
            return
        merged = BatchRecord()
        for record in records:
            merged.extend(record)
        resolve = self._resolve
        if merged.problems:
            self._resolve = True  # later groups of this run may resolve these problems
        recorded = self.store.record(self.run, merged, resolve=resolve)
        if recorded.recovered or recorded.unclaimed:
            with self._lock:
                self.report.recovered += recorded.recovered
                self._unclaimed.update(recorded.unclaimed)

    # --- the main thread ------------------------------------------------------------------------

    def invalid(self, invalid: InvalidRecord) -> None:
        """Keep a row found invalid before sending, for the run's problem list in the ledger."""
        if not self.writes:
            return
        row, user_key = invalid.row, self._user_key
        found = identity(row) if isinstance(row, Mapping) and user_key is not None else None
        item = user_key(f"{found[0]}:{found[1]}") if found and user_key is not None else None
        self._problems.append((item, str(invalid.ref), "invalid", invalid.column, invalid.reason))
        if len(self._problems) >= _PROBLEM_BATCH:
            self.flush_problems()

    def rekey(self, user: bytes, digest: bytes, prints: bytes, points: int) -> None:
        """Keep a new source digest for a user whose row is unchanged in value (written per chunk)."""
        if self.writes:
            self._rekeys[user] = (user, digest, prints, points)

    def drop_rekey(self, user: bytes) -> None:
        """Forget a kept digest: a later row of the user is being sent, and its record is the last word."""
        if self._rekeys:
            self._rekeys.pop(user, None)

    def flush_rekeys(self) -> None:
        """Write the digests kept so far (one transaction)."""
        if self._rekeys:
            users, self._rekeys = list(self._rekeys.values()), {}
            # Once the store failed they are dropped: a later run compares those rows again (sending nothing).
            if self.failure is None:
                try:
                    self._commit(BatchRecord(users=users))
                except StateStoreError as exc:
                    self._fail(exc)  # the senders stop at their next batch; the export reports it

    def flush_problems(self) -> None:
        """Write the invalid rows kept so far (one transaction)."""
        if self._problems and self.run is not None:  # self.writes, spelt so that the type narrows
            problems, self._problems = self._problems, []
            # Once the store failed they are dropped: the rejected-records file lists them.
            if self.failure is None:
                try:
                    self.store.add_problems(self.run, problems)
                except StateStoreError as exc:
                    self._fail(exc)

    def close_spool(self) -> None:
        """Release the spool file, if one was written: the next attempt may replay it."""
        if self.spool is not None:
            self.spool.close()
