"""Start a Braze Cloud Data Ingestion sync and wait for it: ``BrazeCDISyncOperator``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_provider_braze.braze import cdi_jobs
from airflow_provider_braze.braze.errors import BrazeJobInProgressError
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.triggers.cdi import BrazeCDIJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

#: A CDI run may move up to 500 million rows; a day is a generous default wait.
DEFAULT_TIMEOUT = 24 * 60 * 60


class BrazeCDISyncOperator(BaseOperator):
    """Start a sync of a Braze Cloud Data Ingestion integration and wait until the job finishes.

    Calls `POST /cdi/integrations/{integration_id}/sync
    <https://www.braze.com/docs/api/endpoints/cdi/post_job_sync/>`__, then follows the job with
    `GET /cdi/integrations/{integration_id}/job_sync_status
    <https://www.braze.com/docs/api/endpoints/cdi/get_job_sync_status/>`__, polling in the worker or,
    with ``deferrable=True``, in the triggerer (:class:`~airflow_provider_braze.triggers.cdi.BrazeCDIJobTrigger`).

    Braze gives a job no id, so the job is known by its ``sync_start_time``: the operator notes the
    newest job before it asks for a sync and follows the first job that started after it, never an
    older one. XCom gets ids only: ``integration_id`` and the job's ``sync_start_time`` (also the
    return value), which :class:`~airflow_provider_braze.sensors.cdi.BrazeCDIJobSensor` accepts.

    When Braze answers ``429 Another job is in progress``, a sync of the integration is already
    running and Braze will not start another until it ends. That is not a rate limit (a rate-limit
    429 is retried by the hook). By default (``reuse_running_job=True``) the operator attaches to the
    running job and waits for it, because the usual cause is this very task: a retry after a worker
    was lost or a wait timed out, whose first attempt started the job. Failing would only make the
    next retry meet the same 429, and starting a second job is impossible anyway. Set
    ``reuse_running_job=False`` to fail instead, when the sync must include rows written after the
    running job may have started reading.

    :param integration_id: the CDI integration's id (templated).
    :param braze_conn_id: the Braze connection id (templated).
    :param wait_for_completion: wait until the job finishes; ``False`` returns once it is started.
    :param deferrable: wait in the triggerer instead of a worker slot.
    :param poll_interval: seconds between two status checks.
    :param timeout: seconds the whole wait may last (wall clock, across deferral); then the task fails.
        Braze has no endpoint to cancel a CDI job, so the job itself runs on.
    :param fail_on_partial: fail the task when the job ends ``partial`` (some rows failed); by
        default it succeeds with a warning.
    :param reuse_running_job: when a sync is already running, wait for that job (default) instead of
        failing.
    """

    template_fields: Sequence[str] = ("integration_id", "braze_conn_id")
    ui_color = "#f7e3ef"

    def __init__(
        self,
        *,
        integration_id: str,
        braze_conn_id: str = BrazeHook.default_conn_name,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: float = DEFAULT_TIMEOUT,
        fail_on_partial: bool = False,
        reuse_running_job: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.integration_id = integration_id
        self.braze_conn_id = braze_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.fail_on_partial = fail_on_partial
        self.reuse_running_job = reuse_running_job

    @cached_property
    def hook(self) -> BrazeHook:
        return BrazeHook(braze_conn_id=self.braze_conn_id)

    def execute(self, context: Context) -> str | None:
        if self.poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        end_time = time.time() + self.timeout
        job, selector = self._start_or_attach()
        ti = context["ti"]
        ti.xcom_push(key="integration_id", value=self.integration_id)
        if job is not None:
            ti.xcom_push(key="sync_start_time", value=job.sync_start_time)
        if not self.wait_for_completion:
            if job is None:
                self.log.warning(
                    "The sync of integration %s was started but its job is not listed yet, so no "
                    "sync_start_time was pushed to XCom.",
                    self.integration_id,
                )
            return job.sync_start_time if job else None
        if job is not None and job.is_terminal:
            return self.execute_complete(context, cdi_jobs.job_event(self.integration_id, job))
        if self.deferrable:
            self.defer(
                trigger=BrazeCDIJobTrigger(
                    integration_id=self.integration_id,
                    end_time=end_time,
                    braze_conn_id=self.braze_conn_id,
                    poll_interval=self.poll_interval,
                    sync_start_time=selector.sync_start_time,
                    after=selector.after,
                ),
                method_name="execute_complete",
                # The trigger enforces end_time itself, so execute_complete always runs.
                timeout=None,
            )
        return self.execute_complete(context, self._wait(job, selector, end_time))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str | None:
        """Judge the job's outcome (from the trigger, or from the synchronous wait)."""
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"Unexpected event from the Braze CDI trigger: {event!r}")
        job = event.get("job") or {}
        sync_start_time = job.get("sync_start_time")
        if sync_start_time:
            context["ti"].xcom_push(key="sync_start_time", value=sync_start_time)
        problem = cdi_jobs.failure_message(event, fail_on_partial=self.fail_on_partial)
        if problem is not None:
            # Retrying cannot repair a misconfigured integration; other failures may pass next time.
            error = (
                AirflowFailException
                if event["status"] == cdi_jobs.CDIJobStatus.CONFIG_ERROR.value
                else AirflowException
            )
            raise error(problem)
        if event["status"] == cdi_jobs.CDIJobStatus.PARTIAL.value:
            self.log.warning("%s", event["message"])
        else:
            self.log.info("%s", event["message"])
        return sync_start_time

    def _start_or_attach(self) -> tuple[cdi_jobs.CDIJob | None, cdi_jobs.CDIJobSelector]:
        """Start a sync (or find the running one); return its job if listed, and how to find it."""
        hook = self.hook
        previous = hook.get_cdi_job_status(self.integration_id)
        try:
            hook.trigger_cdi_sync(self.integration_id)
        except BrazeJobInProgressError as exc:
            return self._attach(exc)
        selector = cdi_jobs.CDIJobSelector(after=previous.sync_start_time if previous else None)
        job = hook.get_cdi_job_status(self.integration_id, after=selector.after)
        if job is not None and job.sync_start_time:
            selector = cdi_jobs.CDIJobSelector(sync_start_time=job.sync_start_time)
        self.log.info(
            "Started a sync of Braze CDI integration %s (job started %s)",
            self.integration_id,
            job.sync_start_time if job else "- not listed yet",
        )
        return job, selector

    def _attach(self, exc: BrazeJobInProgressError) -> tuple[cdi_jobs.CDIJob | None, cdi_jobs.CDIJobSelector]:
        if not self.reuse_running_job:
            raise AirflowException(
                f"A sync of Braze CDI integration {self.integration_id} is already running (Braze answered "
                f"429 'Another job is in progress'), and reuse_running_job is False. Braze starts no second "
                f"job until it ends; retry later, or set reuse_running_job=True to wait for that job."
            ) from exc
        running = self.hook.get_cdi_job_status(self.integration_id)
        if running is None or not running.sync_start_time:
            self.log.warning(
                "Braze says a sync of integration %s is in progress but lists no job; following the latest job.",
                self.integration_id,
            )
            return running, cdi_jobs.CDIJobSelector()
        self.log.info(
            "A sync of Braze CDI integration %s is already running (started %s); waiting for that job "
            "instead of starting another.",
            self.integration_id,
            running.sync_start_time,
        )
        return running, cdi_jobs.CDIJobSelector(sync_start_time=running.sync_start_time)

    def _wait(self, job: cdi_jobs.CDIJob | None, selector: cdi_jobs.CDIJobSelector, end_time: float) -> dict[str, Any]:
        """Poll in the worker until the job finishes or ``end_time``; return the same event as the trigger."""
        started = time.time()
        while True:
            if job is not None and job.is_terminal:
                return cdi_jobs.job_event(self.integration_id, job)
            now = time.time()
            if now >= end_time:
                return cdi_jobs.timeout_event(self.integration_id, job, now - started)
            self.log.info(
                "Braze CDI job of integration %s: %s; next check in %g s",
                self.integration_id,
                job.describe() if job else "not listed yet",
                self.poll_interval,
            )
            time.sleep(min(self.poll_interval, end_time - now))
            job = self.hook.get_cdi_job_status(
                self.integration_id, sync_start_time=selector.sync_start_time, after=selector.after
            )
