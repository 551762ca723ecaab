"""BrazeRightsRequestsOperator end to end: Ketch rights requests carried out in Braze, reported to Ketch."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowException

from airflow_provider_braze.operators import BrazeRightsRequestsOperator
from tests.helpers.ketch import GROUPS, seed_braze_users


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
    assert store.rights.get_rights_request(request_id).notified_status == "completed"


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
    from airflow_provider_braze.ketch import rights_service as rights
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
    assert store.rights.get_rights_request(request_id).status == "completed"
    monkeypatch.setattr(rights, "post_status_event", real_post)

    assert handle()["notified_again"] == 1
    assert statuses(ketch, request_id)[-1] == ("completed", "executed")
    assert len(braze.requests.records(endpoint="users/delete")) == 1


def kinds_heard(ketch, request_id) -> set[str]:
    return {c.kind for c in ketch.callbacks(request_id)}


def test_correction_request_writes_the_corrected_details_to_the_profile(ketch, braze):
    seed_braze_users(braze, emails=["ada@example.com", "grace@example.com"])
    subject = {
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "King",
        "city": "London",
        "countryCode": "gb",
    }
    request_id = ketch.send_correction_request(["ada@example.com"], subject).uid

    summary = handle()

    assert summary["corrected"] == 1 and summary["failed"] == 0
    ada = braze.store.find_user(email="ada@example.com")
    assert {k: ada.attributes.get(k) for k in ("first_name", "last_name", "home_city", "country")} == {
        "first_name": "Ada",
        "last_name": "King",
        "home_city": "London",
        "country": "GB",
    }
    assert braze.store.find_user(email="grace@example.com").attributes.get("last_name") is None
    assert statuses(ketch, request_id) == [("in_progress", "requested"), ("completed", "executed")]
    assert kinds_heard(ketch, request_id) == {"CorrectionStatusEvent"}
    message = ketch.callbacks(request_id)[-1].event.event.result_message
    assert message == "1 Braze profile(s) corrected: country, first_name, home_city, last_name."
    track = braze.requests.records(endpoint="users/track")[-1]  # after the seeding
    assert (track.status, track.objects) == (201, 1)


def test_correction_with_a_form_field_and_an_invalid_country_names_what_it_left_out(ketch, braze):
    seed_braze_users(braze, emails=["ada@example.com"])
    subject = {"email": "ada@example.com", "countryCode": "Atlantis", "formData": {"nickname": "Countess"}}
    request_id = ketch.send_correction_request(["ada@example.com"], subject).uid

    handle(correction_fields={"countryCode": "country", "formData.nickname": "nickname"})

    ada = braze.store.find_user(email="ada@example.com")
    assert ada.custom_attributes["nickname"] == "Countess" and ada.attributes.get("country") is None
    message = ketch.callbacks(request_id)[-1].event.event.result_message
    assert message == ("1 Braze profile(s) corrected: nickname. countryCode is not a valid value for Braze's country.")
    assert "Atlantis" not in message  # the reason never repeats the value


def test_correction_with_nothing_usable_completes_with_the_reason_and_sends_nothing(ketch, braze):
    seed_braze_users(braze, emails=["ada@example.com"])
    request_id = ketch.send_correction_request(["ada@example.com"], {"email": "ada@example.com", "firstName": "  "}).uid
    seeded = len(braze.requests.records(endpoint="users/track"))

    assert handle()["nothing_to_correct"] == 1

    assert statuses(ketch, request_id)[-1] == ("completed", "unknown")
    assert ketch.callbacks(request_id)[-1].event.event.result_message == "Nothing to correct in Braze."
    assert len(braze.requests.records(endpoint="users/track")) == seeded


def test_restrict_processing_unsubscribes_the_profile_from_all(ketch, braze):
    seed_braze_users(braze, emails=["ada@example.com", "grace@example.com"])
    request_id = ketch.send_restrict_processing_request(["ada@example.com"], ["advertising", "analytics"]).uid
    sms_groups = [GROUPS["newsletter"]["sms"], GROUPS["offers"]["sms"]]

    summary = handle(restriction_subscription_groups=sms_groups)

    assert summary["restricted"] == 1
    ada = braze.store.find_user(email="ada@example.com")
    assert (ada.email_subscribe, ada.push_subscribe) == ("unsubscribed", "unsubscribed")
    assert ada.subscription_groups == dict.fromkeys(sms_groups, "unsubscribed")
    grace = braze.store.find_user(email="grace@example.com")
    assert grace.email_subscribe != "unsubscribed" and grace.subscription_groups == {}
    assert statuses(ketch, request_id) == [("in_progress", "requested"), ("completed", "executed")]
    assert kinds_heard(ketch, request_id) == {"RestrictProcessingStatusEvent"}
    assert "Braze cannot restrict processing per purpose" in ketch.callbacks(request_id)[-1].event.event.result_message


def test_restriction_of_an_unknown_user_is_no_match_and_creates_no_profile(ketch, braze):
    request_id = ketch.send_restrict_processing_request(["nobody@example.com"]).uid
    assert handle()["no_match"] == 1
    assert statuses(ketch, request_id)[-1] == ("completed", "no_match")
    assert braze.store.find_user(email="nobody@example.com") is None
    assert braze.requests.records(endpoint="users/track") == []


def test_kinds_left_out_wait_for_another_task(ketch, braze, store):
    seed_braze_users(braze, emails=["ada@example.com"])
    correction_id = ketch.send_correction_request(
        ["ada@example.com"], {"email": "ada@example.com", "lastName": "K"}
    ).uid
    delete_id = ketch.send_delete_request(["ada@example.com"], "ada@example.com").uid

    assert handle(kinds=["CorrectionRequest"])["corrected"] == 1

    assert store.rights.get_rights_request(delete_id).status == "pending"
    assert store.rights.get_rights_request(correction_id).status == "completed"
    assert handle(kinds=["DeleteRequest"])["deleted"] == 1
