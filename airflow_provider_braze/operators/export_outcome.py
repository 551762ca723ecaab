"""How an export run ends: success, or a failure that says what happened to every row and what to do."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.ledger import ExportLedger
from airflow_provider_braze.state.errors import StateStoreError
from airflow_provider_braze.state.unrecorded_spool import ACCEPTED, SpoolWriter

log = logging.getLogger(__name__)


class BrazeExportFailed(AirflowFailException, BrazeError):
    """An export finished without every row accepted while ``skip_on_invalid_records`` was off.

    A failure, not an error to retry: the same rows would fail again, and a retry would resend
    the events and purchases that were accepted.
    """


class BrazeExportUnrecorded(StateStoreError):
    """The state store failed after Braze had answered: outcomes the sync ledger could not record.

    Not an :class:`~airflow.sdk.exceptions.AirflowFailException`: a retry is what records them (it
    replays the spool before planning), and nothing it holds is sent again.

    :param store: the store, its path or URL without password.
    :param cause: the store's failure in a word (``disk full`` ...).
    :param driver_message: the driver's words.
    :param spool: the unrecorded spool file, if one could be written.
    :param kept: outcomes in the spool.
    :param accepted: rows among them (and among the lost) that Braze accepted.
    :param lost: outcomes that could be kept nowhere.
    :param sync_key: the sync.
    """

    def __init__(
        self,
        store: str,
        cause: str,
        driver_message: str,
        *,
        spool: str | None,
        kept: int,
        accepted: int,
        lost: int,
        sync_key: str,
    ) -> None:
        super().__init__(store, cause, driver_message)
        self.spool, self.kept, self.accepted, self.lost, self.sync_key = spool, kept, accepted, lost, sync_key

    def __str__(self) -> str:
        text = (
            f"{super().__str__()}. The sync ledger could not record {self.kept + self.lost:,} outcomes Braze had "
            f"answered, {self.accepted:,} of them rows Braze accepted (delivered); batches not sent yet were not sent."
        )
        if self.kept:
            text += (
                f" {self.kept:,} outcomes are kept in the unrecorded spool {self.spool}: the next attempt or run of "
                f"sync {self.sync_key!r} on this machine records them before it sends anything. If it runs on another "
                f"machine, copy the file there first and run `braze-sync-ledger replay FILE`."
            )
        if self.lost:
            text += (
                f" {self.lost:,} could be kept nowhere (no spool folder could be written): later attempts hold them "
                f"back as unsettled; they are listed in the rejected-records file with stage 'delivered_unrecorded'."
            )
        return text + " Never settle delivered rows with --not-delivered: they would be sent twice."

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _unpickle_unrecorded,
            (
                self.store,
                self.cause,
                self.driver_message,
                self.spool,
                self.kept,
                self.accepted,
                self.lost,
                self.sync_key,
            ),
        )


def _unpickle_unrecorded(*args: Any) -> BrazeExportUnrecorded:
    store, cause, message, spool, kept, accepted, lost, sync_key = args
    return BrazeExportUnrecorded(
        store, cause, message, spool=spool, kept=kept, accepted=accepted, lost=lost, sync_key=sync_key
    )


def fail_if_store_failed(failure: StateStoreError | None, spool: SpoolWriter | None, sync_key: str) -> None:
    """Fail the task when the state store failed, naming what was kept where.

    :param failure: the store's failure, if any.
    :param spool: the attempt's unrecorded spool.
    :raises BrazeExportUnrecorded: outcomes Braze answered could not be recorded.
    :raises StateStoreError: the store failed, and nothing Braze answered was left unrecorded.
    """
    if failure is None:
        return
    kept = spool.kept if spool is not None else 0
    lost = sum(spool.lost.values()) if spool is not None else 0
    if not kept and not lost:
        raise failure
    accepted = (spool.counts[ACCEPTED] + spool.lost[ACCEPTED]) if spool is not None else 0
    path = str(spool.path) if spool is not None and spool.path is not None else None
    raise BrazeExportUnrecorded(
        failure.store,
        failure.cause,
        failure.driver_message,
        spool=path,
        kept=kept,
        accepted=accepted,
        lost=lost,
        sync_key=sync_key,
    ) from failure


def run_complete(ledger: ExportLedger, *, skip_on_invalid_records: bool) -> bool:
    """Whether the run ends well: no row of unknown outcome, and no row at fault unless skipping them."""
    return not ledger.unknown and (skip_on_invalid_records or ledger.first_problem is None)


def warn_unsettled(ledger: ExportLedger, sync_key: str | None) -> None:
    """Log the rows an earlier attempt left without an answer, and how to settle them.

    :param sync_key: the sync's key in the sync ledger; ``None`` when the run used no ledger.
    """
    if ledger.unsettled and sync_key is not None:
        log.warning(
            "%s rows were not sent because an earlier attempt sent them and got no clear answer: Braze may hold "
            "them. Check in Braze, then settle them with `braze-sync-ledger settle %s --delivered` (they arrived) "
            "or `--not-delivered` (the next run sends them), or pass retry_ambiguous=True to resend them.",
            f"{ledger.unsettled:,}",
            sync_key,
        )


def fail_if_incomplete(ledger: ExportLedger, sync_key: str | None, *, skip_on_invalid_records: bool) -> None:
    """Fail the task when rows ended without a clear answer, or at fault while not skipping them.

    :param sync_key: the sync's key in the sync ledger; ``None`` when the run used no ledger.
    :raises BrazeExportFailed: saying how many rows, what became of the others, and what to do.
    """
    if ledger.unknown:
        settle = (
            f" Later attempts and runs hold them back; once you have checked Braze, settle them with "
            f"`braze-sync-ledger settle {sync_key} --delivered` (or --not-delivered to send them again)."
            if sync_key is not None
            else ""
        )
        raise BrazeExportFailed(
            f"{ledger.unknown:,} rows were sent without a clear answer (connection lost, timeout, 502 or 504), "
            "so Braze may or may not have applied them; they were not resent because events, purchases and "
            "increments would count twice. They are listed in the rejected-records file with stage 'unknown'."
            f"{settle} Pass retry_ambiguous=True to resend such requests instead (at-least-once)."
        )
    if skip_on_invalid_records or ledger.first_problem is None:
        return
    problem = ledger.first_problem
    if problem.stage == "validation":
        raise BrazeExportFailed(
            f"Stopped at {problem}. {ledger.accepted:,} rows read before it were sent and accepted. "
            "Fix the row, or set skip_on_invalid_records=True to skip invalid rows and continue."
        )
    raise BrazeExportFailed(
        f"Braze refused {ledger.rejected:,} of {ledger.rows_sent:,} rows; the first: {problem}. The other rows "
        "were accepted. Set skip_on_invalid_records=True to report refused rows without failing."
    )
