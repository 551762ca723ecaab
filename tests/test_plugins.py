"""The receiver plugin: mounted by the Airflow API server's own code, it stores webhooks sent with the token."""

from __future__ import annotations

import logging

from airflow.plugins_manager import AirflowPlugin
from fastapi import FastAPI
from fastapi.testclient import TestClient

from airflow_provider_braze import plugins
from airflow_provider_braze.plugins import KetchReceiverPlugin, LazyKetchReceiver
from tests.helpers.ketch import set_ketch_connection
from tests.helpers.ketch_payloads import topic_request
from tests.helpers.secrets import TEST_KETCH_TOKEN

AUTH = {"Authorization": f"Bearer {TEST_KETCH_TOKEN}"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def api_server_with(receiver: LazyKetchReceiver, monkeypatch) -> TestClient:
    """An app standing for the API server, with the plugin mounted by Airflow's ``init_plugins``."""
    from airflow import plugins_manager
    from airflow.api_fastapi.app import init_plugins

    entry = {**KetchReceiverPlugin.fastapi_apps[0], "app": receiver}
    monkeypatch.setattr(plugins_manager, "get_fastapi_plugins", lambda: ([entry], []))
    app = FastAPI()

    @app.get("/api/v2/version")
    def version() -> dict:
        return {"version": "test"}

    init_plugins(app)
    return TestClient(app)


def test_the_plugin_mounts_the_receiver_at_ketch():
    assert issubclass(KetchReceiverPlugin, AirflowPlugin)
    assert KetchReceiverPlugin.name == "braze_ketch_receiver"
    (entry,) = KetchReceiverPlugin.fastapi_apps
    assert entry["url_prefix"] == "/ketch" and entry["name"] == "Ketch webhook receiver"
    assert entry["app"] is plugins.ketch_receiver and isinstance(entry["app"], LazyKetchReceiver)


def test_the_plugins_receiver_uses_ketch_default_unless_configured(monkeypatch):
    assert plugins.ketch_receiver.conn_id == "ketch_default"
    monkeypatch.setenv("AIRFLOW__KETCH__RECEIVER_CONN_ID", "ketch_webhooks")
    assert plugins.ketch_receiver.conn_id == "ketch_webhooks"


def test_a_webhook_with_the_right_token_is_stored(ketch_conn, store, monkeypatch):
    client = api_server_with(LazyKetchReceiver("ketch_default"), monkeypatch)
    body = topic_request(uid="via-plugin")
    response = client.post("/ketch/webhook", json=body, headers=AUTH)
    assert response.status_code == 202
    stored = store.get_event("via-plugin")
    assert stored is not None and stored.kind == "SubscriptionTopicRequest"
    assert store.unsynced_range().count == 1


def test_a_wrong_token_is_refused_and_nothing_stored(ketch_conn, store, monkeypatch):
    client = api_server_with(LazyKetchReceiver("ketch_default"), monkeypatch)
    response = client.post("/ketch/webhook", json=topic_request(uid="intruder"), headers={"Authorization": "Bearer no"})
    assert response.status_code == 401
    assert store.get_event("intruder") is None


def test_health_reports_a_reachable_store(ketch_conn, monkeypatch):
    client = api_server_with(LazyKetchReceiver("ketch_default"), monkeypatch)
    assert client.get("/ketch/health").json() == {"status": "ok"}


def test_the_connections_body_limit_applies(ketch_conn, monkeypatch):
    ketch_conn(extra={"max_body_bytes": 2048})
    client = api_server_with(LazyKetchReceiver("ketch_default"), monkeypatch)
    body = topic_request(uid="big", topics={f"topic{i}": {"email": {"status": "granted"}} for i in range(100)})
    assert client.post("/ketch/webhook", json=body, headers=AUTH).status_code == 413


def test_without_a_connection_the_server_runs_and_the_receiver_answers_503(monkeypatch, state_url, store, caplog):
    monkeypatch.delenv("AIRFLOW_CONN_KETCH_DEFAULT", raising=False)
    clock = FakeClock()
    client = api_server_with(LazyKetchReceiver("ketch_default", retry_seconds=10, clock=clock), monkeypatch)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_braze.plugins"):
        response = client.post("/ketch/webhook", json=topic_request(uid="early"), headers=AUTH)
    assert response.status_code == 503 and response.headers["Retry-After"] == "10"
    assert response.json()["error"] == {
        "code": 503,
        "status": "unavailable",
        "message": "the Ketch receiver is not configured",
    }
    assert "Ketch webhook receiver unavailable" in caplog.text and "ketch_default" in caplog.text
    assert client.get("/api/v2/version").status_code == 200  # the rest of the server is unaffected

    # Created later, the connection is picked up after the pause, without a restart.
    set_ketch_connection(monkeypatch, extra={"state_url": state_url})
    assert client.post("/ketch/webhook", json=topic_request(uid="early"), headers=AUTH).status_code == 503
    clock.now += 11
    assert client.post("/ketch/webhook", json=topic_request(uid="early"), headers=AUTH).status_code == 202
    assert store.get_event("early") is not None


def test_a_connection_without_a_token_is_not_served(ketch_conn, monkeypatch, caplog):
    ketch_conn(password=None)
    client = api_server_with(LazyKetchReceiver("ketch_default"), monkeypatch)
    with caplog.at_level(logging.WARNING, logger="airflow_provider_braze.plugins"):
        response = client.post("/ketch/webhook", json=topic_request(), headers={"Authorization": "Bearer "})
    assert response.status_code == 503
    assert "no webhook bearer token" in caplog.text


def test_served_alone_it_answers_lifespan_events(ketch_conn, store):
    with TestClient(LazyKetchReceiver("ketch_default")) as client:
        assert client.post("/webhook", json=topic_request(uid="alone"), headers=AUTH).status_code == 202
    assert store.get_event("alone") is not None
