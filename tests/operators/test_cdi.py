"""BrazeCDISyncOperator: start a sync and wait for it in the worker or the triggerer, against the sandbox."""

from __future__ import annotations

import asyncio
import time

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred

from airflow_provider_braze.braze import cdi_jobs
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.operators import BrazeCDISyncOperator
from airflow_provider_braze.triggers import BrazeCDIJobTrigger
from tests.helpers.braze import FAST_RETRIES, set_braze_connection, sync_requests


@pytest.fixture
def sandbox(cdi_sandbox):
    """This module's own Braze sandbox, ``braze_default`` pointing at it with quick retries."""
    return cdi_sandbox


SYNC = "cdi/integrations/{integration_id}/sync"


def operator(integration_id: str, **kwargs) -> BrazeCDISyncOperator:
    kwargs.setdefault("poll_interval", 0.05)
    kwargs.setdefault("deferrable", False)
    return BrazeCDISyncOperator(task_id="cdi_sync", integration_id=integration_id, **kwargs)


def jobs_of(sandbox, integration_id: str) -> list:
    return sandbox.cdi.integrations[integration_id].jobs


def event(status: str, rows_synced: int = 10, rows_failed: int = 3) -> dict:
    job = cdi_jobs.CDIJob(
        status, "2026-01-01T00:00:00.000Z", "2026-01-01T00:05:00.000Z", None, rows_synced, rows_failed
    )
    if status == "timeout":
        return cdi_jobs.timeout_event("i-1", job, 60)
    if status == "failed":
        return cdi_jobs.failed_event("i-1", RuntimeError("boom"))
    return cdi_jobs.job_event("i-1", job)


# --- declaration ---------------------------------------------------------------------------------------


def test_templated_fields_are_kept_verbatim_until_rendered():
    op = BrazeCDISyncOperator(task_id="t", integration_id="{{ params.integration }}", braze_conn_id="{{ params.conn }}")
    assert op.template_fields == ("integration_id", "braze_conn_id")
    assert (op.integration_id, op.braze_conn_id) == ("{{ params.integration }}", "{{ params.conn }}")


def test_defaults():
    op = BrazeCDISyncOperator(task_id="t", integration_id="i-1")
    assert (op.braze_conn_id, op.wait_for_completion, op.deferrable) == ("braze_default", True, False)
    assert op.poll_interval == 30.0
    assert (op.fail_on_partial, op.reuse_running_job) == (False, True)


# --- waiting in the worker ---------------------------------------------------------------------------------


def test_sync_wait_succeeds_and_pushes_only_ids(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.3, rows_synced=42)
    result = operator(integration_id).execute(context)
    (_job,) = jobs_of(sandbox, integration_id)
    started = sandbox.cdi.to_dict()[0]["jobs"][0]["sync_start_time"]
    assert context["ti"].xcom == {"integration_id": integration_id, "sync_start_time": started}
    assert result == started
    assert sandbox.cdi.to_dict()[0]["jobs"][0]["job_status"] == "success"


@pytest.mark.parametrize(
    ("outcome", "error"),
    [("error", AirflowException), ("config_error", AirflowFailException)],
)
def test_sync_wait_fails_with_the_job_numbers(sandbox, context, outcome, error):
    integration_id = sandbox.add_cdi_integration(job_duration=0.2, job_status=outcome, rows_failed=7)
    with pytest.raises(error, match=f"job_status={outcome}") as raised:
        operator(integration_id).execute(context)
    assert "rows_synced=0" in str(raised.value)
    assert context["ti"].xcom["sync_start_time"]


def test_partial_succeeds_by_default(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.2, job_status="partial", rows_synced=80, rows_failed=20)
    assert operator(integration_id).execute(context) == context["ti"].xcom["sync_start_time"]


def test_partial_fails_when_asked(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.2, job_status="partial", rows_synced=80, rows_failed=20)
    with pytest.raises(AirflowException, match="rows_synced=80, rows_failed_with_errors=20"):
        operator(integration_id, fail_on_partial=True).execute(context)


def test_sync_wait_times_out(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=5)
    with pytest.raises(AirflowException, match=r"Timed out .* job_status=running"):
        operator(integration_id, timeout=0.3).execute(context)


def test_an_older_finished_job_is_not_reported_as_ours(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.05)
    BrazeHook().trigger_cdi_sync(integration_id)
    time.sleep(0.1)  # the older job ended "success"; ours will end "error"
    sandbox.configure_cdi_integration(integration_id, job_status="error", job_duration=0.2)
    with pytest.raises(AirflowException, match="job_status=error"):
        operator(integration_id).execute(context)
    assert len(jobs_of(sandbox, integration_id)) == 2


def test_without_waiting_returns_once_started(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=5)
    result = operator(integration_id, wait_for_completion=False).execute(context)
    assert result == context["ti"].xcom["sync_start_time"]
    assert BrazeHook().get_cdi_job_status(integration_id).job_status == "running"


# --- a job already running vs a rate limit -----------------------------------------------------------------


def test_job_in_progress_attaches_to_the_running_job_by_default(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.4)
    BrazeHook().trigger_cdi_sync(integration_id)
    running = BrazeHook().get_cdi_job_status(integration_id)
    result = operator(integration_id).execute(context)
    assert result == running.sync_start_time == context["ti"].xcom["sync_start_time"]
    assert len(jobs_of(sandbox, integration_id)) == 1
    assert sync_requests(sandbox) == [202, 429]


def test_job_in_progress_fails_clearly_when_reuse_is_off(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=2)
    BrazeHook().trigger_cdi_sync(integration_id)
    with pytest.raises(AirflowException, match=r"already running .*reuse_running_job is False"):
        operator(integration_id, reuse_running_job=False).execute(context)
    assert len(jobs_of(sandbox, integration_id)) == 1
    assert sync_requests(sandbox) == [202, 429]


def test_a_rate_limit_429_is_retried_and_starts_our_job(sandbox, context, monkeypatch):
    set_braze_connection(monkeypatch, sandbox.url, extra={**FAST_RETRIES, "client_rate_limiting": False})
    integration_id = sandbox.add_cdi_integration(job_duration=0.1)
    sandbox.faults.update(rate_limit_storm_for=0.3, rate_limit_storm_reset=0.5, endpoints=[SYNC])
    operator(integration_id).execute(context)
    assert sync_requests(sandbox) == [429, 202]
    assert len(jobs_of(sandbox, integration_id)) == 1


# --- deferral ------------------------------------------------------------------------------------------------


def test_deferrable_defers_to_the_cdi_trigger_with_a_wall_clock_deadline(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.3, rows_synced=9)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        operator(integration_id, deferrable=True, poll_interval=0.05, timeout=600).execute(context)
    trigger, exc = deferred.value.trigger, deferred.value
    assert isinstance(trigger, BrazeCDIJobTrigger)
    assert (exc.method_name, exc.timeout) == ("execute_complete", None)
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_braze.triggers.cdi.BrazeCDIJobTrigger"
    assert kwargs["integration_id"] == integration_id and kwargs["braze_conn_id"] == "braze_default"
    assert kwargs["sync_start_time"] == context["ti"].xcom["sync_start_time"] and kwargs["after"] is None
    assert kwargs["poll_interval"] == 0.05 and before + 600 <= kwargs["end_time"] <= time.time() + 600
    assert context["ti"].xcom == {"integration_id": integration_id, "sync_start_time": kwargs["sync_start_time"]}

    # The triggerer runs the trigger; the task resumes in execute_complete with its event.
    (fired,) = asyncio.run(_collect(trigger))
    assert fired.payload["status"] == "success" and fired.payload["job"]["rows_synced"] == 9
    op = operator(integration_id, deferrable=True)
    assert op.execute_complete(context, fired.payload) == kwargs["sync_start_time"]


async def _collect(trigger):
    return [e async for e in trigger.run()]


def test_deferrable_does_not_defer_for_a_job_already_finished(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.0)
    result = operator(integration_id, deferrable=True).execute(context)
    assert result == context["ti"].xcom["sync_start_time"]


@pytest.mark.parametrize(
    ("status", "fail_on_partial", "raised"),
    [
        ("success", False, None),
        ("partial", False, None),
        ("partial", True, AirflowException),
        ("error", False, AirflowException),
        ("config_error", False, AirflowFailException),
        ("timeout", False, AirflowException),
        ("failed", False, AirflowException),
    ],
)
def test_execute_complete_judges_each_event(context, status, fail_on_partial, raised):
    op = BrazeCDISyncOperator(task_id="t", integration_id="i-1", fail_on_partial=fail_on_partial)
    if raised is None:
        assert op.execute_complete(context, event(status)) == "2026-01-01T00:00:00.000Z"
        assert context["ti"].xcom == {"sync_start_time": "2026-01-01T00:00:00.000Z"}
        return
    with pytest.raises(raised) as error:
        op.execute_complete(context, event(status))
    if status != "failed":
        assert "rows_synced=10, rows_failed_with_errors=3" in str(error.value)


def test_execute_complete_refuses_a_malformed_event(context):
    with pytest.raises(AirflowException, match="Unexpected event"):
        BrazeCDISyncOperator(task_id="t", integration_id="i-1").execute_complete(context, {"nope": 1})
