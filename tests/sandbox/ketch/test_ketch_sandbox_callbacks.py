"""Rights request callbacks: the sandbox records status events as Ketch would, and refuses what Ketch refuses."""

from __future__ import annotations

import base64

import requests

from airflow_provider_braze.ketch.models import (
    AccessResult,
    AccessStatusBody,
    AccessStatusEvent,
    DeleteStatusEvent,
    DSRStatusBody,
    Metadata,
)
from tests.helpers.secrets import CALLBACK_TOKEN

EMAIL = "ada@example.com"


def delete_event(uid: str, status: str, reason: str | None = None) -> dict:
    return DeleteStatusEvent(
        metadata=Metadata(uid=uid, tenant="axonic"), event=DSRStatusBody(status=status, reason=reason, request_id=uid)
    ).to_dict()


def access_event(uid: str, status: str, reason: str | None = None, results: list[AccessResult] | None = None) -> dict:
    body = AccessStatusBody(status=status, reason=reason, request_id=uid, results=results)
    return AccessStatusEvent(metadata=Metadata(uid=uid, tenant="axonic"), event=body).to_dict()


def post_callback(url: str, body, headers: dict | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {CALLBACK_TOKEN}"} if headers is None else headers
    return requests.post(url, json=body, headers=headers, timeout=10)


def test_status_events_posted_to_the_stored_callback_are_recorded_in_order(ketch, store):
    uid = ketch.send_delete_request(EMAIL).uid
    (callback,) = store.rights.get_rights_request(uid).callbacks  # what the provider will use
    for status, reason in [("in_progress", None), ("completed", "executed")]:
        answer = post_callback(callback.url, delete_event(uid, status, reason), headers=callback.headers)
        assert answer.status_code == 200
    assert answer.json() == {"requestID": uid, "status": "completed", "events": 2}
    assert [(e.kind, e.status, e.reason) for e in ketch.callbacks(uid)] == [
        ("DeleteStatusEvent", "in_progress", None),
        ("DeleteStatusEvent", "completed", "executed"),
    ]


def test_a_wrong_or_missing_callback_token_is_401_and_not_recorded(ketch):
    uid = ketch.send_delete_request(EMAIL).uid
    url = ketch.callback_url(uid)
    assert post_callback(url, delete_event(uid, "in_progress"), {"Authorization": "Bearer wrong"}).status_code == 401
    answer = post_callback(url, delete_event(uid, "in_progress"), {})
    assert answer.status_code == 401 and answer.json()["error"]["status"] == "forbidden"
    assert ketch.callbacks(uid) == []


def test_nothing_is_accepted_once_completed(ketch):
    uid = ketch.send_delete_request(EMAIL).uid
    url = ketch.callback_url(uid)
    assert post_callback(url, delete_event(uid, "completed", "executed")).status_code == 200
    answer = post_callback(url, delete_event(uid, "in_progress"))
    assert answer.status_code == 409 and answer.json()["error"]["status"] == "conflict"
    assert post_callback(url, delete_event(uid, "completed", "executed")).status_code == 409
    assert [e.status for e in ketch.callbacks(uid)] == ["completed"]


def test_an_unknown_request_is_404(web_only):
    answer = post_callback(f"{web_only.url}/callbacks/no-such-request", delete_event("no-such-request", "pending"))
    assert answer.status_code == 404


def test_the_event_kind_must_match_the_request(ketch):
    uid = ketch.send_delete_request(EMAIL).uid
    answer = post_callback(ketch.callback_url(uid), access_event(uid, "in_progress"))
    assert answer.status_code == 400 and "DeleteStatusEvent" in answer.json()["error"]["message"]


def test_the_event_must_carry_the_request_uid(ketch):
    uid = ketch.send_delete_request(EMAIL).uid
    answer = post_callback(ketch.callback_url(uid), delete_event("another-uid", "in_progress"))
    assert answer.status_code == 400 and "metadata.uid" in answer.json()["error"]["message"]


def test_an_invalid_status_event_is_400(ketch):
    uid = ketch.send_delete_request(EMAIL).uid
    body = delete_event(uid, "in_progress")
    body["event"]["status"] = "finished"
    answer = post_callback(ketch.callback_url(uid), body)
    assert answer.status_code == 400 and "event.status" in answer.json()["error"]["message"]
    assert ketch.callbacks(uid) == []


def test_inline_access_results_are_decoded(ketch):
    uid = ketch.send_access_request(EMAIL).uid
    document = {"users": [{"email": EMAIL, "first_name": "Ada"}]}
    pdf = AccessResult(data=base64.b64encode(b"%PDF-1.4 x").decode(), headers={"Content-Type": "application/pdf"})
    event = access_event(uid, "completed", "executed", [AccessResult.inline_json(document), pdf])
    assert post_callback(ketch.callback_url(uid), event).status_code == 200
    assert ketch.access_results(uid) == [document, b"%PDF-1.4 x"]


def test_json_results_are_merged_across_events_with_merge_patch(ketch):
    uid = ketch.send_access_request(EMAIL).uid
    url = ketch.callback_url(uid)
    first = AccessResult.inline_json({"profile": {"email": EMAIL, "phone": "+15550000001"}, "events": 3})
    second = AccessResult.inline_json({"profile": {"phone": None, "country": "GB"}})
    post_callback(url, access_event(uid, "in_progress", results=[first]))
    post_callback(url, access_event(uid, "completed", "executed", [second]))
    assert ketch.access_document(uid) == {"profile": {"email": EMAIL, "country": "GB"}, "events": 3}


def test_inspection_shows_callbacks_with_credentials_masked(ketch):
    uid = ketch.send_access_request(EMAIL).uid
    results = [AccessResult.inline_json({"a": 1})]
    post_callback(ketch.callback_url(uid), access_event(uid, "completed", "executed", results))
    post_callback(ketch.callback_url(uid), access_event(uid, "completed"), {"Authorization": "Bearer wrong"})
    answer = requests.get(f"{ketch.url}/_sandbox/state", timeout=10)
    state = answer.json()
    (request,) = state["rights_requests"]
    assert request["request_id"] == uid and request["completed"] and request["access_document"] == {"a": 1}
    assert [r["code"] for r in state["refused_callbacks"]] == [401]
    assert state["webhooks"][0]["body"]["request"]["callbacks"][0]["headers"] == {"Authorization": "***"}
    assert CALLBACK_TOKEN not in answer.text
    one = requests.get(f"{ketch.url}/_sandbox/callbacks/{uid}", timeout=10).json()
    assert [e["status"] for e in one["events"]] == ["completed"]


def test_callback_url_can_point_elsewhere(web_only):
    web_only.callback_base_url = "https://ketch.example"
    try:
        assert web_only.callback_url("r1") == "https://ketch.example/callbacks/r1"
    finally:
        web_only.callback_base_url = None
