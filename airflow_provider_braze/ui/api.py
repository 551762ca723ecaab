"""The sync history's JSON API, for scripts: ``/braze/api/syncs``, a sync's runs, a run's rows at fault.

Same data as the pages, same rules: an authenticated Airflow user (see :mod:`.app`), reasons masked
unless ``reveal=true``, and a run's rows as CSV with ``format=csv``. Times are ISO 8601 in UTC;
figures a summary does not hold are ``null``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from airflow_provider_braze.state.sync_history import Run, Sync
from airflow_provider_braze.ui.figures import figures, health
from airflow_provider_braze.ui.lookups import (
    PAGE_SIZE,
    csv_filename,
    later,
    problems_csv,
    reading,
    run_or_404,
    shown,
    sync_or_404,
)
from airflow_provider_braze.ui.pages import OUTCOME_LABELS

router = APIRouter(prefix="/api")


def _time(seconds: float | None) -> str | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat()


def run_json(run: Run) -> dict[str, Any]:
    """A run as the API returns it: its identity, times, figures and the summary as recorded."""
    return {
        "id": run.id,
        "run_id": run.run_id,
        "map_index": run.map_index,
        "try_number": run.try_number,
        "partition": run.partition,
        "status": run.status,
        "started_at": _time(run.started_at),
        "finished_at": _time(run.finished_at),
        "figures": figures(run).as_dict(),
        "summary": run.summary,
    }


def sync_json(sync: Sync) -> dict[str, Any]:
    """A sync as the API returns it, with its newest run and health."""
    return {
        "sync_key": sync.sync_key,
        "mode": sync.mode,
        "endpoint": sync.endpoint,
        "run_count": sync.runs,
        "health": health(sync.last),
        "last_run": None if sync.last is None else run_json(sync.last),
    }


@router.get("/syncs")
def list_syncs() -> dict[str, Any]:
    """Every sync in the ledger, each with its newest run and health."""
    return {"syncs": [sync_json(s) for s in reading(lambda h: h.syncs())]}


@router.get("/syncs/{sync_key:path}/runs/{run}/problems", response_model=None)
def run_problems(
    sync_key: str,
    run: int,
    identifier: Annotated[str | None, Query(description="only this user identifier's or event key's rows")] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",  # noqa: A002 - the parameter's public name
    reveal: bool = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = PAGE_SIZE,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any] | StreamingResponse:
    """The rows of a run that were refused, failed or of unknown outcome, with row, column and reason."""
    sync = sync_or_404(sync_key)
    found = run_or_404(sync, run)
    if format == "csv":
        return StreamingResponse(
            problems_csv(sync, found, identifier=identifier, reveal=reveal),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{csv_filename(sync, found)}"'},
        )
    rows = reading(lambda h: h.problems(found.id, identifier=identifier, limit=limit, offset=offset))
    total = reading(lambda h: h.problem_count(found.id)) if identifier is None else len(rows)
    return {
        "sync_key": sync.sync_key,
        "run": run_json(found),
        "total": total,
        "problems": [
            {
                "row": p.row,
                "status": p.status,
                "outcome": OUTCOME_LABELS.get(p.status, p.status),
                "column": p.column,
                "reason": p.reason,
                "later": later(p),
            }
            for p in (shown(p, reveal) for p in rows)
        ],
    }


@router.get("/syncs/{sync_key:path}/runs/{run}")
def one_run(sync_key: str, run: int) -> dict[str, Any]:
    """One run of a sync."""
    sync = sync_or_404(sync_key)
    return {"sync_key": sync.sync_key, "run": run_json(run_or_404(sync, run))}


@router.get("/syncs/{sync_key:path}/runs")
def sync_runs(sync_key: str, limit: Annotated[int, Query(ge=1, le=1_000)] = 200) -> dict[str, Any]:
    """A sync's runs, newest first."""
    sync = sync_or_404(sync_key)
    return {**sync_json(sync), "runs": [run_json(r) for r in reading(lambda h: h.runs(sync.id, limit=limit))]}


@router.get("/syncs/{sync_key:path}")
def one_sync(sync_key: str) -> dict[str, Any]:
    """One sync, with its newest run and health."""
    return sync_json(sync_or_404(sync_key))
