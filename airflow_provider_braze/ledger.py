"""The outcome ledger of an export run: per-row outcomes, the rejected-records file, progress, summary.

Every source row of the run ends in exactly one count: ``skipped`` (invalid before sending),
``accepted``, ``rejected`` (Braze refused the object), ``failed`` (its request failed as a whole),
``unknown`` (its request may or may not have been applied), or, when the sync ledger decides what is
sent (:mod:`airflow_provider_braze.incremental`), ``unchanged`` (nothing new to write),
``already_sent`` (an earlier run or attempt had it accepted), ``unsettled`` (an earlier attempt's
outcome is unknown, so it is held back), ``duplicate_rows`` (the same event key earlier in this run)
or ``superseded`` (a run of a later logical date wrote the user: an older date does not overwrite it).
``unrecorded`` counts, among the accepted, the rows the sync ledger could not record because the state
store failed (kept in the unrecorded spool; listed with the stage ``delivered_unrecorded``).
Only counts are kept in memory; the rows at fault go to the rejected-records file as they happen, so a
long run does not grow.

This is the per-run, in-memory layer; :mod:`airflow_provider_braze.state.sync_ledger` keeps the same
outcomes durably, across runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from airflow_provider_braze.braze.data_points import data_points
from airflow_provider_braze.braze.items import InvalidRecord, Item
from airflow_provider_braze.braze.sender import BatchResult, ItemOutcome
from airflow_provider_braze.redaction import mask_personal

log = logging.getLogger(__name__)

#: How many problems are logged one by one before the log only counts them.
LOGGED_PROBLEMS = 20


class TextWriter(Protocol):
    """Where rejected rows go: an open text file, or anything with its ``write``."""

    def write(self, text: str, /) -> int:
        """Write ``text``; return the number of characters written."""


@dataclass
class Problem:
    """The first row at fault, for the error a failing task raises.

    :param row: source row number.
    :param column: the column at fault, if known.
    :param reason: why.
    :param stage: ``validation`` (found before sending) or ``braze`` (Braze refused it).
    """

    row: Any
    column: str | None
    reason: str
    stage: str

    def __str__(self) -> str:
        where = f"row {self.row}" + (f", column {self.column!r}" if self.column else "")
        by = "Braze rejected it" if self.stage == "braze" else "invalid"
        return f"{where}: {self.reason} ({by})"


@dataclass
class ExportLedger:
    """Counts and reports what happened to each row of one export.

    :param endpoint: catalogue name of the endpoint the rows go to.
    :param total: rows expected, when the source knows (for the ETA).
    :param rejected_file: an open text file receiving one JSON line per skipped or refused row.
    :param progress_interval: seconds between progress lines in the task log.
    :param clock: monotonic clock, injectable for tests.
    :param sync_log: told of every batch's outcomes and every invalid row (a
        :class:`~airflow_provider_braze.sync_log.SyncLogWriter`), when the user keeps a sync log.
    :param dry_run: nothing is sent: logs and the summary say what *would* be sent
        (``rows_to_send``, ``requests_needed``, ``data_points_to_spend``) and report
        ``rows_sent``, ``requests`` and ``data_points`` as 0.
    """

    endpoint: str
    total: int | None = None
    rejected_file: TextWriter | None = None
    progress_interval: float = 10.0
    clock: Callable[[], float] = time.monotonic
    dry_run: bool = False
    sync_log: Any = None
    rows_read: int = 0
    rows_sent: int = 0
    skipped: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    unknown: int = 0
    requests: int = 0
    attempts: int = 0
    data_points: int = 0
    unchanged: int = 0
    already_sent: int = 0
    unsettled: int = 0
    duplicate_rows: int = 0
    superseded: int = 0
    data_points_saved: int = 0
    recovered: int = 0
    possible_duplicates: int = 0
    unrecorded: int = 0
    first_problem: Problem | None = None
    unmapped_errors: list[Any] = field(default_factory=list)
    _started: float = 0.0
    _last_progress: float = 0.0
    _problems_logged: int = 0
    # id of an accepted object the sync ledger could not record -> (the object, kept alive so that its
    # id is not reused, and why); set from sender threads.
    _unrecorded: dict[int, tuple[Item, str]] = field(default_factory=dict, repr=False)
    _unrecorded_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._started = self._last_progress = self.clock()

    # --- rows before sending ---------------------------------------------------------------

    def read(self) -> None:
        self.rows_read += 1
        if self.rows_read & 1023 == 0:
            self.maybe_log_progress()

    def skip(self, invalid: InvalidRecord) -> None:
        """A row that failed validation and was not sent."""
        self.skipped += 1
        self._problem(Problem(invalid.ref, invalid.column, invalid.reason, "validation"))
        self._write(
            {
                "row": invalid.ref,
                "column": invalid.column,
                "reason": invalid.reason,
                "stage": "validation",
                "data": invalid.row,
            }
        )
        if self.sync_log is not None:
            self.sync_log.invalid(invalid, self.endpoint)

    def sent(self, item: Item) -> None:
        """An object handed to the sender."""
        self.rows_sent += 1

    def withheld(self, *, accepted: int, unsettled: int) -> None:
        """Objects handed to the sender and kept back at the last moment: another run of the sync had
        claimed their keys meanwhile (``accepted`` of them Braze has, the others are of unknown outcome)."""
        self.rows_sent -= accepted + unsettled
        self.already_sent += accepted
        self.unsettled += unsettled

    # --- Braze's answers -------------------------------------------------------------------

    def record(self, result: BatchResult) -> None:
        """Account for one batch's outcomes."""
        self.requests += result.requests
        self.attempts += result.attempts
        self.possible_duplicates += result.possible_duplicates
        self.unmapped_errors.extend(result.unmapped_errors[: max(0, 100 - len(self.unmapped_errors))])
        for outcome in result.outcomes:
            self._outcome(outcome)
        if self.sync_log is not None:
            self.sync_log.batch(result)
        self.maybe_log_progress()

    def _outcome(self, outcome: ItemOutcome) -> None:
        item = outcome.item
        if outcome.status == "accepted":
            self.accepted += 1
            self.data_points += data_points(item.key, item.value)
            if self._unrecorded:
                self._delivered_unrecorded(item)
            return
        if outcome.status == "rejected":
            self.rejected += 1
            self._problem(Problem(item.ref, None, outcome.reason or "rejected by Braze", "braze"))
        elif outcome.status == "failed":
            self.failed += 1
        else:
            self.unknown += 1
        self._write(
            {"row": item.ref, "column": None, "reason": outcome.reason, "stage": outcome.status, "object": item.value}
        )

    def unrecorded_items(self, items: Iterable[Item], reason: str) -> None:
        """Mark accepted objects whose outcome the sync ledger could not record (the state store failed).

        Called from the thread that sent them, before their batch's result reaches :meth:`record`,
        which then counts them ``unrecorded`` and lists them with the stage ``delivered_unrecorded``.

        :param reason: what happened and where their outcome is kept.
        """
        with self._unrecorded_lock:
            for item in items:
                self._unrecorded[id(item)] = (item, reason)

    def _delivered_unrecorded(self, item: Item) -> None:
        with self._unrecorded_lock:
            found = self._unrecorded.pop(id(item), None)
        if found is None:
            return
        reason = found[1]
        self.unrecorded += 1
        self._write(
            {"row": item.ref, "column": None, "reason": reason, "stage": "delivered_unrecorded", "object": item.value}
        )

    def dry_run_batch(self, items: list[Item]) -> None:
        """Count a request a dry run would have sent, as if Braze accepted it."""
        self.requests += 1
        for item in items:
            self.data_points += data_points(item.key, item.value)

    # --- reporting -------------------------------------------------------------------------

    def _problem(self, problem: Problem) -> None:
        if self.first_problem is None:
            self.first_problem = problem
        if self._problems_logged < LOGGED_PROBLEMS:
            self._problems_logged += 1
            # A reason may quote a value; an email or a phone number in it is masked in the task log
            # (the rejected-records file, which the user asked for, keeps the row as read).
            log.warning("%s", mask_personal(str(problem)))
        elif self._problems_logged == LOGGED_PROBLEMS:
            self._problems_logged += 1
            log.warning(
                "More rows are at fault; they are counted in the summary and listed in the rejected-records file."
            )

    def _write(self, record: dict[str, Any]) -> None:
        if self.rejected_file is not None:
            text = json.dumps(record, default=str, ensure_ascii=False)
            if not text.isascii():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate, often the very reason the row is here
                    text = json.dumps(record, default=str)  # escaped as \\udxxx: still valid JSON
            self.rejected_file.write(text + "\n")

    @property
    def seconds(self) -> float:
        return self.clock() - self._started

    def maybe_log_progress(self, *, force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._last_progress < self.progress_interval:
            return
        self._last_progress = now
        elapsed = max(now - self._started, 1e-9)
        rate = self.rows_read / elapsed
        eta = ""
        if self.total and rate > 0:
            left = max(self.total - self.rows_read, 0) / rate
            eta = f"; {self.rows_read / self.total:.0%} of {self.total:,}, ETA {left:,.0f} s"
        done_before = ""
        if self.unchanged or self.already_sent or self.unsettled:
            done_before = (
                f", {self.unchanged:,} unchanged, {self.already_sent:,} already sent, {self.unsettled:,} unsettled"
            )
        if self.dry_run:
            log.info(
                "%s (dry run, nothing sent): %s rows read, %s to send, %s skipped%s; %s requests needed; %.0f rows/s%s",
                self.endpoint,
                f"{self.rows_read:,}",
                f"{self.rows_sent:,}",
                f"{self.skipped:,}",
                done_before,
                f"{self.requests:,}",
                rate,
                eta,
            )
            return
        log.info(
            "%s: %s rows read, %s sent, %s accepted, %s skipped, %s rejected by Braze%s; %s requests; %.0f rows/s%s",
            self.endpoint,
            f"{self.rows_read:,}",
            f"{self.rows_sent:,}",
            f"{self.accepted:,}",
            f"{self.skipped:,}",
            f"{self.rejected:,}",
            done_before,
            f"{self.requests:,}",
            rate,
            eta,
        )

    def summary(self, **extra: Any) -> dict[str, Any]:
        """The task's return value: counts only, never row data."""
        return {
            "endpoint": self.endpoint,
            "rows_read": self.rows_read,
            "rows_sent": self.rows_sent,
            "accepted": self.accepted,
            "skipped": self.skipped,
            "rejected": self.rejected,
            "failed": self.failed,
            "unknown": self.unknown,
            "unchanged": self.unchanged,
            "already_sent": self.already_sent,
            "unsettled": self.unsettled,
            "duplicate_rows": self.duplicate_rows,
            "superseded": self.superseded,
            "recovered": self.recovered,
            "possible_duplicates": self.possible_duplicates,
            "unrecorded": self.unrecorded,
            "requests": self.requests,
            "data_points": self.data_points,
            "data_points_saved": self.data_points_saved,
            "seconds": round(self.seconds, 3),
            **self._dry_run_counts(),
            **extra,
        }

    def _dry_run_counts(self) -> dict[str, int]:
        """A dry run sent nothing: what it counted is what a real run would send and spend."""
        if not self.dry_run:
            return {}
        return {
            "rows_sent": 0,
            "requests": 0,
            "data_points": 0,
            "rows_to_send": self.rows_sent,
            "requests_needed": self.requests,
            "data_points_to_spend": self.data_points,
        }
