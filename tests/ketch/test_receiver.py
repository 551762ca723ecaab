"""The webhook receiver, through FastAPI's TestClient."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from airflow_provider_braze.ketch.receiver import create_receiver_app
from airflow_provider_braze.state import KetchEventStore
from airflow_provider_braze.state.schema import ketch_events
from tests.helpers.ketch_payloads import (
    EMAIL,
    access_request,
    consent_request,
    control_request,
    delete_request,
    legacy_topic_request,
    rights_request,
    topic_request,
)
from tests.helpers.secrets import RECEIVER_TOKEN

TOKEN = RECEIVER_TOKEN
AUTH = {"Authorization": f"Bearer {TOKEN}"}
URL = "/ketch/webhook"


@pytest.fixture
def store(tmp_path):
    s = KetchEventStore(f"sqlite:///{tmp_path / 'state.db'}", clock=lambda: 1_800_000_000.0)
    yield s
    s.dispose()


@pytest.fixture
def client(store):
    with TestClient(create_receiver_app(store, TOKEN, max_body_bytes=16_384)) as c:
        yield c


def stored(store) -> int:
    store.ensure_schema()
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ketch_events)).scalar_one()


def post(client, body, headers=AUTH, **kwargs):
    headers = {**headers, "Content-Type": "application/json"}
    return client.post(URL, content=json.dumps(body).encode(), headers=headers, **kwargs)


# -- answers per kind --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [topic_request(), legacy_topic_request(), control_request()], ids=["topic", "legacy", "control"]
)
def test_subscription_requests_are_answered_202_and_stored(client, store, body):
    response = post(client, body)
    assert response.status_code == 202
    assert store.get_event(body["metadata"]["uid"]) is not None


def test_consent_request_is_answered_204_and_stored(client, store):
    body = consent_request()
    response = post(client, body)
    assert response.status_code == 204 and response.content == b""
    assert store.get_event(body["metadata"]["uid"]).kind == "ConsentRequest"


def test_delete_request_is_answered_200_with_a_pending_delete_response(client, store):
    body = delete_request(uid="r-1")
    response = post(client, body)
    assert response.status_code == 200
    assert response.json() == {
        "apiVersion": "dsr/v1",
        "kind": "DeleteResponse",
        "metadata": {"uid": "r-1", "tenant": "axonic"},
        "response": {"status": "pending", "reason": "requested", "requestID": "r-1"},
    }
    assert store.rights.get_rights_request("r-1").status == "pending"


def test_access_request_is_answered_200_with_a_pending_access_response(client, store):
    response = post(client, access_request(uid="r-2"))
    assert response.status_code == 200
    assert response.json()["kind"] == "AccessResponse"
    assert response.json()["response"]["status"] == "pending"
    assert store.rights.get_rights_request("r-2").kind == "AccessRequest"


@pytest.mark.parametrize(
    ("kind", "answer"),
    [("CorrectionRequest", "CorrectionResponse"), ("RestrictProcessingRequest", "RestrictProcessingResponse")],
)
def test_correction_and_restriction_are_answered_200_with_their_pending_response_and_stored(
    client, store, kind, answer
):
    response = post(client, rights_request(kind, uid="r-3"))
    assert response.status_code == 200
    assert response.json() == {
        "apiVersion": "dsr/v1",
        "kind": answer,
        "metadata": {"uid": "r-3", "tenant": "axonic"},
        "response": {"status": "pending", "reason": "requested", "requestID": "r-3"},
    }
    assert store.rights.get_rights_request("r-3").kind == kind
    assert [r.request_id for r in store.rights.pending_rights_requests()] == ["r-3"]


def test_event_is_committed_before_the_answer(client, tmp_path):
    post(client, topic_request(uid="u-durable"))
    other = KetchEventStore(f"sqlite:///{tmp_path / 'state.db'}")  # another connection sees it at once
    assert other.get_event("u-durable") is not None
    other.dispose()


def test_received_at_comes_from_the_receiver_clock(store):
    app = create_receiver_app(store, TOKEN, clock=lambda: 1_234.5)
    with TestClient(app) as c:
        post(c, topic_request(uid="u-clock"))
    assert store.get_event("u-clock").received_at == 1_234.5


# -- repeated uid -------------------------------------------------------------------------------------


def test_repeated_uid_is_answered_the_same_and_stored_once(client, store):
    body = topic_request(uid="u-again")
    assert [post(client, body).status_code for _ in range(3)] == [202, 202, 202]
    assert stored(store) == 1


def test_repeated_rights_request_answers_its_current_status(client, store):
    body = delete_request(uid="r-again")
    assert post(client, body).json()["response"]["status"] == "pending"
    store.rights.update_rights_request("r-again", "in_progress", expected_completion_at=1_900_000_000)
    again = post(client, body)
    assert again.status_code == 200
    assert again.json()["response"] == {
        "status": "in_progress",
        "requestID": "r-again",
        "expectedCompletionTimestamp": 1_900_000_000,
    }
    assert stored(store) == 1


def test_uid_reused_by_another_kind_is_a_conflict(client, store):
    post(client, topic_request(uid="u-shared"))
    response = post(client, delete_request(uid="u-shared"))
    assert response.status_code == 409 and response.json()["error"]["status"] == "conflict"
    assert store.rights.get_rights_request("u-shared") is None


# -- authentication -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer "},
        {"Authorization": f"{TOKEN}x"},
    ],
    ids=["missing", "wrong", "basic", "empty", "bare-but-wrong"],
)
def test_wrong_or_missing_token_is_401_and_nothing_stored(client, store, headers):
    response = post(client, topic_request(), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["status"] == "forbidden"
    assert stored(store) == 0


@pytest.mark.parametrize(
    "value", [TOKEN, f"Bearer Bearer {TOKEN}", f"  bearer   {TOKEN}  "], ids=["bare", "twice", "spaces"]
)
def test_the_token_is_taken_as_a_ketch_admin_may_have_typed_it(client, store, value):
    assert post(client, topic_request(), headers={"Authorization": value}).status_code == 202
    assert stored(store) == 1


def test_a_configured_token_with_bearer_in_front_is_the_same_token(store):
    app = create_receiver_app(store, f"Bearer {TOKEN}")
    with TestClient(app) as c:
        assert post(c, topic_request(), headers=AUTH).status_code == 202


def test_bearer_scheme_is_case_insensitive(client):
    assert post(client, topic_request(), headers={"Authorization": f"bearer {TOKEN}"}).status_code == 202


def test_any_of_several_tokens_is_accepted_for_rotation(store):
    with TestClient(create_receiver_app(store, ["old-token", "new-token"])) as c:
        assert post(c, topic_request(), headers={"Authorization": "Bearer old-token"}).status_code == 202
        assert post(c, topic_request(), headers={"Authorization": "Bearer new-token"}).status_code == 202
        assert post(c, topic_request(), headers={"Authorization": "Bearer other"}).status_code == 401


def test_authentication_is_checked_before_the_body(client, store):
    response = client.post(URL, content=b"x" * 100_000, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


def test_an_empty_token_is_refused_at_startup(store):
    with pytest.raises(ValueError):
        create_receiver_app(store, "")
    with pytest.raises(ValueError):
        create_receiver_app(store, [])


def test_the_token_and_personal_data_never_reach_the_logs(client, caplog):
    caplog.set_level(logging.DEBUG)
    post(client, topic_request(uid="u-log"))
    post(client, topic_request(), headers={"Authorization": f"Bearer {TOKEN}x"})
    bad = topic_request()
    bad["request"]["identities"][0]["identityFormat"] = EMAIL
    post(client, bad)
    text = caplog.text
    assert "u-log" in text
    assert TOKEN not in text and EMAIL not in text


# -- body size ----------------------------------------------------------------------------------------


def _big_body() -> bytes:
    body = topic_request()
    body["request"]["context"] = {"padding": "x" * 20_000}
    return json.dumps(body).encode()


def test_declared_oversized_body_is_413_and_nothing_stored(client, store):
    response = client.post(URL, content=_big_body(), headers=AUTH)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 413
    assert stored(store) == 0


def test_oversized_body_without_content_length_is_413_and_nothing_stored(client, store):
    data = _big_body()
    chunks = (data[i : i + 4096] for i in range(0, len(data), 4096))
    response = client.post(URL, content=chunks, headers=AUTH)  # chunked: no Content-Length
    assert response.status_code == 413
    assert stored(store) == 0


def test_body_just_under_the_cap_is_accepted(store):
    body = json.dumps(topic_request()).encode()
    with TestClient(create_receiver_app(store, TOKEN, max_body_bytes=len(body))) as c:
        assert c.post(URL, content=body, headers=AUTH).status_code == 202


def test_non_numeric_content_length_is_400(client, store):
    # Sent raw through the ASGI app: HTTP clients refuse to send such a header.
    import asyncio

    app = client.app
    messages = []
    scope = {
        "type": "http",
        "method": "POST",
        "path": URL,
        "raw_path": URL.encode(),
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {TOKEN}".encode()), (b"content-length", b"abc")],
        "http_version": "1.1",
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
    }

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        messages.append(message)

    asyncio.run(app(scope, receive, send))
    assert messages[0]["status"] == 400
    assert stored(store) == 0


# -- invalid bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"{not json", b"", b"[1, 2]", b'{"apiVersion": "subscription/v1"}'])
def test_malformed_body_is_400_and_nothing_stored(client, store, raw):
    response = client.post(URL, content=raw, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["kind"] == "Error" and response.json()["error"]["status"] == "invalid"
    assert stored(store) == 0


def test_invalid_field_is_400_naming_the_field_and_echoing_the_envelope(client, store):
    body = topic_request(uid="u-bad", topics={"news": {"email": {"status": "maybe"}}})
    response = post(client, body)
    assert response.status_code == 400
    error = response.json()
    assert error["apiVersion"] == "subscription/v1" and error["metadata"]["uid"] == "u-bad"
    assert error["error"]["message"].startswith("request.topics.news.email.status:")
    assert stored(store) == 0


def test_error_answers_do_not_repeat_personal_data(client):
    body = topic_request()
    body["request"]["identities"][0]["identityFormat"] = EMAIL
    assert EMAIL not in post(client, body).text


# -- store failures and health ------------------------------------------------------------------------


class BrokenStore:
    def record_event(self, event):
        raise RuntimeError("database is down")

    def ping(self):
        raise RuntimeError("database is down")


def test_store_failure_is_503_so_that_ketch_retries():
    with TestClient(create_receiver_app(BrokenStore(), TOKEN)) as c:
        response = post(c, topic_request())
    assert response.status_code == 503 and response.json()["error"]["status"] == "unavailable"


def test_health_is_ok_with_a_reachable_store(client):
    assert client.get("/ketch/health").json() == {"status": "ok"}


def test_health_is_503_with_an_unreachable_store():
    with TestClient(create_receiver_app(BrokenStore(), TOKEN)) as c:
        assert c.get("/ketch/health").status_code == 503


def test_route_prefix_is_configurable(store):
    with TestClient(create_receiver_app(store, TOKEN, prefix="/hooks/ketch/")) as c:
        assert post(c, topic_request(), headers=AUTH).status_code == 404
        assert c.post("/hooks/ketch/webhook", json=topic_request(), headers=AUTH).status_code == 202
        assert c.get("/hooks/ketch/health").status_code == 200


def test_no_api_docs_are_exposed(client):
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


def test_only_post_is_allowed_on_the_webhook(client):
    assert client.get(URL, headers=AUTH).status_code == 405
