"""BrazeRightsRequestsOperator end to end: Ketch rights requests carried out in Braze, reported to Ketch."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_braze.operators import BrazeRightsRequestsOperator
from tests.ketch_sync.conftest import seed_braze_users


def handle(**kwargs) -> dict:
    return BrazeRightsRequestsOperator(task_id="rights", **kwargs).execute(context={})


def statuses(ketch, request_id) -> list[tuple[str, str]]:
    return [(c.event.event.status, c.event.event.reason) for c in ketch.callbacks(request_id)]


def test_delete_request_removes_the_user_and_ketch_hears_completed(ketch, braze, store):
    seed_braze_users(braze, emails=["ada@example.com", "grace@example.com"])
    request_id = ketch.send_delete_request(["ada@example.com"], "ada@example.com").uid

    summary = handle()

    assert summary["deleted"] == 1
    assert braze.store.find_user(email="ada@example.com") is None
    assert braze.store.find_user(email="grace@example.com") is not None
    assert statuses(ketch, request_id) == [("in_progress", "requested"), ("completed", "executed")]
    assert store.get_rights_request(request_id).notified_status == "completed"


def test_access_request_returns_the_exported_profile_to_the_callback(ketch, braze):
    seed_braze_users(braze, emails=["ada@example.com"])
    request_id = ketch.send_access_request(["ada@example.com"], "ada@example.com").uid

    assert handle()["exported"] == 1

    assert statuses(ketch, request_id)[-1] == ("completed", "executed")
    (user,) = ketch.access_document(request_id)["users"]
    assert user["email"] == "ada@example.com" and user["external_id"] == "seed-ada@example.com"
    assert braze.store.find_user(email="ada@example.com") is not None  # access deletes nothing


def test_unknown_user_is_reported_no_match(ketch, braze):
    request_id = ketch.send_delete_request(["nobody@example.com"], "nobody@example.com").uid
    assert handle()["no_match"] == 1
    assert statuses(ketch, request_id)[-1] == ("completed", "no_match")
    assert braze.requests.records(endpoint="users/delete") == []


def test_completed_requests_are_not_handled_twice(ketch, braze):
    seed_braze_users(braze, emails=["ada@example.com"])
    ketch.send_delete_request(["ada@example.com"], "ada@example.com")
    handle()
    assert handle()["handled"] == 0


def test_a_failed_callback_is_retried_on_the_next_run_without_redoing_the_work(ketch, braze, store, monkeypatch):
    import airflow_provider_braze.operators.rights as rights
    from airflow_provider_braze.ketch.callbacks import CallbackError

    seed_braze_users(braze, emails=["ada@example.com"])
    request_id = ketch.send_delete_request(["ada@example.com"], "ada@example.com").uid
    real_post = rights.post_status_event

    def fail_on_completed(session, callback, event, **kw):
        if event.event.status == "completed":
            raise CallbackError("callback unreachable")
        return real_post(session, callback, event, **kw)

    monkeypatch.setattr(rights, "post_status_event", fail_on_completed)
    with pytest.raises(AirflowException, match=request_id):
        handle()
    assert store.get_rights_request(request_id).status == "completed"
    monkeypatch.setattr(rights, "post_status_event", real_post)

    assert handle()["notified_again"] == 1
    assert statuses(ketch, request_id)[-1] == ("completed", "executed")
    assert len(braze.requests.records(endpoint="users/delete")) == 1
