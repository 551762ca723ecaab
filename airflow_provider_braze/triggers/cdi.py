"""The trigger that waits for a Braze Cloud Data Ingestion sync job, shared by the operator and the sensor."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_braze.braze import cdi_jobs
from airflow_provider_braze.hooks.braze import BrazeHook


class BrazeCDIJobTrigger(BaseTrigger):
    """Poll a CDI integration's ``job_sync_status`` until its job finishes or a deadline passes.

    It yields exactly one event, a JSON dict: ``status`` (the job's ``success``, ``partial``,
    ``error`` or ``config_error``; ``timeout`` when ``end_time`` came first; ``failed`` when polling
    broke on an unexpected error), ``integration_id``, ``job`` (the job as Braze reported it, with
    ``rows_synced``, ``rows_failed_with_errors`` and the sync times; ``None`` when it was never seen)
    and ``message``.

    The deadline is enforced here rather than by ``defer(timeout=...)``, so the task always resumes
    in ``execute_complete``; it is wall-clock time so that it holds across defer and resume.

    :param integration_id: the CDI integration's id.
    :param end_time: deadline, epoch seconds (``time.time()`` based).
    :param braze_conn_id: the Braze connection id.
    :param poll_interval: seconds between two status requests.
    :param sync_start_time: the job is the first that started at or after this ISO 8601 time
        (a known job's exact start selects that job).
    :param after: the job started strictly after this ISO 8601 time (the job before ours).
        With neither bound the trigger follows the latest job.
    """

    def __init__(
        self,
        integration_id: str,
        end_time: float,
        braze_conn_id: str = BrazeHook.default_conn_name,
        poll_interval: float = 30.0,
        sync_start_time: str | None = None,
        after: str | None = None,
    ) -> None:
        super().__init__()
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        self.integration_id = str(integration_id)
        self.end_time = float(end_time)
        self.braze_conn_id = braze_conn_id
        self.poll_interval = float(poll_interval)
        self.sync_start_time = sync_start_time
        self.after = after

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "integration_id": self.integration_id,
                "end_time": self.end_time,
                "braze_conn_id": self.braze_conn_id,
                "poll_interval": self.poll_interval,
                "sync_start_time": self.sync_start_time,
                "after": self.after,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        job: cdi_jobs.CDIJob | None = None
        started = time.time()
        try:
            hook = BrazeHook(braze_conn_id=self.braze_conn_id)
            async with await hook.aget_client() as client:
                while True:
                    job = await hook.aget_cdi_job_status(
                        self.integration_id, sync_start_time=self.sync_start_time, after=self.after, client=client
                    )
                    if job is not None and job.is_terminal:
                        event = cdi_jobs.job_event(self.integration_id, job)
                        self.log.info("%s", event["message"])
                        break
                    self._log_progress(job)
                    now = time.time()
                    if now >= self.end_time:
                        event = cdi_jobs.timeout_event(self.integration_id, job, now - started)
                        self.log.warning("%s", event["message"])
                        break
                    await asyncio.sleep(min(self.poll_interval, self.end_time - now))
        except Exception as exc:  # a trigger reports every failure as an event instead of dying
            self.log.exception("Polling the Braze CDI job of integration %s failed", self.integration_id)
            event = cdi_jobs.failed_event(self.integration_id, exc, job)
        yield TriggerEvent(event)

    def _log_progress(self, job: cdi_jobs.CDIJob | None) -> None:
        if job is None:
            self.log.info(
                "Braze CDI job of integration %s not listed yet; next check in %g s",
                self.integration_id,
                self.poll_interval,
            )
        elif job.status is None:
            self.log.warning(
                "Braze CDI job of integration %s has unknown status %r; still waiting",
                self.integration_id,
                job.job_status,
            )
        else:
            self.log.info(
                "Braze CDI job of integration %s: %s; next check in %g s",
                self.integration_id,
                job.describe(),
                self.poll_interval,
            )
