"""The sandbox's HTTP edge: authentication, permissions, routing, body size and shape, the request log."""

from __future__ import annotations

import http.client
import json
import logging

import requests

from airflow_provider_braze.braze.endpoints import CATALOGUE
from airflow_provider_braze.sandbox.braze.handlers import handler_for

ONE_ATTRIBUTE = {"attributes": [{"external_id": "u1", "first_name": "Ada"}]}


def test_missing_authorization_is_401_and_nothing_applied(braze_sandbox, braze_client_for):
    response = braze_client_for(None).post("/users/track", ONE_ATTRIBUTE)
    assert response.status_code == 401
    assert "message" in response.json()
    assert braze_sandbox.store.users() == []


def test_unknown_key_is_401(braze_client_for):
    assert braze_client_for("nope").post("/users/track", ONE_ATTRIBUTE).status_code == 401


def test_quoted_key_is_401(braze_client_for):
    assert braze_client_for('"test-key-all"').post("/users/track", ONE_ATTRIBUTE).status_code == 401
    assert braze_client_for("'test-key-all'").post("/users/track", ONE_ATTRIBUTE).status_code == 401


def test_legacy_api_key_query_parameter_is_refused(braze_sandbox, braze_client_for, monkeypatch):
    client = braze_client_for(None)
    # This request puts a valid key in the URL on purpose; keep urllib3 from logging that URL.
    monkeypatch.setattr(logging.getLogger("urllib3.connectionpool"), "level", logging.INFO)
    response = client.post("/users/track", ONE_ATTRIBUTE, params={"api_key": "test-key-all"})
    assert response.status_code == 401


def test_401_carries_no_rate_limit_headers(braze_client_for):
    response = braze_client_for("nope").post("/users/track", ONE_ATTRIBUTE)
    assert "X-RateLimit-Limit" not in response.headers


def test_key_without_permission_is_403_access_denied(braze_sandbox, braze_client_for):
    response = braze_client_for("test-key-track").post("/users/delete", {"external_ids": ["u1"]})
    assert response.status_code == 403
    assert response.json() == {"message": "Access Denied"}


def test_key_with_permission_is_accepted(braze_sandbox, braze_client_for):
    response = braze_client_for("test-key-track").post("/users/track", ONE_ATTRIBUTE)
    assert response.status_code == 201
    assert braze_sandbox.store.find_user(external_id="u1").attributes["first_name"] == "Ada"


def test_unknown_path_is_404(braze):
    assert braze.post("/users/merge", {}).status_code == 404


def test_known_path_with_wrong_method_is_404(braze):
    assert braze.get("/users/track").status_code == 404


def test_trailing_slash_is_not_routed(braze):
    assert braze.post("/users/track/", ONE_ATTRIBUTE).status_code == 404


def test_body_over_4_mb_is_413_and_nothing_applied(braze_sandbox, braze):
    body = json.dumps({"attributes": [{"external_id": "big", "note": "x" * 200}]}).encode()
    body = body[:-1] + b" " * (4_100_000 - len(body)) + b"}"
    assert len(body) == 4_100_000
    response = braze.session.post(
        braze.url + "/users/track", data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 413
    assert braze_sandbox.store.users() == []


def test_connection_stays_usable_after_a_413(braze):
    big = b"{" + b" " * 4_000_001 + b"}"
    first = braze.session.post(braze.url + "/users/track", data=big, headers={"Content-Type": "application/json"})
    second = braze.post("/users/track", ONE_ATTRIBUTE)
    assert (first.status_code, second.status_code) == (413, 201)


def test_body_of_exactly_4_mb_is_accepted(braze_sandbox, braze):
    body = json.dumps(ONE_ATTRIBUTE).encode()
    body = body[:-1] + b" " * (4_000_000 - len(body)) + b"}"
    response = braze.session.post(braze.url + "/users/track", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201


def test_chunked_body_over_the_limit_is_413(braze):
    def chunks():
        yield b'{"attributes": ['
        for _ in range(5):
            yield b" " * 1_000_000
        yield b"]}"

    response = braze.session.post(
        braze.url + "/users/track", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_non_json_body_is_400(braze_sandbox, braze):
    response = braze.session.post(
        braze.url + "/users/track", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert braze_sandbox.store.users() == []


def test_json_array_body_is_400(braze):
    assert braze.post("/users/track", [ONE_ATTRIBUTE]).status_code == 400


def test_body_without_json_content_type_is_400(braze):
    response = braze.session.post(
        braze.url + "/users/track", data=json.dumps(ONE_ATTRIBUTE), headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 400


def test_body_key_that_is_not_an_array_is_400(braze):
    assert braze.post("/users/track", {"attributes": {"external_id": "u1"}}).status_code == 400


def test_one_keep_alive_connection_serves_many_requests(braze_sandbox):
    conn = http.client.HTTPConnection("127.0.0.1", braze_sandbox.port, timeout=5)
    conn.connect()
    first_socket = conn.sock
    for i in range(3):
        body = json.dumps({"attributes": [{"external_id": f"k{i}"}]})
        conn.request(
            "POST", "/users/track", body, {"Authorization": "Bearer test-key-all", "Content-Type": "application/json"}
        )
        response = conn.getresponse()
        response.read()
        assert response.status == 201
    assert conn.sock is first_socket
    conn.close()
    assert {u.external_id for u in braze_sandbox.store.users()} == {"k0", "k1", "k2"}


def test_request_log_records_each_request_with_a_masked_key(braze_sandbox, braze):
    braze.post("/users/track", {"attributes": [{"external_id": "a"}, {"external_id": "b"}], "events": []})
    record = braze_sandbox.requests.records()[-1]
    assert (record.method, record.path, record.endpoint, record.status, record.objects) == (
        "POST",
        "/users/track",
        "users/track",
        201,
        2,
    )
    assert record.key == "test…"
    assert "test-key-all" not in json.dumps(record.to_dict())


def test_every_catalogue_endpoint_has_a_handler():
    assert [name for name in CATALOGUE if handler_for(name) is None] == []


def test_inspection_state_reports_users_and_data_points(braze_sandbox, braze):
    braze.post("/users/track", ONE_ATTRIBUTE)
    state = requests.get(braze_sandbox.url + "/_sandbox/state", timeout=5).json()
    assert [u["external_id"] for u in state["users"]] == ["u1"]
    assert state["data_points"] == 1


def test_inspection_requests_lists_braze_traffic_only(braze_sandbox, braze):
    braze.post("/users/track", ONE_ATTRIBUTE)
    requests.get(braze_sandbox.url + "/_sandbox/state", timeout=5)
    listed = requests.get(braze_sandbox.url + "/_sandbox/requests", timeout=5).json()["requests"]
    assert [r["path"] for r in listed] == ["/users/track"]


def test_inspection_reset_forgets_everything(braze_sandbox, braze):
    braze.post("/users/track", ONE_ATTRIBUTE)
    assert requests.post(braze_sandbox.url + "/_sandbox/reset", timeout=5).status_code == 200
    assert braze_sandbox.store.users() == [] and len(braze_sandbox.requests) == 0


def test_inspection_endpoints_need_no_key_and_do_not_count_against_limits(braze_sandbox, braze):
    braze_sandbox.set_rate_limit("default", limit=1, period=3600)
    for _ in range(3):
        assert requests.get(braze_sandbox.url + "/_sandbox/state", timeout=5).status_code == 200
    assert braze.get("/email/hard_bounces", {"end_date": "2030-01-01", "start_date": "2020-01-01"}).status_code == 200


def test_inspection_rate_limits_can_be_set_over_http(braze_sandbox, braze):
    requests.post(
        braze_sandbox.url + "/_sandbox/rate_limits", json={"users_track": {"limit": 7, "period": 60}}, timeout=5
    )
    assert braze.post("/users/track", ONE_ATTRIBUTE).headers["X-RateLimit-Limit"] == "7"


def test_server_binds_loopback_only(braze_sandbox):
    assert braze_sandbox.url.startswith("http://127.0.0.1:")


def test_api_key_never_reaches_the_sandbox_logs(braze_sandbox, braze, braze_client_for, caplog):
    caplog.set_level("DEBUG")
    braze.post("/users/track", ONE_ATTRIBUTE)
    braze_client_for("test-key-all-wrong").post("/users/track", [1])
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("airflow_provider_braze.sandbox")]
    assert ours and not any("test-key-all" in line for line in ours)
