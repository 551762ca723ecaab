"""Cloud Data Ingestion in the sandbox: listing, sync jobs, job status paging."""

from __future__ import annotations

import time
import uuid

import requests


def _follow(braze, response) -> requests.Response:
    return braze.session.get(response.links["next"]["url"], timeout=5)


def test_integrations_list_pages_by_10_with_link_header(braze_sandbox, braze):
    ids = [braze_sandbox.add_cdi_integration(integration_name=f"table {i}") for i in range(12)]
    first = braze.get("/cdi/integrations")
    assert len(first.json()["results"]) == 10 and "next" in first.links
    second = _follow(braze, first)
    assert "next" not in second.links and "prev" in second.links
    listed = [r["integration_id"] for r in first.json()["results"] + second.json()["results"]]
    assert listed == ids


def test_integrations_list_of_10_or_fewer_has_no_link_header(braze_sandbox, braze):
    braze_sandbox.add_cdi_integration()
    response = braze.get("/cdi/integrations")
    assert "Link" not in response.headers
    assert set(response.json()["results"][0]) >= {
        "integration_id",
        "app_group_id",
        "integration_name",
        "integration_type",
        "integration_status",
        "contact_emails",
        "last_updated_at",
        "warehouse_type",
        "last_job_start_time",
        "last_job_status",
        "next_scheduled_run",
    }


def test_invalid_cursor_is_400(braze):
    response = braze.get("/cdi/integrations", {"cursor": "!!nope"})
    assert (response.status_code, response.json()["message"]) == (400, "Invalid cursor")


def test_sync_is_202_and_a_second_sync_while_running_is_429_another_job(braze_sandbox, braze):
    integration = braze_sandbox.add_cdi_integration(job_duration=5)
    first = braze.post(f"/cdi/integrations/{integration}/sync")
    second = braze.post(f"/cdi/integrations/{integration}/sync")
    assert (first.status_code, first.json()) == (202, {"message": "success"})
    assert (second.status_code, second.json()) == (429, {"message": "Another job is in progress"})
    assert second.headers["X-RateLimit-Remaining"] != "0"


def test_job_runs_then_reports_its_configured_outcome(braze_sandbox, braze):
    integration = braze_sandbox.add_cdi_integration(
        job_duration=0.3, job_status="partial", rows_synced=80, rows_failed=20
    )
    braze.post(f"/cdi/integrations/{integration}/sync")
    running = braze.get(f"/cdi/integrations/{integration}/job_sync_status").json()["results"][0]
    time.sleep(0.35)
    done = braze.get(f"/cdi/integrations/{integration}/job_sync_status").json()["results"][0]
    assert running["job_status"] == "running" and running["sync_finish_time"] is None
    assert (done["job_status"], done["rows_synced"], done["rows_failed_with_errors"]) == ("partial", 80, 20)
    assert done["sync_finish_time"] is not None and done["last_timestamp_synced"] is not None


def test_error_outcome_syncs_no_rows(braze_sandbox, braze):
    integration = braze_sandbox.add_cdi_integration(job_duration=0, job_status="error")
    braze.post(f"/cdi/integrations/{integration}/sync")
    job = braze.get(f"/cdi/integrations/{integration}/job_sync_status").json()["results"][0]
    assert (job["job_status"], job["rows_synced"]) == ("error", 0)


def test_job_sync_status_lists_newest_first_10_per_page(braze_sandbox, braze):
    integration = braze_sandbox.add_cdi_integration(job_duration=0)
    for outcome in ["success"] * 10 + ["config_error"]:
        braze_sandbox.configure_cdi_integration(integration, job_status=outcome)
        assert braze.post(f"/cdi/integrations/{integration}/sync").status_code == 202
    first = braze.get(f"/cdi/integrations/{integration}/job_sync_status")
    second = _follow(braze, first)
    assert len(first.json()["results"]) == 10 and len(second.json()["results"]) == 1
    assert first.json()["results"][0]["job_status"] == "config_error"
    starts = [j["sync_start_time"] for j in first.json()["results"] + second.json()["results"]]
    assert starts == sorted(starts, reverse=True)


def test_integration_list_shows_the_last_job(braze_sandbox, braze):
    integration = braze_sandbox.add_cdi_integration(job_duration=0)
    braze.post(f"/cdi/integrations/{integration}/sync")
    row = braze.get("/cdi/integrations").json()["results"][0]
    assert row["last_job_status"] == "success" and row["last_job_start_time"] is not None


def test_sync_of_unknown_integration_is_404_and_malformed_id_is_400(braze):
    unknown = braze.post(f"/cdi/integrations/{uuid.uuid4()}/sync")
    malformed = braze.post("/cdi/integrations/not-a-uuid/sync")
    assert (unknown.status_code, unknown.json()["message"]) == (404, "Integration not found")
    assert (malformed.status_code, malformed.json()["message"]) == (400, "Invalid integration ID")


def test_job_status_of_unknown_integration_is_400(braze):
    response = braze.get(f"/cdi/integrations/{uuid.uuid4()}/job_sync_status")
    assert (response.status_code, response.json()["message"]) == (400, "Invalid integration ID")


def test_cdi_integration_can_be_added_over_http(braze_sandbox, braze):
    reply = requests.post(
        braze_sandbox.url + "/_sandbox/cdi/integrations", json={"integration_name": "orders"}, timeout=5
    )
    integration = reply.json()["integration_id"]
    assert braze.post(f"/cdi/integrations/{integration}/sync").status_code == 202
