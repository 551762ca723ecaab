"""The sync history's pages: ``/braze/syncs``, a sync, a run (and the extra link's way to a run).

The run page's search is a form posted to the page itself, so a typed email or phone number travels
in the request body and not in a URL that access logs and browser history keep.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from airflow_provider_braze.ui import pages, store
from airflow_provider_braze.ui.lookups import (
    PAGE_SIZE,
    csv_filename,
    problems_csv,
    reading,
    run_or_404,
    shown,
    sync_or_404,
)

router = APIRouter()


def _root(request: Request) -> str:
    """The path the app is mounted at (``/braze``, after any ``[api] base_url`` path), for links."""
    return request.scope.get("root_path", "").rstrip("/")


@router.get("/", include_in_schema=False)
def index(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{_root(request)}/syncs", status_code=307)


@router.get("/syncs", response_class=HTMLResponse)
def syncs(request: Request) -> str:
    """Every sync in the ledger with its newest run and health."""
    found = reading(lambda h: h.syncs())
    return pages.syncs_page(found, root=_root(request), store=store.describe())


@router.get("/syncs/{sync_key:path}/task-run", response_model=None)
def task_run(request: Request, sync_key: str, run_id: str, map_index: int = -1) -> Response:
    """The run an Airflow task instance made (its DAG run id and map index): where the extra link points."""
    sync = sync_or_404(sync_key)
    found = reading(lambda h: h.task_run(sync.id, run_id, map_index))
    if found is None:
        body = pages.message_page(
            "No ledger run for this task",
            f"Sync {sync.sync_key} has no run for DAG run {run_id}"
            + (f", map index {map_index}" if map_index >= 0 else "")
            + ": a dry run, or a task that failed before it opened the ledger, records none.",
            link=(f"{_root(request)}/syncs/{pages.urlpath(sync.sync_key)}", f"Every run of {sync.sync_key}"),
        )
        return HTMLResponse(body, status_code=404)
    return RedirectResponse(f"{_root(request)}/syncs/{pages.urlpath(sync.sync_key)}/runs/{found.id}", status_code=307)


@router.api_route("/syncs/{sync_key:path}/runs/{run}", methods=["GET", "POST"], response_model=None)
async def run_page(request: Request, sync_key: str, run: int, page: int = 0, reveal: bool = False) -> Response:
    """One run: its figures and its rows refused, failed or of unknown outcome; searchable by identifier."""
    identifier: str | None = None
    wants_csv = False
    if request.method == "POST":
        form = await request.form()
        identifier = str(form.get("identifier") or "").strip() or None
        reveal = reveal or form.get("reveal") == "1"
        wants_csv = form.get("format") == "csv"
    # The ledger is read in a worker thread: a SQLite or PostgreSQL read blocks.
    return await run_in_threadpool(_run_response, request, sync_key, run, identifier, max(page, 0), reveal, wants_csv)


def _run_response(
    request: Request, sync_key: str, run: int, identifier: str | None, page: int, reveal: bool, wants_csv: bool
) -> Response:
    sync = sync_or_404(sync_key)
    found = run_or_404(sync, run)
    if wants_csv:
        return StreamingResponse(
            problems_csv(sync, found, identifier=identifier, reveal=reveal),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{csv_filename(sync, found)}"'},
        )
    if identifier is not None:
        rows = reading(lambda h: h.problems(found.id, identifier=identifier))
        total, more = len(rows), False
    else:
        rows = reading(lambda h: h.problems(found.id, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE))
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        total = reading(lambda h: h.problem_count(found.id)) if more or page else len(rows)
    root = _root(request)
    query = urlencode({"format": "csv", **({"reveal": "true"} if reveal else {})})
    body = pages.run_page(
        sync,
        found,
        [shown(p, reveal) for p in rows],
        root=root,
        identifier=identifier,
        reveal=reveal,
        page=page,
        page_size=PAGE_SIZE,
        total=total,
        more=more,
        csv_url=f"{root}/api/syncs/{pages.urlpath(sync.sync_key)}/runs/{found.id}/problems?{query}",
    )
    return HTMLResponse(body)


@router.get("/syncs/{sync_key:path}", response_class=HTMLResponse)
def sync_page(request: Request, sync_key: str) -> str:
    """One sync: its runs newest first, their figures, and charts of throughput and outcomes."""
    sync = sync_or_404(sync_key)
    runs = reading(lambda h: h.runs(sync.id))
    return pages.sync_page(sync, runs, root=_root(request))
