"""How an export run ends: success, or a failure that says what happened to every row and what to do."""

from __future__ import annotations

import logging

from airflow.sdk.exceptions import AirflowFailException

from airflow_provider_braze.braze.errors import BrazeError
from airflow_provider_braze.ledger import ExportLedger

log = logging.getLogger(__name__)


class BrazeExportFailed(AirflowFailException, BrazeError):
    """An export finished without every row accepted while ``skip_on_invalid_records`` was off.

    A failure, not an error to retry: the same rows would fail again, and a retry would resend
    the events and purchases that were accepted.
    """


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
