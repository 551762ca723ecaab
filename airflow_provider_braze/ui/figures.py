"""What a run's summary says, in the words of the sync history page.

The summary is what the export operator handed to the ledger when the run finished
(:meth:`airflow_provider_braze.ledger.ExportLedger.summary`): ``rows_read``, ``rows_sent``,
``accepted``, ``skipped`` (invalid, never sent), ``rejected`` (refused by Braze), ``failed``,
``unknown``, ``unchanged``, ``already_sent``, ``data_points``, ``data_points_saved``, ``seconds``...
A run still going, or written by an older release, lacks some: those figures are ``None`` and the
page shows "—".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from airflow_provider_braze.state.sync_history import Run

#: What a figure that the summary does not hold is shown as.
MISSING = "—"

HEALTHY, WARNING, FAILED, RUNNING, NEVER_RUN = "healthy", "warning", "failed", "running", "never run"


@dataclass(frozen=True)
class RunFigures:
    """The counts of one run; ``None`` where its summary does not say.

    :param refused: rows refused: invalid before sending (``skipped``) plus rejected by Braze.
    :param rows_per_second: rows read per second of the run.
    """

    rows_read: int | None
    rows_sent: int | None
    accepted: int | None
    unchanged: int | None
    already_sent: int | None
    refused: int | None
    invalid: int | None
    rejected: int | None
    failed: int | None
    unknown: int | None
    data_points: int | None
    data_points_saved: int | None
    seconds: float | None
    rows_per_second: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _count(summary: dict[str, Any], key: str) -> int | None:
    value = summary.get(key)
    # bool is an int to Python, never a count here.
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def figures(run: Run) -> RunFigures:
    """The figures of a run, from its summary.

    :param run: a run as the ledger holds it.
    """
    s = run.summary
    invalid, rejected = _count(s, "skipped"), _count(s, "rejected")
    refused = None if invalid is None and rejected is None else (invalid or 0) + (rejected or 0)
    seconds = s.get("seconds") if isinstance(s.get("seconds"), (int, float)) else None
    rows_read = _count(s, "rows_read")
    rate = rows_read / seconds if rows_read is not None and seconds else None
    return RunFigures(
        rows_read=rows_read,
        rows_sent=_count(s, "rows_sent"),
        accepted=_count(s, "accepted"),
        unchanged=_count(s, "unchanged"),
        already_sent=_count(s, "already_sent"),
        refused=refused,
        invalid=invalid,
        rejected=rejected,
        failed=_count(s, "failed"),
        unknown=_count(s, "unknown"),
        data_points=_count(s, "data_points"),
        data_points_saved=_count(s, "data_points_saved"),
        seconds=float(seconds) if seconds is not None else None,
        rows_per_second=rate,
    )


def health(run: Run | None) -> str:
    """How a sync is doing by its newest run: ``failed``, ``warning`` (rows refused, failed or of
    unknown outcome), ``healthy``, ``running`` or ``never run``."""
    if run is None:
        return NEVER_RUN
    if run.status == "failed":
        return FAILED
    if run.status == "running":
        return RUNNING
    shown = figures(run)
    if any(n for n in (shown.refused, shown.failed, shown.unknown)):
        return WARNING
    return HEALTHY


def number(value: float | None, digits: int = 0) -> str:
    """A figure for people: ``12,345``, ``3.2``; :data:`MISSING` when unknown."""
    if value is None:
        return MISSING
    return f"{value:,.{digits}f}"


def duration(seconds: float | None) -> str:
    """``0.4 s``, ``12.3 s``, ``4 min 05 s``; :data:`MISSING` when unknown."""
    if seconds is None:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {rest:02d} s"
