"""Cloud Data Ingestion: integrations, sync jobs that finish after a set time, and the three endpoints.

.. seealso:: https://www.braze.com/docs/api/endpoints/cdi/get_integration_list/,
    https://www.braze.com/docs/api/endpoints/cdi/post_job_sync/,
    https://www.braze.com/docs/api/endpoints/cdi/get_job_sync_status/

A sync starts a job that reports ``running`` until ``job_duration`` seconds have passed, then the
integration's configured outcome (``success``, ``partial``, ``error`` or ``config_error``). The
outcome and duration can be changed per integration at any time; they apply to the next sync.

Sandbox choices where Braze's documentation is silent:

* integration ids are UUIDs; an id that is not a UUID is ``400 Invalid integration ID`` on both
  endpoints; a well-formed unknown id is ``404 Integration not found`` on ``sync`` (documented
  there) and ``400 Invalid integration ID`` on ``job_sync_status`` (whose page lists no 404);
* a sync of an integration whose status is not ``active`` is refused with 400;
* cursors are opaque tokens; a malformed one is ``400 Invalid cursor``; pages of 10 carry a ``Link``
  header with ``rel="next"`` and, after the first page, ``rel="prev"``; ``job_sync_status`` lists
  newest first;
* a finished job reports ``rows_synced`` and ``last_timestamp_synced`` (its start time) for
  ``success`` and ``partial``, 0 rows and no timestamp for ``error`` and ``config_error``;
  ``rows_failed_with_errors`` is the configured count for ``partial`` and ``error``.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_braze.sandbox.braze.context import Call
from airflow_provider_braze.sandbox.braze.messages import Response, error, success
from airflow_provider_braze.sandbox.braze.timeparse import iso

PAGE_SIZE = 10
JOB_STATUSES = frozenset({"success", "partial", "error", "config_error"})


@dataclass
class Job:
    """One sync run and the outcome it will report once finished."""

    started_at: float
    duration: float
    outcome: str
    rows_synced: int
    rows_failed: int

    def running(self, now: float) -> bool:
        return now < self.started_at + self.duration

    def view(self, now: float) -> dict[str, Any]:
        if self.running(now):
            return {
                "job_status": "running",
                "sync_start_time": iso(self.started_at),
                "sync_finish_time": None,
                "last_timestamp_synced": None,
                "rows_synced": 0,
                "rows_failed_with_errors": 0,
            }
        synced = self.outcome in ("success", "partial")
        return {
            "job_status": self.outcome,
            "sync_start_time": iso(self.started_at),
            "sync_finish_time": iso(self.started_at + self.duration),
            "last_timestamp_synced": iso(self.started_at) if synced else None,
            "rows_synced": self.rows_synced if synced else 0,
            "rows_failed_with_errors": self.rows_failed if self.outcome in ("partial", "error") else 0,
        }


@dataclass
class Integration:
    """A CDI integration and how its next sync will go."""

    integration_id: str
    integration_name: str
    integration_type: str = "user_attributes"
    integration_status: str = "active"
    warehouse_type: str = "snowflake"
    contact_emails: str = ""
    job_duration: float = 0.5
    job_status: str = "success"
    rows_synced: int = 100
    rows_failed: int = 0
    last_updated_at: float = field(default_factory=time.time)
    jobs: list[Job] = field(default_factory=list)

    def view(self, app_group_id: str, now: float) -> dict[str, Any]:
        last = self.jobs[-1] if self.jobs else None
        return {
            "integration_id": self.integration_id,
            "app_group_id": app_group_id,
            "integration_name": self.integration_name,
            "integration_type": self.integration_type,
            "integration_status": self.integration_status,
            "contact_emails": self.contact_emails,
            "last_updated_at": iso(self.last_updated_at),
            "warehouse_type": self.warehouse_type,
            "last_job_start_time": iso(last.started_at) if last else None,
            "last_job_status": last.view(now)["job_status"] if last else None,
            "next_scheduled_run": None,
        }


class CdiState:
    """The workspace's integrations; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.app_group_id = str(uuid.uuid4())
        self.integrations: dict[str, Integration] = {}

    def add(self, integration_id: str | None = None, **settings: Any) -> str:
        """Register an integration; returns its id (a new UUID unless given)."""
        integration_id = integration_id or str(uuid.uuid4())
        if not _is_uuid(integration_id):
            raise ValueError(f"CDI integration ids are UUIDs, got {integration_id!r}")
        settings.setdefault("integration_name", f"sandbox integration {len(self.integrations) + 1}")
        integration = Integration(integration_id=integration_id, **settings)
        _check_outcome(integration.job_status)
        with self.lock:
            self.integrations[integration_id] = integration
        return integration_id

    def configure(self, integration_id: str, **settings: Any) -> None:
        """Change how the integration's next syncs go (``job_status``, ``job_duration``, rows ...)."""
        if "job_status" in settings:
            _check_outcome(settings["job_status"])
        with self.lock:
            integration = self.integrations[integration_id]
            for name, value in settings.items():
                if not hasattr(integration, name) or name in ("jobs", "integration_id"):
                    raise ValueError(f"Unknown CDI integration setting {name!r}")
                setattr(integration, name, value)

    def clear_jobs(self) -> None:
        with self.lock:
            for integration in self.integrations.values():
                integration.jobs.clear()

    def to_dict(self) -> list[dict[str, Any]]:
        now = time.time()
        with self.lock:
            return [
                {**i.view(self.app_group_id, now), "jobs": [j.view(now) for j in reversed(i.jobs)]}
                for i in self.integrations.values()
            ]


def _check_outcome(status: str) -> None:
    if status not in JOB_STATUSES:
        raise ValueError(f"job_status must be one of {', '.join(sorted(JOB_STATUSES))}")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _offset(call: Call) -> int | None:
    raw = call.query("cursor")
    if raw is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        prefix, number = text.split(":")
        offset = int(number)
    except (ValueError, UnicodeDecodeError):
        return None
    return offset if prefix == "offset" and offset >= 0 and offset % PAGE_SIZE == 0 else None


def _paged(call: Call, rows: list[dict[str, Any]], offset: int, status: int = 200) -> Response:
    response = success(status, results=rows[offset : offset + PAGE_SIZE])
    url = f"{call.request.base_url}{call.request.path}?cursor="
    links = []
    if offset + PAGE_SIZE < len(rows):
        links.append(f'<{url}{_cursor(offset + PAGE_SIZE)}>; rel="next"')
    if offset > 0:
        links.append(f'<{url}{_cursor(offset - PAGE_SIZE)}>; rel="prev"')
    if links:
        response.headers["Link"] = ", ".join(links)
    return response


def handle_list(call: Call) -> Response:
    offset = _offset(call)
    if offset is None:
        return error(400, "Invalid cursor")
    now = time.time()
    with call.cdi.lock:
        rows = [i.view(call.cdi.app_group_id, now) for i in call.cdi.integrations.values()]
    return _paged(call, rows, offset)


def handle_sync(call: Call) -> Response:
    integration_id = call.params["integration_id"]
    if not _is_uuid(integration_id):
        return error(400, "Invalid integration ID")
    now = time.time()
    with call.cdi.lock:
        integration = call.cdi.integrations.get(integration_id)
        if integration is None:
            return error(404, "Integration not found")
        if integration.integration_status != "active":
            return error(400, f"Integration is {integration.integration_status}")
        if integration.jobs and integration.jobs[-1].running(now):
            return error(429, "Another job is in progress")
        integration.jobs.append(
            Job(now, integration.job_duration, integration.job_status, integration.rows_synced, integration.rows_failed)
        )
    return success(202)


def handle_job_status(call: Call) -> Response:
    integration_id = call.params["integration_id"]
    offset = _offset(call)
    if offset is None:
        return error(400, "Invalid cursor")
    now = time.time()
    with call.cdi.lock:
        integration = call.cdi.integrations.get(integration_id) if _is_uuid(integration_id) else None
        if integration is None:
            return error(400, "Invalid integration ID")
        rows = [job.view(now) for job in reversed(integration.jobs)]
    return _paged(call, rows, offset)
