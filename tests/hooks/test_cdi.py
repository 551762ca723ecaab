"""BrazeHook's Cloud Data Ingestion methods against the sandbox, and the job model they return."""

from __future__ import annotations

import time
import uuid

import pytest

from airflow_provider_braze.braze.async_transport import AsyncBrazeClient
from airflow_provider_braze.braze.cdi_jobs import CDIJob, CDIJobSelector, CDIJobStatus, next_cursor
from airflow_provider_braze.braze.errors import (
    BrazeBadRequestError,
    BrazeJobInProgressError,
    BrazeNotFoundError,
)
from airflow_provider_braze.hooks.braze import BrazeHook
from tests.helpers.braze import FAST_RETRIES, set_braze_connection, sync_requests
from tests.helpers.secrets import TEST_API_KEY


@pytest.fixture
def sandbox(cdi_sandbox):
    """This module's own Braze sandbox, ``braze_default`` pointing at it with quick retries."""
    return cdi_sandbox


SYNC = "cdi/integrations/{integration_id}/sync"


def wait_until_finished(hook: BrazeHook, integration_id: str, limit: float = 5.0) -> CDIJob:
    deadline = time.time() + limit
    while time.time() < deadline:
        job = hook.get_cdi_job_status(integration_id)
        if job is not None and job.is_terminal:
            return job
        time.sleep(0.05)
    raise AssertionError("the sandbox job did not finish")


# --- listing -------------------------------------------------------------------------------------------


def test_list_cdi_integrations_follows_link_cursors_across_pages(sandbox):
    ids = [sandbox.add_cdi_integration(integration_name=f"table {i}") for i in range(23)]
    listed = BrazeHook().list_cdi_integrations()
    assert [i["integration_id"] for i in listed] == ids
    assert len(sandbox.requests.records(endpoint="cdi/integrations")) == 3


def test_list_cdi_integrations_of_10_or_fewer_is_one_request(sandbox):
    ids = [sandbox.add_cdi_integration() for _ in range(10)]
    assert [i["integration_id"] for i in BrazeHook().list_cdi_integrations()] == ids
    assert len(sandbox.requests.records(endpoint="cdi/integrations")) == 1


def test_next_cursor_reads_brazes_relative_links_and_keeps_plus_signs():
    link = (
        '</cdi/integrations/x/job_sync_status?cursor=c2tpcDow>; rel="prev",'
        '</cdi/integrations/x/job_sync_status?cursor=c2t+pcDoxMDA%3D>; rel="next"'
    )
    assert next_cursor({"link": link}) == "c2t+pcDoxMDA="
    assert next_cursor({"Link": '</cdi/integrations?cursor=abc>; rel="prev"'}) is None
    assert next_cursor({}) is None


# --- triggering a sync -----------------------------------------------------------------------------------


def test_trigger_cdi_sync_starts_a_job(sandbox):
    integration_id = sandbox.add_cdi_integration(job_duration=0.2)
    response = BrazeHook().trigger_cdi_sync(integration_id)
    assert response.status_code == 202
    assert len(sandbox.cdi.integrations[integration_id].jobs) == 1


def test_trigger_cdi_sync_while_a_job_runs_is_job_in_progress_not_retried(sandbox):
    integration_id = sandbox.add_cdi_integration(job_duration=2)
    hook = BrazeHook()
    hook.trigger_cdi_sync(integration_id)
    with pytest.raises(BrazeJobInProgressError, match="Another job is in progress"):
        hook.trigger_cdi_sync(integration_id)
    assert sync_requests(sandbox) == [202, 429]


def test_trigger_cdi_sync_retries_a_real_rate_limit_429(sandbox, monkeypatch):
    # The hook's own token bucket would then hold the retry further; only the retry is under test.
    set_braze_connection(monkeypatch, sandbox.url, extra={**FAST_RETRIES, "client_rate_limiting": False})
    integration_id = sandbox.add_cdi_integration()
    # Another client used up the workspace's budget: Braze answers 429 "Rate Limited" for a moment.
    sandbox.faults.update(rate_limit_storm_for=0.3, rate_limit_storm_reset=0.5, endpoints=[SYNC])
    BrazeHook().trigger_cdi_sync(integration_id)  # waits for X-RateLimit-Reset, then succeeds
    assert sync_requests(sandbox) == [429, 202]
    assert len(sandbox.cdi.integrations[integration_id].jobs) == 1


def test_trigger_cdi_sync_of_an_unknown_integration_is_not_found(sandbox):
    with pytest.raises(BrazeNotFoundError):
        BrazeHook().trigger_cdi_sync(str(uuid.uuid4()))


def test_integration_id_cannot_change_the_request_path(sandbox):
    with pytest.raises(BrazeBadRequestError, match="Invalid integration ID"):
        BrazeHook().get_cdi_job_status("../../users/track")


# --- job status ------------------------------------------------------------------------------------------


def test_job_status_is_none_before_any_sync(sandbox):
    assert BrazeHook().get_cdi_job_status(sandbox.add_cdi_integration()) is None


def test_job_status_is_the_latest_job_with_its_numbers(sandbox):
    integration_id = sandbox.add_cdi_integration(job_duration=0.1, job_status="partial", rows_synced=80, rows_failed=20)
    hook = BrazeHook()
    hook.trigger_cdi_sync(integration_id)
    running = hook.get_cdi_job_status(integration_id)
    done = wait_until_finished(hook, integration_id)
    assert running.status is CDIJobStatus.RUNNING and not running.is_terminal
    assert (done.status, done.rows_synced, done.rows_failed_with_errors) == (CDIJobStatus.PARTIAL, 80, 20)
    assert done.sync_start_time == running.sync_start_time and done.sync_finish_time


def test_job_status_selects_a_job_by_its_start_time(sandbox):
    integration_id = sandbox.add_cdi_integration(job_duration=0.05)
    hook = BrazeHook()
    hook.trigger_cdi_sync(integration_id)
    older = wait_until_finished(hook, integration_id)
    sandbox.configure_cdi_integration(integration_id, job_status="error")
    hook.trigger_cdi_sync(integration_id)
    newer = wait_until_finished(hook, integration_id)
    assert hook.get_cdi_job_status(integration_id, sync_start_time=older.sync_start_time) == older
    assert hook.get_cdi_job_status(integration_id, after=older.sync_start_time) == newer
    assert hook.get_cdi_job_status(integration_id, after=newer.sync_start_time) is None


@pytest.mark.asyncio
async def test_aget_cdi_job_status_reads_the_connection_asynchronously(sandbox):
    integration_id = sandbox.add_cdi_integration(job_duration=5)
    BrazeHook().trigger_cdi_sync(integration_id)
    job = await BrazeHook().aget_cdi_job_status(integration_id)
    assert job.status is CDIJobStatus.RUNNING


@pytest.mark.asyncio
async def test_aget_client_is_built_from_the_connection(sandbox, monkeypatch):
    set_braze_connection(monkeypatch, sandbox.url, extra={"max_attempts": 2, "timeout": 7})
    client = await BrazeHook().aget_client()
    async with client:
        assert isinstance(client, AsyncBrazeClient)
        assert client.base_url == sandbox.url
        assert client.retry_policy.max_attempts == 2 and client.timeout == (10.0, 7.0)
        assert TEST_API_KEY not in repr(client)
        response = await client.get("cdi/integrations")
    assert response.status_code == 200


# --- the job model -----------------------------------------------------------------------------------------


def _result(status: str, start: str) -> dict:
    return {"job_status": status, "sync_start_time": start, "rows_synced": 1, "rows_failed_with_errors": 0}


def test_selector_without_bounds_takes_the_first_result():
    results = [_result("running", "2026-01-02T00:00:00.000Z"), _result("success", "2026-01-01T00:00:00.000Z")]
    assert CDIJobSelector().pick(results).job_status == "running"


def test_selector_takes_the_earliest_job_within_its_bounds_whatever_the_order():
    results = [
        _result("running", "2026-01-03T00:00:00Z"),
        _result("error", "2026-01-02T00:00:00Z"),
        _result("success", "2026-01-01T00:00:00Z"),
    ]
    assert CDIJobSelector(after="2026-01-01T00:00:00Z").pick(results).job_status == "error"
    assert CDIJobSelector(sync_start_time="2026-01-01T00:00:00+00:00").pick(results).job_status == "success"
    assert CDIJobSelector(after="2026-01-03T00:00:00Z").pick(results) is None


def test_selector_refuses_a_bound_that_is_not_a_time():
    with pytest.raises(ValueError, match="ISO 8601"):
        CDIJobSelector(sync_start_time="yesterday")


def test_unknown_job_status_is_not_terminal():
    job = CDIJob.from_result({"job_status": "queued"})
    assert job.status is None and not job.is_terminal
