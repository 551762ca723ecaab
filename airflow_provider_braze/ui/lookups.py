"""What the pages and the API both look up: a sync by key, a run of it, a run's rows at fault as shown.

A sync or run that does not exist is a 404 naming what was asked for (escaped where it is shown).
A store that cannot be read is a 503 naming only the kind of error: its text could carry a host or
a user name, and the page must never show a connection's details.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TypeVar

from fastapi import HTTPException
from sqlalchemy.exc import SQLAlchemyError

from airflow_provider_braze.redaction import mask_personal
from airflow_provider_braze.state.errors import StateStoreError
from airflow_provider_braze.state.sync_history import Problem, Run, Sync, SyncHistory
from airflow_provider_braze.ui import store
from airflow_provider_braze.ui.pages import OUTCOME_LABELS

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Rows at fault per page, and per read when exporting all of them.
PAGE_SIZE = 200
CSV_CHUNK = 5_000
CSV_COLUMNS = ("sync_key", "run_id", "map_index", "row", "outcome", "column", "reason", "later")


def reading(read: Callable[[SyncHistory], T]) -> T:
    """Run ``read`` on the configured store; a store that cannot be read is a 503."""
    try:
        return read(store.history())
    except StateStoreError as exc:  # its cause in a word; the store's name stays in the server's log
        log.warning("Braze sync history: %s", exc)
        raise HTTPException(503, f"the sync ledger's state store could not be read ({exc.cause})") from None
    except (SQLAlchemyError, OSError) as exc:
        log.warning("Braze sync history: the state store could not be read (%s)", type(exc).__name__)
        raise HTTPException(503, f"the sync ledger's state store could not be read ({type(exc).__name__})") from None
    except Exception as exc:
        # [braze] state_conn_id names no connection. Matched by name: the core and the Task SDK each
        # define an AirflowNotFoundException, and which one BaseHook raises depends on the release.
        if type(exc).__name__ == "AirflowNotFoundException":
            raise HTTPException(503, "the state store's connection ([braze] state_conn_id) does not exist") from None
        raise


def sync_or_404(sync_key: str) -> Sync:
    """The sync named ``sync_key``, or a 404."""
    found = reading(lambda h: h.sync(sync_key))
    if found is None:
        raise HTTPException(404, f"no sync {sync_key!r} in the sync ledger")
    return found


def run_or_404(sync: Sync, run: int) -> Run:
    """The run ``run`` (ledger id) of ``sync``, or a 404."""
    found = reading(lambda h: h.run(sync.id, run))
    if found is None:
        raise HTTPException(404, f"no run {run} of sync {sync.sync_key!r}")
    return found


def shown(problem: Problem, reveal: bool) -> Problem:
    """The problem as a page shows it: emails and phone numbers in its reason masked unless ``reveal``."""
    if reveal or not problem.reason:
        return problem
    return replace(problem, reason=mask_personal(problem.reason))


def later(problem: Problem) -> str:
    """What became of the row afterwards, in words."""
    if problem.resolved_run == -1:
        return "settled by hand"
    return "accepted by a later run" if problem.resolved_run else "open"


def _cell(text: str | None) -> str:
    # A cell starting with = + - @ is a formula to a spreadsheet; reasons quote source values.
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def problems_csv(sync: Sync, run: Run, *, identifier: str | None, reveal: bool) -> Iterator[str]:
    """The run's rows at fault as CSV text, a chunk at a time (a run may have a million of them).

    :param identifier: only this identifier's rows (``None``: all).
    :param reveal: reasons as the ledger holds them instead of masked.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    after = None
    while True:
        chunk = reading(functools.partial(_problems_after, run.id, identifier, after))
        for stored in chunk:
            p = shown(stored, reveal)
            writer.writerow(
                (
                    sync.sync_key,
                    run.run_id,
                    run.map_index,
                    p.row or "",
                    OUTCOME_LABELS.get(p.status, p.status),
                    _cell(p.column),
                    _cell(p.reason),
                    later(p),
                )
            )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(chunk) < CSV_CHUNK:
            return
        after = chunk[-1].id


def _problems_after(run_id: int, identifier: str | None, after: int | None, history: SyncHistory) -> list[Problem]:
    return history.problems(run_id, identifier=identifier, limit=CSV_CHUNK, after=after)


def csv_filename(sync: Sync, run: Run) -> str:
    """A file name for a run's CSV: the sync key and run id, with anything unsafe in a header replaced."""
    text = f"braze-{sync.sync_key}-{run.run_id}-problems.csv"
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in text)
