"""Braze Cloud Data Ingestion: job statuses, which job is ours, paging, and the outcome of a wait.

The three CDI endpoints (linked below) are called through :class:`~airflow_provider_braze.hooks.braze.BrazeHook`;
this module holds what the hook, the trigger, the operator and the sensor share about them, and
imports nothing from Airflow.

Which job a task waits for: Braze gives a sync job no id, so a job is known by its
``sync_start_time``. A :class:`CDIJobSelector` names "the first job that started at or after this
time" and/or "after that earlier job", and the job status list is searched for it; the operator fills
it from what it saw around its own ``sync`` call, so an older job is never mistaken for the one it
started. Without a selector, the latest job is the first result: Braze does not document the order
of ``job_sync_status`` results, and the provider assumes newest first.

.. seealso:: https://www.braze.com/docs/api/endpoints/cdi/get_integration_list/,
    https://www.braze.com/docs/api/endpoints/cdi/post_job_sync/,
    https://www.braze.com/docs/api/endpoints/cdi/get_job_sync_status/
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote, unquote, urlsplit

from requests.utils import parse_header_links

if TYPE_CHECKING:
    from airflow_provider_braze.braze.async_transport import AsyncBrazeClient
    from airflow_provider_braze.braze.exchange import BrazeResponse

LIST_ENDPOINT = "cdi/integrations"
SYNC_ENDPOINT = "cdi/integrations/{integration_id}/sync"
STATUS_ENDPOINT = "cdi/integrations/{integration_id}/job_sync_status"


class CDIJobStatus(str, enum.Enum):
    """A CDI sync job's ``job_status``."""

    RUNNING = "running"
    SUCCESS = "success"  # every row synced
    PARTIAL = "partial"  # some rows failed
    ERROR = "error"  # no row synced
    CONFIG_ERROR = "config_error"  # the integration is misconfigured

    @property
    def is_terminal(self) -> bool:
        return self is not CDIJobStatus.RUNNING

    @classmethod
    def parse(cls, value: Any) -> CDIJobStatus | None:
        """The status for Braze's string, or ``None`` for one this provider does not know."""
        try:
            return cls(str(value).lower())
        except ValueError:
            return None


#: Terminal statuses that mean the sync failed.
FAILED_STATUSES = frozenset({CDIJobStatus.ERROR, CDIJobStatus.CONFIG_ERROR})


@dataclass(frozen=True)
class CDIJob:
    """One entry of ``job_sync_status``, as Braze reported it."""

    job_status: str
    sync_start_time: str | None = None
    sync_finish_time: str | None = None
    last_timestamp_synced: str | None = None
    rows_synced: int | None = None
    rows_failed_with_errors: int | None = None

    @classmethod
    def from_result(cls, result: Mapping[str, Any]) -> CDIJob:
        return cls(
            job_status=str(result.get("job_status") or ""),
            sync_start_time=result.get("sync_start_time"),
            sync_finish_time=result.get("sync_finish_time"),
            last_timestamp_synced=result.get("last_timestamp_synced"),
            rows_synced=_int_or_none(result.get("rows_synced")),
            rows_failed_with_errors=_int_or_none(result.get("rows_failed_with_errors")),
        )

    @property
    def status(self) -> CDIJobStatus | None:
        return CDIJobStatus.parse(self.job_status)

    @property
    def is_terminal(self) -> bool:
        """Finished with a known outcome (an unknown status keeps a wait going, with a warning)."""
        status = self.status
        return status is not None and status.is_terminal

    @property
    def started_at(self) -> datetime | None:
        return parse_time(self.sync_start_time)

    def summary(self) -> dict[str, Any]:
        """The job as a JSON-ready dict (trigger events carry it)."""
        return asdict(self)

    def describe(self) -> str:
        """One line with the job's numbers, for logs and error messages."""
        parts = [
            f"job_status={self.job_status or '?'}",
            f"rows_synced={_show(self.rows_synced)}",
            f"rows_failed_with_errors={_show(self.rows_failed_with_errors)}",
            f"sync_start_time={self.sync_start_time or '-'}",
            f"sync_finish_time={self.sync_finish_time or '-'}",
        ]
        return ", ".join(parts)


@dataclass(frozen=True)
class CDIJobSelector:
    """Which job of an integration a task is about.

    :param sync_start_time: the job is the first that started at or after this time (ISO 8601);
        the exact start time of a known job selects that job.
    :param after: the job started strictly after this time (the start of the job that was newest
        before a sync was requested).
    """

    sync_start_time: str | None = None
    after: str | None = None

    def __post_init__(self) -> None:
        for name in ("sync_start_time", "after"):
            value = getattr(self, name)
            if value is not None and parse_time(value) is None:
                raise ValueError(f"{name} must be an ISO 8601 time, got {value!r}")

    @property
    def is_any(self) -> bool:
        return self.sync_start_time is None and self.after is None

    def matches(self, job: CDIJob) -> bool:
        started = job.started_at
        if self.is_any:
            return True
        if started is None:
            return False
        lower = parse_time(self.sync_start_time)
        after = parse_time(self.after)
        return (lower is None or started >= lower) and (after is None or started > after)

    def pick(self, results: Any) -> CDIJob | None:
        """The selected job among a page of ``job_sync_status`` results, or ``None`` if not there yet.

        Without bounds it is the first result (assumed newest). With bounds it is the earliest job
        within them: the one that started first after the sync was requested, which does not depend
        on the order of the results.
        """
        jobs = [CDIJob.from_result(r) for r in (results or []) if isinstance(r, Mapping)]
        if self.is_any:
            return jobs[0] if jobs else None
        candidates = [job for job in jobs if self.matches(job)]
        if not candidates:
            return None
        # matches() keeps only jobs with a start time (is_any returned above).
        return min(candidates, key=lambda job: cast(datetime, job.started_at))


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as an aware UTC datetime (naive times are UTC), or ``None``."""
    if not value or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def path_params(integration_id: str) -> dict[str, str]:
    """Path values for the CDI endpoints; the id is URL-quoted so it cannot change the path."""
    integration_id = str(integration_id or "").strip()
    if not integration_id:
        raise ValueError("integration_id is empty")
    return {"integration_id": quote(integration_id, safe="")}


def next_cursor(headers: Mapping[str, str] | None) -> str | None:
    """The ``cursor`` of the ``rel="next"`` page in a ``Link`` header, or ``None`` on the last page.

    The cursor is passed back as a query parameter rather than following the link's URL, so every
    page is fetched through the same base URL, auth and retries as the first.
    """
    if not headers:
        return None
    link = next((v for k, v in headers.items() if str(k).lower() == "link"), None)
    if not link:
        return None
    for entry in parse_header_links(link):
        if entry.get("rel") != "next" or not entry.get("url"):
            continue
        # Braze's own example links are relative; only the query matters. Cursors look like
        # base64, so "+" is kept as is rather than read as a space (unquote, not parse_qs).
        for pair in urlsplit(entry["url"]).query.split("&"):
            name, _, value = pair.partition("=")
            if name == "cursor" and value:
                return unquote(value)
    return None


def iter_integrations(call: Callable[..., BrazeResponse], max_pages: int = 10_000) -> Iterator[dict[str, Any]]:
    """Every integration of the workspace, following ``Link`` cursors page by page.

    :param call: ``BrazeHook.call``.
    :param max_pages: a guard against a server that keeps returning the same cursor.
    """
    params: dict[str, Any] = {}
    seen: set[str] = set()
    for _ in range(max_pages):
        response = call(LIST_ENDPOINT, params=params or None)
        yield from response.body.get("results") or []
        cursor = next_cursor(response.headers)
        if cursor is None or cursor in seen:
            return
        seen.add(cursor)
        params = {"cursor": cursor}


async def afetch_job(
    client: AsyncBrazeClient, integration_id: str, selector: CDIJobSelector | None = None
) -> CDIJob | None:
    """The selected job of an integration (first page of ``job_sync_status``), asynchronously."""
    response = await client.request(STATUS_ENDPOINT, path_params=path_params(integration_id))
    return (selector or CDIJobSelector()).pick(response.body.get("results"))


# --- the outcome of a wait, shared by the trigger (as its event) and the synchronous paths -------


def job_event(integration_id: str, job: CDIJob) -> dict[str, Any]:
    """The event for a job that reached a terminal status."""
    status = job.status.value if job.status else job.job_status
    words = {
        "success": "synced every row",
        "partial": "synced some rows; others failed",
        "error": "synced no rows",
        "config_error": "failed: the integration is misconfigured",
    }
    message = f"Braze CDI job of integration {integration_id} {words.get(status, 'ended')} ({job.describe()})."
    return _event(status, integration_id, job, message)


def timeout_event(integration_id: str, job: CDIJob | None, waited: float) -> dict[str, Any]:
    """The event for a wait that reached its deadline first."""
    seen = f"last seen: {job.describe()}" if job else "the job was not seen in job_sync_status"
    message = f"Timed out after {waited:.0f} s waiting for the Braze CDI job of integration {integration_id} ({seen})."
    return _event("timeout", integration_id, job, message)


def failed_event(integration_id: str, error: BaseException, job: CDIJob | None = None) -> dict[str, Any]:
    """The event for a wait that broke on an unexpected error (the job's own status is unknown)."""
    message = f"Waiting for the Braze CDI job of integration {integration_id} failed: {type(error).__name__}: {error}"
    return _event("failed", integration_id, job, message)


def _event(status: str, integration_id: str, job: CDIJob | None, message: str) -> dict[str, Any]:
    """The shape every outcome of a wait shares: a status, the job as last seen (JSON-ready), a message."""
    return {
        "status": status,
        "integration_id": integration_id,
        "job": job.summary() if job else None,
        "message": message,
    }


def failure_message(event: Mapping[str, Any], *, fail_on_partial: bool) -> str | None:
    """Why an event means the task failed, or ``None`` when it succeeded."""
    status = event.get("status")
    if status == CDIJobStatus.SUCCESS.value or (status == CDIJobStatus.PARTIAL.value and not fail_on_partial):
        return None
    message = event.get("message") or f"Braze CDI job ended with status {status!r}."
    return str(message)


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _show(value: int | None) -> str:
    return "?" if value is None else str(value)
