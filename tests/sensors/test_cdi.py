"""BrazeCDIJobSensor in poke, reschedule and deferrable modes, against the sandbox."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowRescheduleException,
    AirflowSensorTimeout,
    AirflowSkipException,
    TaskDeferred,
)

from airflow_provider_braze.braze import cdi_jobs
from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.sensors import BrazeCDIJobSensor
from airflow_provider_braze.triggers import BrazeCDIJobTrigger


@pytest.fixture
def sandbox(cdi_sandbox):
    """This module's own Braze sandbox, ``braze_default`` pointing at it with quick retries."""
    return cdi_sandbox


def sensor(integration_id: str, **kwargs) -> BrazeCDIJobSensor:
    kwargs.setdefault("poke_interval", 0.05)
    kwargs.setdefault("timeout", 10)
    return BrazeCDIJobSensor(task_id="wait_for_cdi", integration_id=integration_id, **kwargs)


def start_sync(integration_id: str) -> str:
    hook = BrazeHook()
    hook.trigger_cdi_sync(integration_id)
    return hook.get_cdi_job_status(integration_id).sync_start_time


def test_templated_fields_are_kept_verbatim():
    s = BrazeCDIJobSensor(
        task_id="t",
        integration_id="{{ params.i }}",
        sync_start_time="{{ ti.xcom_pull('sync', key='sync_start_time') }}",
    )
    assert s.template_fields == ("integration_id", "braze_conn_id", "sync_start_time")
    assert s.sync_start_time == "{{ ti.xcom_pull('sync', key='sync_start_time') }}"


def test_poke_is_false_while_running_and_true_once_succeeded(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.2)
    started = start_sync(integration_id)
    s = sensor(integration_id, sync_start_time=started)
    assert s.poke(context) is False
    time.sleep(0.25)
    assert s.poke(context) is True


def test_poke_is_false_before_the_job_is_listed(sandbox, context):
    assert sensor(sandbox.add_cdi_integration()).poke(context) is False


@pytest.mark.parametrize("outcome", ["error", "config_error"])
def test_poke_fails_without_retry_on_a_failed_job(sandbox, context, outcome):
    integration_id = sandbox.add_cdi_integration(job_duration=0.0, job_status=outcome, rows_failed=4)
    start_sync(integration_id)
    with pytest.raises(AirflowFailException, match=f"job_status={outcome}, rows_synced=0"):
        sensor(integration_id).poke(context)


def test_partial_passes_unless_fail_on_partial(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.0, job_status="partial", rows_failed=2)
    start_sync(integration_id)
    assert sensor(integration_id).poke(context) is True
    with pytest.raises(AirflowFailException, match="rows_failed_with_errors=2"):
        sensor(integration_id, fail_on_partial=True).poke(context)


def test_poke_mode_waits_until_the_job_finishes(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.3)
    started = start_sync(integration_id)
    began = time.monotonic()
    sensor(integration_id, sync_start_time=started, mode="poke").execute(context)
    assert time.monotonic() - began >= 0.2
    assert BrazeHook().get_cdi_job_status(integration_id).job_status == "success"


def test_poke_mode_times_out(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=5)
    start_sync(integration_id)
    with pytest.raises(AirflowSensorTimeout):
        sensor(integration_id, timeout=0.2).execute(context)


def test_soft_fail_skips_on_a_failed_job(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.0, job_status="error")
    start_sync(integration_id)
    with pytest.raises(AirflowSkipException):
        sensor(integration_id, soft_fail=True).execute(context)


def test_reschedule_mode_releases_the_slot_while_running(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.2)
    started = start_sync(integration_id)
    s = sensor(integration_id, sync_start_time=started, mode="reschedule")
    with pytest.raises(AirflowRescheduleException):
        s.execute(context)
    time.sleep(0.25)
    s.execute(context)  # finished: no reschedule


def test_an_older_job_is_not_taken_for_the_one_named(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.0)
    older = start_sync(integration_id)  # finished "success" at once
    named = (cdi_jobs.parse_time(older) + timedelta(milliseconds=5)).isoformat()
    assert sensor(integration_id, sync_start_time=named).poke(context) is False


# --- deferrable --------------------------------------------------------------------------------------------


def test_deferrable_defers_to_the_same_trigger_as_the_operator(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.3)
    started = start_sync(integration_id)
    before = time.time()
    s = sensor(integration_id, sync_start_time=started, deferrable=True, poke_interval=0.05, timeout=120)
    with pytest.raises(TaskDeferred) as deferred:
        s.execute(context)
    trigger = deferred.value.trigger
    assert isinstance(trigger, BrazeCDIJobTrigger)
    assert (deferred.value.method_name, deferred.value.timeout) == ("execute_complete", None)
    _, kwargs = trigger.serialize()
    assert kwargs["integration_id"] == integration_id and kwargs["sync_start_time"] == started
    assert kwargs["poll_interval"] == 0.05 and before + 120 <= kwargs["end_time"] <= time.time() + 120

    (fired,) = asyncio.run(_collect(trigger))
    assert fired.payload["status"] == "success"
    assert s.execute_complete(context, fired.payload) is None


async def _collect(trigger):
    return [e async for e in trigger.run()]


def test_deferrable_returns_at_once_when_the_job_already_finished(sandbox, context):
    integration_id = sandbox.add_cdi_integration(job_duration=0.0)
    start_sync(integration_id)
    assert sensor(integration_id, deferrable=True).execute(context) is None


@pytest.mark.parametrize(
    ("status", "raised"),
    [
        ("success", None),
        ("partial", None),
        ("error", AirflowFailException),
        ("config_error", AirflowFailException),
        ("timeout", AirflowSensorTimeout),
        ("failed", AirflowException),
    ],
)
def test_execute_complete_judges_each_event(context, status, raised):
    job = cdi_jobs.CDIJob(status, "2026-01-01T00:00:00Z", None, None, 5, 1)
    payload = {
        "timeout": lambda: cdi_jobs.timeout_event("i-1", job, 60),
        "failed": lambda: cdi_jobs.failed_event("i-1", RuntimeError("boom")),
    }.get(status, lambda: cdi_jobs.job_event("i-1", job))()
    s = BrazeCDIJobSensor(task_id="t", integration_id="i-1")
    if raised is None:
        assert s.execute_complete(context, payload) is None
    else:
        with pytest.raises(raised):
            s.execute_complete(context, payload)
