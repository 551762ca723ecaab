"""BrazeCDIJobTrigger: serialisation, and real async polling of the sandbox to each outcome."""

from __future__ import annotations

import asyncio
import importlib
import json
import time

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_braze.hooks.braze import BrazeHook
from airflow_provider_braze.triggers import BrazeCDIJobTrigger


@pytest.fixture
def sandbox(cdi_sandbox):
    """This module's own Braze sandbox, ``braze_default`` pointing at it with quick retries."""
    return cdi_sandbox


CLASSPATH = "airflow_provider_braze.triggers.cdi.BrazeCDIJobTrigger"
JOB_KEYS = {
    "job_status",
    "sync_start_time",
    "sync_finish_time",
    "last_timestamp_synced",
    "rows_synced",
    "rows_failed_with_errors",
}


async def run_trigger(trigger: BrazeCDIJobTrigger) -> list[TriggerEvent]:
    return [event async for event in trigger.run()]


def start_sync(integration_id: str) -> str:
    """Start a sync through the hook; returns the job's sync_start_time."""
    hook = BrazeHook()
    hook.trigger_cdi_sync(integration_id)
    return hook.get_cdi_job_status(integration_id).sync_start_time


def trigger_for(integration_id: str, seconds: float = 10.0, **kwargs) -> BrazeCDIJobTrigger:
    end_time = time.time() + seconds
    return BrazeCDIJobTrigger(integration_id=integration_id, end_time=end_time, poll_interval=0.05, **kwargs)


def import_string(path: str):
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def test_serialize_round_trips_with_json_only_kwargs():
    trigger = BrazeCDIJobTrigger(
        integration_id="i-1",
        end_time=1_800_000_000.5,
        braze_conn_id="braze_eu",
        poll_interval=15,
        sync_start_time="2026-01-01T00:00:00.000Z",
        after=None,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "integration_id": "i-1",
        "end_time": 1_800_000_000.5,
        "braze_conn_id": "braze_eu",
        "poll_interval": 15.0,
        "sync_start_time": "2026-01-01T00:00:00.000Z",
        "after": None,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert import_string(classpath)(**kwargs).serialize() == (classpath, kwargs)


def test_poll_interval_must_be_positive():
    with pytest.raises(ValueError, match="poll_interval"):
        BrazeCDIJobTrigger(integration_id="i-1", end_time=0, poll_interval=0)


@pytest.mark.parametrize(
    ("outcome", "rows_synced", "rows_failed"),
    [("success", 120, 0), ("partial", 80, 20), ("error", 0, 7), ("config_error", 0, 0)],
)
def test_yields_one_event_with_the_jobs_outcome(sandbox, outcome, rows_synced, rows_failed):
    integration_id = sandbox.add_cdi_integration(
        job_duration=0.3, job_status=outcome, rows_synced=rows_synced, rows_failed=rows_failed
    )
    started = start_sync(integration_id)
    events = asyncio.run(run_trigger(trigger_for(integration_id, sync_start_time=started)))
    assert len(events) == 1
    payload = events[0].payload
    assert set(payload) == {"status", "integration_id", "job", "message"}
    assert (payload["status"], payload["integration_id"]) == (outcome, integration_id)
    assert set(payload["job"]) == JOB_KEYS
    assert payload["job"]["job_status"] == outcome and payload["job"]["sync_start_time"] == started
    assert (payload["job"]["rows_synced"], payload["job"]["rows_failed_with_errors"]) == (rows_synced, rows_failed)
    assert payload["job"]["sync_finish_time"] is not None
    assert f"rows_failed_with_errors={rows_failed}" in payload["message"]
    assert json.loads(json.dumps(payload)) == payload


def test_times_out_at_the_wall_clock_deadline_with_the_job_last_seen(sandbox):
    integration_id = sandbox.add_cdi_integration(job_duration=5)
    started = start_sync(integration_id)
    began = time.monotonic()
    (event,) = asyncio.run(run_trigger(trigger_for(integration_id, seconds=0.3, sync_start_time=started)))
    assert 0.25 <= time.monotonic() - began < 2
    assert event.payload["status"] == "timeout"
    assert event.payload["job"]["job_status"] == "running"
    assert "Timed out" in event.payload["message"]


def test_a_deadline_already_past_checks_once_then_times_out(sandbox):
    integration_id = sandbox.add_cdi_integration(job_duration=5)
    start_sync(integration_id)
    sandbox.requests.clear()
    trigger = BrazeCDIJobTrigger(integration_id=integration_id, end_time=time.time() - 1, poll_interval=30)
    (event,) = asyncio.run(run_trigger(trigger))
    assert event.payload["status"] == "timeout"
    assert len(sandbox.requests.records(endpoint="cdi/integrations/{integration_id}/job_sync_status")) == 1


def test_an_older_finished_job_is_not_taken_for_ours(sandbox):
    integration_id = sandbox.add_cdi_integration(job_duration=0.05)
    older = start_sync(integration_id)
    time.sleep(0.1)
    (event,) = asyncio.run(run_trigger(trigger_for(integration_id, seconds=0.3, after=older)))
    assert event.payload["status"] == "timeout" and event.payload["job"] is None
    assert "not seen" in event.payload["message"]


def test_follows_the_job_that_started_after_the_older_one(sandbox):
    integration_id = sandbox.add_cdi_integration(job_duration=0.05)
    older = start_sync(integration_id)
    time.sleep(0.1)
    sandbox.configure_cdi_integration(integration_id, job_status="error", job_duration=0.2)

    async def scenario():
        waiting = asyncio.create_task(run_trigger(trigger_for(integration_id, after=older)))
        await asyncio.sleep(0.15)  # the trigger is polling and sees only the older job
        await asyncio.to_thread(BrazeHook().trigger_cdi_sync, integration_id)
        return await waiting

    (event,) = asyncio.run(scenario())
    assert event.payload["status"] == "error"
    assert event.payload["job"]["sync_start_time"] > older


def test_an_unexpected_error_becomes_a_failed_event(sandbox):
    (event,) = asyncio.run(run_trigger(trigger_for("not-a-uuid")))
    assert event.payload["status"] == "failed" and event.payload["integration_id"] == "not-a-uuid"
    assert "BrazeBadRequestError" in event.payload["message"] and "Invalid integration ID" in event.payload["message"]


def test_a_missing_connection_becomes_a_failed_event(sandbox):
    (event,) = asyncio.run(run_trigger(trigger_for(sandbox.add_cdi_integration(), braze_conn_id="no_such_conn")))
    assert event.payload["status"] == "failed" and "no_such_conn" in event.payload["message"]


def test_polling_never_blocks_the_event_loop(sandbox):
    # Every answer takes 0.25 s; a blocking call would stall the heartbeat for that long. The bound
    # below leaves room for a busy machine's scheduling delays (0.1 s seen with the suite in parallel).
    sandbox.latency = 0.25
    integration_id = sandbox.add_cdi_integration(job_duration=0.5)
    started = start_sync(integration_id)

    async def scenario():
        gaps: list[float] = []
        done = asyncio.Event()

        async def heartbeat():
            last = time.monotonic()
            while not done.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        beating = asyncio.create_task(heartbeat())
        events = await run_trigger(trigger_for(integration_id, sync_start_time=started))
        done.set()
        await beating
        return events, gaps

    events, gaps = asyncio.run(scenario())
    assert events[0].payload["status"] == "success"
    assert len(gaps) > 20 and max(gaps) < 0.15
