"""Wait for a Braze Cloud Data Ingestion sync job to finish: ``BrazeCDIJobSensor``."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout

from airflow_provider_braze.braze import cdi_jobs
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.triggers.cdi import BrazeCDIJobTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class BrazeCDIJobSensor(BaseSensorOperator):
    """Wait until a sync job of a Braze Cloud Data Ingestion integration finishes.

    Reads `GET /cdi/integrations/{integration_id}/job_sync_status
    <https://www.braze.com/docs/api/endpoints/cdi/get_job_sync_status/>`__. ``poke`` is true once the
    job ended ``success`` (or ``partial``, unless ``fail_on_partial``) and fails the task when it
    ended ``error`` or ``config_error``: a finished job cannot change, so such a failure is not
    retried (``soft_fail`` skips instead). In ``poke`` and ``reschedule`` modes it works like any
    sensor; with ``deferrable=True`` it pokes once and then waits in the triggerer with
    :class:`~airflow_provider_braze.triggers.cdi.BrazeCDIJobTrigger`, the trigger the operator uses.

    :param integration_id: the CDI integration's id (templated).
    :param braze_conn_id: the Braze connection id (templated).
    :param sync_start_time: the job to wait for: the first that started at or after this ISO 8601
        time, e.g. ``BrazeCDISyncOperator``'s XCom ``sync_start_time`` (templated). Without it the
        sensor follows the integration's latest job, which may be one that already finished.
    :param fail_on_partial: fail when the job ends ``partial`` (some rows failed).
    :param deferrable: wait in the triggerer instead of a worker slot.
    """

    template_fields: Sequence[str] = ("integration_id", "braze_conn_id", "sync_start_time")
    ui_color = "#f7e3ef"

    def __init__(
        self,
        *,
        integration_id: str,
        braze_conn_id: str = BrazeHook.default_conn_name,
        sync_start_time: str | None = None,
        fail_on_partial: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.integration_id = integration_id
        self.braze_conn_id = braze_conn_id
        self.sync_start_time = sync_start_time
        self.fail_on_partial = fail_on_partial
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> BrazeHook:
        return BrazeHook(braze_conn_id=self.braze_conn_id)

    def poke(self, context: Context) -> bool:
        job = self.hook.get_cdi_job_status(self.integration_id, sync_start_time=self.sync_start_time or None)
        if job is None or not job.is_terminal:
            self.log.info(
                "Braze CDI job of integration %s: %s", self.integration_id, job.describe() if job else "not listed yet"
            )
            return False
        self._judge(cdi_jobs.job_event(self.integration_id, job))
        return True

    def execute(self, context: Context) -> Any:  # noqa: RET503 - it ends in defer(), which raises TaskDeferred
        if not self.deferrable:
            return super().execute(context)
        if self.poke(context):
            return None
        self.defer(
            trigger=BrazeCDIJobTrigger(
                integration_id=self.integration_id,
                end_time=time.time() + self.timeout,
                braze_conn_id=self.braze_conn_id,
                poll_interval=self.poke_interval or 1.0,
                sync_start_time=self.sync_start_time or None,
            ),
            method_name="execute_complete",
            # The trigger enforces the sensor's timeout itself, so execute_complete always runs.
            timeout=None,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> None:
        """Judge the trigger's event: return on success, raise on failure or timeout."""
        if not isinstance(event, dict) or "status" not in event:
            raise AirflowException(f"Unexpected event from the Braze CDI trigger: {event!r}")
        if event["status"] == "timeout":
            raise AirflowSensorTimeout(event.get("message") or "Timed out waiting for the Braze CDI job.")
        self._judge(event)

    def _judge(self, event: dict[str, Any]) -> None:
        problem = cdi_jobs.failure_message(event, fail_on_partial=self.fail_on_partial)
        if problem is None:
            log = self.log.warning if event["status"] == cdi_jobs.CDIJobStatus.PARTIAL.value else self.log.info
            log("%s", event["message"])
            return
        # A finished job cannot change, so its failure is final; a broken poll ("failed") may pass next time.
        raise (AirflowException if event["status"] == "failed" else AirflowFailException)(problem)
