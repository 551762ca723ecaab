"""What a warehouse-mode run writes back as Braze answers: accepted rows as ranges of plan row numbers.

The plan already sits in the warehouse, so a batch's record is a few ``(low, high)`` ranges, not its
rows (a million accepted rows of a first sync are a few thousand small inserts), plus the problems
of rows Braze refused. Attributes only: a batch whose record is lost to a crash is sent again by the
next attempt, which is safe for attributes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

from airflow_provider_braze.braze.batching import Batch
from airflow_provider_braze.braze.items import InvalidRecord
from airflow_provider_braze.braze.sender import BatchResult
from airflow_provider_braze.state.errors import StateStoreError
from airflow_provider_braze.state.sync_leases import SyncLease
from airflow_provider_braze.state.sync_ledger import Problem, SyncRun
from airflow_provider_braze.warehouse.store import WarehouseLedger

#: Invalid rows (and rows settled without sending) written at once.
_PENDING_BATCH = 500


def ranges(numbers: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted, merged ``(low, high)`` ranges (inclusive) covering ``numbers``."""
    spans: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if spans and n == spans[-1][1] + 1:
            spans[-1] = (spans[-1][0], n)
        else:
            spans.append((n, n))
    return spans


class WarehouseJournal:
    """A :class:`~airflow_provider_braze.braze.sender.SendJournal` writing to the warehouse ledger.

    :param store: the warehouse's ledger.
    :param run: this run; ``None`` writes nothing (a dry run).
    :param lease: the sync's lease this run holds: once it is lost, no batch leaves.
    """

    spool = None  # outcomes are never spooled: an attribute record lost is only sent again

    def __init__(self, store: WarehouseLedger, run: SyncRun | None, lease: SyncLease | None = None) -> None:
        self.store, self.run, self._lease = store, run, lease
        self.failure: StateStoreError | None = None
        self._resolve = run is not None and run.open_problems > 0
        self._lock = threading.Lock()
        self._problems: list[Problem] = []
        self._settled: list[int] = []
        #: ``(plan row number, user hash)`` of the row being built (the planning thread sets it).
        self.building: tuple[int, bytes | None] = (0, None)

    def before_send(self, batch: Batch) -> None:
        if self.failure is not None:
            raise self.failure
        if self._lease is not None and self._lease.lost:
            raise RuntimeError(self._lease.lost)

    def after_send(self, result: BatchResult) -> None:
        if self.run is None:
            return
        accepted: list[int] = []
        users: list[bytes] = []
        problems: list[Problem] = []
        for outcome in result.outcomes:
            seq, user = outcome.item.sync
            if outcome.status == "accepted":
                accepted.append(seq)
                users.append(user)
            elif outcome.status == "rejected":
                problems.append((user, str(seq), "rejected", None, outcome.reason))
        self._write(ranges(accepted), problems, users)

    def settled(self, seq: int) -> None:
        """A row that needs no request (its values are what Braze holds): recorded as accepted."""
        with self._lock:
            self._settled.append(seq)
            full = len(self._settled) >= _PENDING_BATCH
        if full:
            self.flush_problems()

    def invalid(self, invalid: InvalidRecord) -> None:
        """A row found invalid before sending, kept with its user's hash (see :attr:`building`), so that
        the problem closes once a later run has the user accepted."""
        seq, user = self.building
        with self._lock:
            self._problems.append(
                (user if seq == invalid.ref else None, str(invalid.ref), "invalid", invalid.column, invalid.reason)
            )
            full = len(self._problems) >= _PENDING_BATCH
        if full:
            self.flush_problems()

    def flush_problems(self) -> None:
        """Write the invalid and settled rows held so far."""
        with self._lock:
            problems, self._problems = self._problems, []
            settled, self._settled = self._settled, []
        if problems or settled:
            self._write(ranges(settled), problems, ())

    def _write(self, spans: Sequence[tuple[int, int]], problems: Sequence[Problem], users: Sequence[bytes]) -> None:
        if self.run is None or self.failure is not None:
            return
        try:
            self.store.record_marks(self.run, spans, problems=problems, resolved=users, resolve=self._resolve)
        except StateStoreError as exc:
            self.failure = exc
            raise
